"""Task and transition events: rows with a monotonic id, published on Redis after their commit,
and read back in id order without ever skipping a row that commits late.

Writers call task(), transition() and friends inside their transaction; the ids they took are
published in one message per transaction once it commits (publish_after_commit). Readers keep an
EventFeed: it delivers an id only when every lower id is settled, i.e. committed or abandoned.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlalchemy import event as orm_event
from sqlalchemy import text
from sqlalchemy.orm import Session

from pcs.config import Settings
from pcs.db import Database
from pcs.domain import outcomes
from pcs.domain.states import TaskState, sql_list
from pcs.models import TASK_STATUS_FOR

log = logging.getLogger(__name__)

TASK, TRANSITION = "task", "transition"
# What happened to a task (the `event` field of a task event).
QUEUED, STARTED, ACTION_SENT, CONFIRMED = "queued", "started", "action-sent", "confirmed"
SUCCEEDED, FAILED, ABORTED = "succeeded", "failed", "aborted"


# -- writing --------------------------------------------------------------------------------------
_UNWRITTEN = "pcs.events.unwritten"


def record(session: Session, transition_id: uuid.UUID | None, kind: str,
           xname: str | None = None, **data) -> None:
    """One event row; `data` is its wire data without id, transitionID, xname and time.

    Written with the transaction's other single events in one statement, before the next
    statement that inserts events or before the commit (a task step records three or four)."""
    session.info.setdefault(_UNWRITTEN, []).append(
        {"transition_id": transition_id, "xname": xname, "kind": kind, "data": data})


@orm_event.listens_for(Session, "before_commit")
def write_recorded(session: Session) -> None:
    """Insert the events record() kept for this transaction now (they take their ids)."""
    rows = session.info.pop(_UNWRITTEN, None)
    if rows:
        record_many(session, rows)


@orm_event.listens_for(Session, "after_transaction_end")
def _forget_unwritten(session: Session, transaction) -> None:
    if transaction.parent is None:   # ended without a commit: those events never happened
        session.info.pop(_UNWRITTEN, None)


def task(session: Session, transition_id: uuid.UUID, xname: str, happened: str, task_status: str,
         description: str = "", error: str = "", action: str | None = None) -> None:
    """A task event: `happened` names what happened, `task_status` is its PCS taskStatus after."""
    data = {"event": happened, "taskStatus": task_status, "description": description,
            "error": error}
    if action:
        data["action"] = action
    record(session, transition_id, TASK, xname, **data)


def transition(session: Session, transition_id: uuid.UUID, status: str) -> None:
    record(session, transition_id, TRANSITION, transitionStatus=status)


def ended_event(state: str, error: str) -> str:
    """The event that ends a task in `state` (succeeded, failed or unsupported)."""
    if error == outcomes.TRANSITION_ABORTED:
        return ABORTED
    return SUCCEEDED if state == TaskState.SUCCEEDED else FAILED


def task_ended(session: Session, transition_id: uuid.UUID, xname: str, state: str,
               description: str, error: str = "") -> None:
    task(session, transition_id, xname, ended_event(state, error), TASK_STATUS_FOR[state],
         description, error)


def tasks_ended(session: Session, ended: Iterable[tuple[uuid.UUID, str, str, str, str]]) -> None:
    """Many tasks ended at once: (transition id, xname, state, description, error) each."""
    record_many(session, [
        {"transition_id": tid, "xname": xname, "kind": TASK,
         "data": {"event": ended_event(state, error), "taskStatus": TASK_STATUS_FOR[state],
                  "description": description, "error": error}}
        for tid, xname, state, description, error in ended])


def transitions_changed(session: Session, transition_ids: list[uuid.UUID], status: str) -> None:
    record_many(session, [{"transition_id": tid, "xname": None, "kind": TRANSITION,
                           "data": {"transitionStatus": status}} for tid in transition_ids])


def record_many(session: Session, rows: list[dict]) -> None:
    """rows: dicts with transition_id, kind, xname, data; one statement, ids in list order.

    The rows travel as one JSON document: psycopg escapes each element of a text array in
    Python, which cost more worker CPU than the statement itself."""
    if not rows:
        return
    document = json.dumps([{"t": str(r["transition_id"]) if r["transition_id"] else None,
                            "x": r["xname"], "k": r["kind"], "d": r["data"]} for r in rows])
    ranges = _insert_events(session, """
        SELECT u.t, u.x, u.k, u.d
        FROM ROWS FROM (json_to_recordset(CAST(:rows AS json)) AS (t uuid, x text, k text,
                                                                   d jsonb))
             WITH ORDINALITY AS u(t, x, k, d, n)
        ORDER BY u.n""", {"rows": document})
    _note(session, {r["transition_id"] for r in rows}, ranges)


def _insert_events(session: Session, select_sql: str, params: dict) -> list[tuple[int, int]]:
    """INSERT the rows of `select_sql` (transition_id, xname, kind, data) into events; returns
    the ids taken as (first, last) ranges, computed by PostgreSQL: 10,000 ids need not travel."""
    write_recorded(session)   # events recorded before these take lower ids
    return [tuple(r) for r in session.execute(text(f"""
        WITH inserted AS (INSERT INTO events (transition_id, xname, kind, data) {select_sql}
                          RETURNING id)
        SELECT min(id), max(id)
        FROM (SELECT id, id - row_number() OVER (ORDER BY id) AS island FROM inserted) i
        GROUP BY island ORDER BY 1"""), params)]


# The PCS taskStatus of each queue state, as SQL (models.TASK_STATUS_FOR stays the one source).
_STATUS_SQL = "CASE t.state " + " ".join(
    f"WHEN '{state}' THEN '{status}'" for state, status in TASK_STATUS_FOR.items()) + " END"


# The states a task is stored in when it will run (queued behind others, or ready at once).
_TAKEN_SQL = sql_list((TaskState.QUEUED, TaskState.READY))


def tasks_submitted(session: Session, transition_id: uuid.UUID) -> None:
    """One event per task of a transition just stored, in one statement from its task rows:
    `queued` for tasks that will run, `failed` (or `succeeded`) for those that ended at once."""
    ranges = _insert_events(session, f"""
        SELECT t.transition_id, t.xname, 'task', jsonb_build_object(
                   'event', CASE WHEN t.state IN {_TAKEN_SQL} THEN '{QUEUED}'
                                 WHEN t.state = :succeeded THEN '{SUCCEEDED}'
                                 ELSE '{FAILED}' END,
                   'taskStatus', {_STATUS_SQL}, 'description', t.description,
                   'error', t.error)
        FROM transition_tasks t WHERE t.transition_id = :id
        ORDER BY t.xname""", {"id": transition_id, "succeeded": TaskState.SUCCEEDED})
    _note(session, [transition_id], ranges)


# -- publishing after commit ---------------------------------------------------------------------
_PENDING = "pcs.events.pending"


def _note(session: Session, transition_ids: Iterable,
          id_ranges: list[tuple[int, int]]) -> None:
    pending = session.info.setdefault(_PENDING, ([], set()))
    pending[0].extend(id_ranges)
    pending[1].update(t for t in transition_ids if t is not None)


def channel(settings: Settings) -> str:
    """The Redis pub/sub channel of this deployment's events (one per queue, so one per cell)."""
    return f"{settings.queue_name}:events"


