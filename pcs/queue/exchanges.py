"""The record of a task's BMC exchanges (DESIGN.md invariant 4), written for a whole batch of
steps at a time: one statement for the finished exchanges, one for the intents (written
'sending' before the action goes out, so that recovery knows it may have arrived), one to
complete the intents with the BMC's answers."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from pcs.redfish.client import Exchange

_COLUMNS = ("task_id", "bmc_id", "purpose", "state", "method", "path", "request_body",
            "status_code", "response_body", "error_class", "error", "latency_ms", "sent_at")
_TYPES = ("bigint", "integer", "text", "text", "text", "text", "jsonb", "integer", "text", "text",
          "text", "double precision", "timestamptz")
# The rows travel as one JSON document: psycopg escapes each element of a text array in
# Python, and response bodies are long; PostgreSQL parses the document in C.
_RECORDS = "ROWS FROM (json_to_recordset(CAST(:rows AS json)) AS ({}))"
_INSERT = text(f"""
    INSERT INTO bmc_exchanges ({", ".join(_COLUMNS)})
    SELECT {", ".join("u." + c for c in _COLUMNS)}
    FROM {_RECORDS.format(", ".join(f"{c} {t}" for c, t in zip(_COLUMNS, _TYPES)))}
         WITH ORDINALITY AS u({", ".join(_COLUMNS)}, n)
    ORDER BY u.n
    RETURNING id, task_id""")
_COMPLETED = ("id", *_COLUMNS[4:12])
_COMPLETE = text(f"""
    UPDATE bmc_exchanges x
    SET state = 'done', {", ".join(f"{c} = u.{c}" for c in _COLUMNS[4:12])}
    FROM {_RECORDS.format(", ".join(f"{c} {t}" for c, t in zip(_COMPLETED, ("bigint",
                                                                  *_TYPES[4:12]))))} AS u
    WHERE x.id = u.id""")


@dataclass(frozen=True)
class Intent:
    """A Reset about to be sent: recorded 'sending' in the transaction before it goes."""
    purpose: str          # apply | resend
    path: str
    body: dict
    sent_at: datetime


def insert_done(session: Session, rows: list[tuple[int, int, str, Exchange]]) -> None:
    """(task id, BMC id, purpose, exchange) each; an exchange's retried attempts are rows too."""
    _insert(session, [_row(task_id, bmc_id, purpose, "done", attempt)
                      for task_id, bmc_id, purpose, exchange in rows
                      for attempt in (*exchange.earlier, exchange)])


def insert_intents(session: Session, rows: list[tuple[int, int, Intent]]) -> dict[int, int]:
    """(task id, BMC id, intent) each, at most one per task; returns task id -> exchange id."""
    return dict((task_id, exchange_id) for exchange_id, task_id in _insert(session, [
        {"task_id": task_id, "bmc_id": bmc_id, "purpose": intent.purpose, "state": "sending",
         "method": "POST", "path": intent.path, "request_body": intent.body,
         "status_code": None, "response_body": None, "error_class": None, "error": None,
         "latency_ms": None, "sent_at": intent.sent_at.isoformat()}
        for task_id, bmc_id, intent in rows]))


def complete(session: Session, rows: list[tuple[int, Exchange]]) -> None:
    """(exchange id, the BMC's answer) each: the intents' rows become the exchanges made."""
    if not rows:
        return
    session.execute(_COMPLETE, {"rows": json.dumps([
        dict(_row(None, None, "", "done", exchange), id=exchange_id)
        for exchange_id, exchange in rows])})


def _insert(session: Session, rows: list[dict]) -> list:
    if not rows:
        return []
    return session.execute(_INSERT, {"rows": json.dumps(rows)}).all()


def _row(task_id: int | None, bmc_id: int | None, purpose: str, state: str,
         exchange: Exchange) -> dict:
    body = exchange.request_body
    return {"task_id": task_id, "bmc_id": bmc_id, "purpose": purpose, "state": state,
            "method": exchange.method, "path": exchange.path,
            "request_body": body,
            "status_code": exchange.status_code, "response_body": exchange.response_body,
            "error_class": exchange.error_class, "error": exchange.error,
            "latency_ms": exchange.latency_ms,
            "sent_at": exchange.sent_at.isoformat() if exchange.sent_at else None}
