"""Logging set-up shared by every process. Log lines never carry credentials.

PCS_LOG_FORMAT=text (the default) writes lines for a terminal; json writes one JSON object per
line with the time, level, process, logger and message, and the transition ID, task ID, xname and
request ID of the work the line is about, when known (`log_context`).
"""
from __future__ import annotations

import json
import logging
import logging.config
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import datetime, timezone
from typing import Iterator

# What the current thread works on: transition_id, task_id, xname, request_id.
_context: ContextVar[dict] = ContextVar("pcs_log_context", default={})
_process = {"name": "pcs"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"


@contextmanager
def log_context(**fields) -> Iterator[None]:
    """Lines logged inside carry these fields (and the enclosing ones)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def add_log_context(**fields) -> Token:
    """Add fields to the current context, until the enclosing log_context ends or the token
    returned is given to reset_log_context."""
    return _context.set({**_context.get(), **fields})


def reset_log_context(token: Token) -> None:
    _context.reset(token)


class ContextFilter(logging.Filter):
    """Puts the process name and the context on every record, whichever logger made it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.process_name = _process["name"]
        record.pcs_context = _context.get()
        shown = " ".join(f"{k}={v}" for k, v in record.pcs_context.items() if v is not None)
        record.context = f" [{shown}]" if shown else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line. `extra={"fields": {...}}` adds fields (access and audit)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc)
                .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "level": record.levelname,
                "process": getattr(record, "process_name", _process["name"]),
                "pid": record.process, "logger": record.name, "message": record.getMessage()}
        line.update({k: str(v) for k, v in getattr(record, "pcs_context", {}).items()
                     if v is not None})
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "context"):   # a handler without our filter
            record.context = ""
        return super().format(record)


def logging_dict(level: str = "INFO", fmt: str = "text") -> dict:
    """The dictConfig of every pcs process (gunicorn takes it as its logconfig_dict)."""
    formatter = ({"()": JsonFormatter} if fmt == "json"
                 else {"()": TextFormatter, "format": TEXT_FORMAT})
    quiet = {"level": "WARNING", "handlers": [], "propagate": True}
    return {
        "version": 1, "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"pcs": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "pcs",
                                "filters": ["context"], "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            # gunicorn's own loggers go through ours; its access log is off (api/observe.py
            # writes one with the route and request ID).
            "gunicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            # urllib3 logs request lines (never auth headers) at DEBUG only; keep it quiet anyway.
            "urllib3": quiet,
            # Tornado (Flower) logs every request of the UI.
            "tornado.access": quiet,
        },
    }


def configure_logging(level: str = "INFO", fmt: str = "text", process: str | None = None) -> None:
    """Set up the root logger of this process; `process` names it in every line."""
    if process:
        _process["name"] = process
    logging.config.dictConfig(logging_dict(level, fmt))
    logging.captureWarnings(True)   # a library's warning is a log line like any other
    # Celery's own task loggers do not propagate to the root: give them our handler.
    for name in ("celery.task", "celery.redirected"):
        logging.getLogger(name).propagate = True
