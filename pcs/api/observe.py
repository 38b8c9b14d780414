"""What the API tells about each request: a request ID, an access line, an audit line for every
state-changing request, and the request's route, status and time in the metrics.

The audit line names the subject that `flask.g.subject` holds: None until authentication sets it
from the caller's token.
"""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from pcs import metrics
from pcs.logs import add_log_context, reset_log_context

access_log = logging.getLogger("pcs.access")
audit_log = logging.getLogger("pcs.audit")

REQUEST_ID_HEADER = "X-Request-ID"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A client's own request ID is kept when it is a plain token, so that it cannot forge log lines.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
UNMATCHED_ROUTE = "unmatched"


def install(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_end)
    app.teardown_request(_forget)


def _begin() -> None:
    g.started = time.perf_counter()
    if "subject" not in g:   # authentication fills it in, before or after this hook
        g.subject = None
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = offered if _CLIENT_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
    g.log_context = add_log_context(request_id=g.request_id)


def _end(response: Response) -> Response:
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
    status = response.status_code
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    metrics.API_REQUEST_DURATION.labels(request.method, route, str(status)).observe(seconds)
    who = {"remote_addr": request.remote_addr,
           "user_agent": request.headers.get("User-Agent", "")}
    access_log.info("%s %s %s %.1f ms", request.method, request.full_path.rstrip("?"), status,
                    seconds * 1000, extra={"fields": {
                        "method": request.method, "path": request.path, "route": route,
                        "status": status, "duration_ms": round(seconds * 1000, 3), **who}})
    if request.method in STATE_CHANGING:
        subject = g.get("subject")
        audit_log.info("%s %s by %s from %s: %s", request.method, request.path,
                       subject or "anonymous", request.remote_addr, status,
                       extra={"fields": {"audit": True, "subject": subject,
                                         "method": request.method, "path": request.path,
                                         "route": route, "status": status,
                                         "transition_id": _created_transition(response), **who}})
    return response


def _forget(_error) -> None:
    # A server thread serves many requests: the next one must not carry this one's ID.
    token = g.pop("log_context", None)
    if token is not None:
        try:
            reset_log_context(token)
        except ValueError:   # a streamed response ends in another context
            pass


def _created_transition(response: Response) -> str | None:
    """The transition a POST /transitions created (its Location names it)."""
    location = response.headers.get("Location", "")
    return location.rsplit("/", 1)[-1] if "transitions/" in location else None