def merged(id_ranges: list[tuple[int, int]]) -> list[list[int]]:
    """[(9, 9), (3, 4), (5, 5)] -> [[3, 5], [9, 9]]: a transaction's ids as few ranges."""
    out: list[list[int]] = []
    for first, last in sorted(id_ranges):
        if out and first <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], last)
        else:
            out.append([first, last])
    return out


class EventPublisher:
    """Publishes, after each commit, one message naming the event ids and transitions it wrote.

    A lost message delays a stream by at most its poll interval (streams read the table), so a
    Redis failure is logged, and publishing pauses a few seconds instead of slowing every commit.
    """
    PAUSE_AFTER_FAILURE_S = 5.0

    def __init__(self, settings: Settings):
        self.channel = channel(settings)
        self._redis = redis.Redis.from_url(settings.broker_url, socket_timeout=2,
                                           socket_connect_timeout=2)
        self._paused_until = 0.0

    def publish(self, id_ranges: list[tuple[int, int]], transition_ids: set) -> None:
        if time.monotonic() < self._paused_until:
            return
        message = json.dumps({"ids": merged(id_ranges),
                              "transitions": sorted(str(t) for t in transition_ids)})
        try:
            self._redis.publish(self.channel, message)
        except redis.RedisError as exc:
            self._paused_until = time.monotonic() + self.PAUSE_AFTER_FAILURE_S
            log.warning("publishing events failed (streams read them from the table): %s", exc)


