"""The reservations tasks hold, as rows: which tasks of a batch need one, storing what SMD
granted, renewing those about to expire, releasing those of ended tasks. Every function is one
set-based statement or one SMD call per group, never one per task."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from pcs.db import Database
from pcs.domain.states import TaskState, sql_list
from pcs.models import DISPATCHED, FINAL_STATES
from pcs.sources.reservations import (DURATION_MINUTES, RENEW_EVERY_MINUTES,
                                      RENEW_WITHIN_MINUTES, Held, ReservationSource, Wanted)

log = logging.getLogger(__name__)

# States whose reservation the renewer keeps alive. Not `running`: a running task's worker
# renews its own (Executor), so a worker that dies lets its reservations lapse within a minute.
WAITING_STATES = (TaskState.READY, TaskState.DISPATCHED, TaskState.DEFERRED)


def wanted(session: Session, task_ids: list[int]) -> list[Wanted]:
    """Dispatched tasks of a batch that hold no reservation yet, or were taken back from a dead
    worker (the reaper clears their expiry). A live task whose reservation lapsed is not given
    a new one: the check before its next tier reports `Reservation expired`, as upstream."""
    rows = session.execute(text("""
        SELECT id, xname, deputy_key, reservation_key FROM transition_tasks
        WHERE id = ANY(:ids) AND state = :dispatched
          AND (reservation_deputy_key IS NULL OR reservation_expires_at IS NULL)
        ORDER BY xname
    """), {"ids": task_ids, "dispatched": DISPATCHED})
    return [Wanted(r.id, r.xname, r.deputy_key, r.reservation_key) for r in rows]


def store(session: Session, held: dict[int, Held], now: datetime,
          minute_s: float) -> set[int]:
    """Store what each task now acts under, on tasks still dispatched; returns their ids."""
    if not held:
        return set()
    default_expiry = now + timedelta(seconds=DURATION_MINUTES * minute_s)
    ids = list(held)
    return set(session.scalars(text("""
        UPDATE transition_tasks t
        SET reservation_deputy_key = u.deputy_key, reservation_key = u.reservation_key,
            reservation_expires_at = u.expires_at
        FROM unnest(CAST(:ids AS bigint[]), CAST(:deputy AS text[]), CAST(:keys AS text[]),
                    CAST(:expires AS timestamptz[]))
             AS u(id, deputy_key, reservation_key, expires_at)
        WHERE t.id = u.id AND t.state = :dispatched
        RETURNING t.id
    """), {"ids": ids, "deputy": [held[i].deputy_key for i in ids],
           "keys": [held[i].reservation_key for i in ids],
           "expires": [held[i].expires_at or default_expiry for i in ids],
           "dispatched": DISPATCHED}))


def forget(session: Session, task_ids: list[int]) -> None:
    """The tasks' own reservations were released."""
    if task_ids:
        session.execute(text("UPDATE transition_tasks SET reservation_key = NULL "
                             "WHERE id = ANY(:ids)"), {"ids": sorted(task_ids)})


def renew_due(db: Database, source: ReservationSource, now: datetime, minute_s: float,
              running: dict[str, str]) -> int:
    """Renew the reservations of waiting tasks that lapse within half a minute, plus
    `running` (xname -> reservation key of the steps this process runs). Returns how many."""
    with db.transaction() as session:
        due = {r.xname: r.reservation_key for r in session.execute(text(f"""
            SELECT xname, reservation_key FROM transition_tasks
            WHERE state IN {sql_list(WAITING_STATES)} AND reservation_key IS NOT NULL
              AND reservation_expires_at < :soon
        """), {"soon": now + timedelta(seconds=RENEW_WITHIN_MINUTES * minute_s)})}
    due.update(running)
    renewed = source.renew(due)
    if renewed:
        with db.transaction() as session:
            session.execute(text("""
                UPDATE transition_tasks SET reservation_expires_at = :until
                WHERE reservation_key = ANY(:keys)
            """), {"until": now + timedelta(seconds=DURATION_MINUTES * minute_s),
                   "keys": [due[x] for x in renewed]})
    return len(renewed)


def release_ended(db: Database, source: ReservationSource) -> int:
    """Release the reservations still stored on ended tasks (aborted, expired or reaped ones;
    a task that ends in a worker releases its own at once). Returns how many."""
    with db.transaction() as session:
        ended = session.execute(text("""
            WITH old AS (
                SELECT id, xname, reservation_key FROM transition_tasks
                WHERE reservation_key IS NOT NULL AND state = ANY(:final)
                FOR UPDATE SKIP LOCKED)
            UPDATE transition_tasks t SET reservation_key = NULL
            FROM old WHERE t.id = old.id
            RETURNING old.xname, old.reservation_key
        """), {"final": list(FINAL_STATES)}).all()
    source.release({r.xname: r.reservation_key for r in ended})
    return len(ended)


class Renewer(threading.Thread):
    """Beside the dispatcher in each worker process: every sixth of a minute, renew what
    lapses soon and release what ended tasks still hold."""

    def __init__(self, db: Database, source: ReservationSource, minute_s: float,
                 running: Callable[[], dict[str, str]], now: Callable[[], datetime]):
        super().__init__(name="pcs-reservations", daemon=True)
        self.db, self.source, self.minute_s = db, source, minute_s
        self.running, self.now = running, now
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(RENEW_EVERY_MINUTES * self.minute_s):
            try:
                renew_due(self.db, self.source, self.now(), self.minute_s,
                          dict(self.running()))
                release_ended(self.db, self.source)
            except Exception as exc:   # keep renewing through database outages
                log.warning("reservation renewal pass failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()
