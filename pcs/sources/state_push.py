"""Telling SMD about power changes (INTEGRATION.md §3): one BulkStateData PATCH per state.

A push never decides a task's outcome: what SMD does not take waits in the outbox table, and
the sweep sends it again with what it read itself.
"""
from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from pcs.config import Settings
from pcs.sources.smd import SmdClient, SmdUnavailable, smd_client

log = logging.getLogger(__name__)

PUSH_TIMEOUT_S = 5.0     # a confirmation waits this long for SMD at most
PUSHED_STATES = ("on", "off")   # `undefined` is never sent (upstream)


class StatePush(Protocol):
    enabled: bool

    def push(self, states: dict[str, str]) -> dict[str, str]:
        """Send xname -> on|off; returns what SMD did not take."""


class NoStatePush:
    enabled = False

    def push(self, states: dict[str, str]) -> dict[str, str]:
        return {}


class SmdStatePush:
    enabled = True

    def __init__(self, client: SmdClient):
        self.client = client

    def push(self, states: dict[str, str]) -> dict[str, str]:
        left: dict[str, str] = {}
        for state in PUSHED_STATES:
            ids = sorted(x for x, s in states.items() if s == state)
            if not ids:
                continue
            try:
                self.client.push_state(ids, state, PUSH_TIMEOUT_S)
            except SmdUnavailable as exc:
                log.warning("SMD did not take %d components as %s (kept for the sweep): %s",
                            len(ids), state, exc)
                left.update(dict.fromkeys(ids, state))
        return left


def state_push(settings: Settings) -> StatePush:
    return SmdStatePush(smd_client(settings)) if settings.sms_server else NoStatePush()


def keep_for_later(session: Session, states: dict[str, str]) -> None:
    """Put states SMD did not take in the outbox; a newer state of a component replaces its
    older one."""
    if not states:
        return
    names = sorted(states)
    session.execute(text("""
        INSERT INTO smd_state_outbox (xname, state, queued_at)
        SELECT u.xname, u.state, now()
        FROM unnest(CAST(:names AS text[]), CAST(:states AS text[])) AS u(xname, state)
        ON CONFLICT (xname) DO UPDATE SET state = EXCLUDED.state, queued_at = EXCLUDED.queued_at
    """), {"names": names, "states": [states[n] for n in names]})


def take_waiting(session: Session) -> dict[str, str]:
    """Empty the outbox (the caller pushes and puts back what SMD still refuses)."""
    return {r.xname: r.state for r in session.execute(text(
        "DELETE FROM smd_state_outbox RETURNING xname, state"))}
