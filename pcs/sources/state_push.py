"""Telling SMD about power changes (INTEGRATION.md §3): one BulkStateData PATCH per state.

A push never decides a task's outcome: what SMD does not take waits in the outbox table, and
the sweep sends it again with what it read itself.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from pcs.config import Settings
from pcs.sources.smd import SmdClient, SmdUnavailable, smd_client

log = logging.getLogger(__name__)

PUSH_TIMEOUT_S = 5.0     # a confirmation waits this long for SMD at most
PUSHED_STATES = ("on", "off")   # `undefined` is never sent (upstream)
BATCH_WINDOW_S = 0.02    # how long a push waits for others to go with it


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


class _Waiting:
    def __init__(self, states: dict[str, str]):
        self.states = states
        self.left: dict[str, str] = dict(states)
        self.done = threading.Event()


class BatchingStatePush:
    """Pushes asked for at about the same time by a process's steps go out together: the first
    asker waits `window_s`, then sends one PATCH per state for everything gathered meanwhile,
    and each asker learns what SMD did not take of its own. Every task is still pushed before
    it succeeds; a worker confirming many components sends a few PATCHes, not one each."""
    enabled = True

    def __init__(self, inner: SmdStatePush, window_s: float = BATCH_WINDOW_S):
        self.inner = inner
        self.window_s = window_s
        self._lock = threading.Lock()
        self._pending: list[_Waiting] = []

    def push(self, states: dict[str, str]) -> dict[str, str]:
        mine = _Waiting(states)
        with self._lock:
            self._pending.append(mine)
            leads = len(self._pending) == 1
        if leads:
            time.sleep(self.window_s)
            with self._lock:
                batch, self._pending = self._pending, []
            gathered: dict[str, str] = {}
            for waiting in batch:
                gathered.update(waiting.states)
            left = self.inner.push(gathered)
            for waiting in batch:
                waiting.left = {x: s for x, s in left.items() if x in waiting.states}
                waiting.done.set()
        # The leader answers within its PATCHes' timeouts; past that, all counts as not taken.
        if not mine.done.wait(self.window_s + len(PUSHED_STATES) * PUSH_TIMEOUT_S + 1.0):
            return dict(states)
        return mine.left


def state_push(settings: Settings) -> StatePush:
    if not settings.sms_server:
        return NoStatePush()
    return BatchingStatePush(SmdStatePush(smd_client(settings)))


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