_publishers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def publish_after_commit(db: Database, settings: Settings) -> None:
    """Publish the events of every transaction of `db` once it commits (idempotent)."""
    if db.sessions in _publishers:
        return
    publisher = _publishers[db.sessions] = EventPublisher(settings)

    def committed(session: Session) -> None:
        pending = session.info.pop(_PENDING, None)
        if pending and pending[0]:
            publisher.publish(*pending)

    def rolled_back(session: Session) -> None:
        session.info.pop(_PENDING, None)   # those ids never commit; nothing to announce

    orm_event.listen(db.sessions, "after_commit", committed)
    orm_event.listen(db.sessions, "after_rollback", rolled_back)


# -- reading --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredEvent:
    id: int
    transition_id: uuid.UUID | None
    xname: str | None
    kind: str
    data: dict
    created_at: datetime


_SEQUENCE = "pg_get_serial_sequence('events', 'id')"
# Every transaction that took an event id holds a RowExclusiveLock on the id sequence until it
# ends (nextval() takes it; PostgreSQL releases it only after the commit is visible). Readers
# take a weaker lock on it (pg_sequence_last_value): not writers, and not ourselves.
_OPEN_WRITERS = text(f"""
    SELECT virtualtransaction FROM pg_locks
    WHERE locktype = 'relation' AND relation = CAST({_SEQUENCE} AS regclass)
      AND mode = 'RowExclusiveLock' AND pid IS DISTINCT FROM pg_backend_pid()
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())""")
_ALLOCATED = text(f"SELECT coalesce(pg_sequence_last_value(CAST({_SEQUENCE} AS regclass)), 0)")


def last_allocated(session: Session) -> int:
    """The highest event id handed out so far (committed or not)."""
    return session.scalar(_ALLOCATED)


class EventFeed:
    """The stored events of one stream, after a given id, in id order, each once.

    Ids can commit out of order: a transaction that took id 10 may commit after the one that took
    id 11. So the feed delivers an id only once it is settled (every lower id committed or
    abandoned): each read notes the highest id handed out and the transactions that hold event
    ids right then; once all of those have ended, every id up to the noted one is settled (the
    sequence has no cache, so each id is handed out by a transaction that locks it). Then a
    reconnect from the last delivered id loses nothing and repeats nothing.
    """

    def __init__(self, after: int, transition_id: uuid.UUID | None = None,
                 xnames: list[str] | None = None):
        self.after = after                 # every wanted event up to here has been read
        self.transition_id = transition_id
        self.xnames = xnames
        self._settled = after
        self._checkpoints: deque[tuple[int, frozenset[str]]] = deque()

    @property
    def holding_back(self) -> bool:
        """True while ids wait for earlier transactions to end (any commit may settle them)."""
        return bool(self._checkpoints)

    def read(self, session: Session, limit: int = 1000) -> tuple[list[StoredEvent], bool]:
        """The next settled events (at most `limit`), and whether more are settled already."""
        horizon = self._settle(session)
        if horizon <= self.after:
            return [], False
        where = ["id > :after", "id <= :horizon"]
        if self.transition_id is not None:
            where.append("transition_id = :transition_id")
        if self.xnames is not None:
            where.append("kind = 'task' AND xname = ANY(:xnames)")
        rows = session.execute(text(
            "SELECT id, transition_id, xname, kind, data, created_at FROM events "
            f"WHERE {' AND '.join(where)} ORDER BY id LIMIT :limit"),
            {"after": self.after, "horizon": horizon, "transition_id": self.transition_id,
             "xnames": self.xnames, "limit": limit}).all()
        more = len(rows) == limit
        self.after = rows[-1].id if more else horizon
        return [StoredEvent(*row) for row in rows], more

    def _settle(self, session: Session) -> int:
        # Order matters: an id at or below `allocated` was taken by a transaction that already
        # held the lock, so if it is still open, the next statement sees it among the writers.
        # The rows are read by a later statement, which sees every commit of the writers gone.
        allocated = session.scalar(_ALLOCATED)
        writers = frozenset(session.scalars(_OPEN_WRITERS))
        if self._checkpoints and self._checkpoints[-1][1] == writers:
            self._checkpoints[-1] = (allocated, writers)     # they settle together
        else:
            self._checkpoints.append((allocated, writers))
        # A writer still open now was open at every checkpoint since its own: checkpoints
        # settle in order, oldest first.
        while self._checkpoints and not (self._checkpoints[0][1] & writers):
            self._settled = max(self._settled, self._checkpoints.popleft()[0])
        return self._settled
