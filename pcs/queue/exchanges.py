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
_TYPES = ("bigint", "integer", "text", "text", "text", "text", "text", "integer", "text", "text",
          "text", "double precision", "timestamptz")
_INSERT = text(f"""
    INSERT INTO bmc_exchanges ({", ".join(_COLUMNS)})
    SELECT {", ".join("CAST(u.request_body AS jsonb)" if c == "request_body" else "u." + c
                      for c in _COLUMNS)}
    FROM unnest({", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(_COLUMNS, _TYPES))})
         WITH ORDINALITY AS u({", ".join(_COLUMNS)}, n)
    ORDER BY u.n
    RETURNING id, task_id""")
_COMPLETE = text(f"""
    UPDATE bmc_exchanges x
    SET state = 'done', method = u.method, path = u.path,
        request_body = CAST(u.request_body AS jsonb), status_code = u.status_code,
        response_body = u.response_body, error_class = u.error_class, error = u.error,
        latency_ms = u.latency_ms
    FROM unnest(CAST(:id AS bigint[]), {", ".join(
        f"CAST(:{c} AS {t}[])" for c, t in zip(_COLUMNS[4:12], _TYPES[4:12]))})
         AS u(id, {", ".join(_COLUMNS[4:12])})
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
         "method": "POST", "path": intent.path, "request_body": json.dumps(intent.body),
         "status_code": None, "response_body": None, "error_class": None, "error": None,
         "latency_ms": None, "sent_at": intent.sent_at}
        for task_id, bmc_id, intent in rows]))


def complete(session: Session, rows: list[tuple[int, Exchange]]) -> None:
    """(exchange id, the BMC's answer) each: the intents' rows become the exchanges made."""
    if not rows:
        return
    columns = [_row(None, None, "", "done", exchange) for _, exchange in rows]
    session.execute(_COMPLETE, {"id": [exchange_id for exchange_id, _ in rows],
                                **{c: [r[c] for r in columns] for c in _COLUMNS[4:12]}})


def _insert(session: Session, rows: list[dict]) -> list:
    if not rows:
        return []
    return session.execute(_INSERT, {c: [r[c] for r in rows] for c in _COLUMNS}).all()


def _row(task_id: int | None, bmc_id: int | None, purpose: str, state: str,
         exchange: Exchange) -> dict:
    body = exchange.request_body
    return {"task_id": task_id, "bmc_id": bmc_id, "purpose": purpose, "state": state,
            "method": exchange.method, "path": exchange.path,
            "request_body": json.dumps(body) if body is not None else None,
            "status_code": exchange.status_code, "response_body": exchange.response_body,
            "error_class": exchange.error_class, "error": exchange.error,
            "latency_ms": exchange.latency_ms, "sent_at": exchange.sent_at}
