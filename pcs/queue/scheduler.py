"""The per-component queue: submit, promote, dispatch, claim, defer, finish, reap.

The only code that moves a task between queue states. Every transaction that changes a
component's queue first locks that component's row, through lock_components() alone (in name
order, in bulk), so overlapping submissions never deadlock and FIFO follows lock order. The
power-cap queue and the inventory lock components through it too. The partial unique index on
transition_tasks(component_id) WHERE state is active makes "one active task per component" a
database guarantee, whatever the number of processes.
"""
from __future__ import annotations

import functools
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import ARRAY, Row, String, bindparam, func, select, text
from sqlalchemy.orm import Session

from pcs import events, metrics
from pcs.config import Settings
from pcs.errors import NotFound, TransitionFinished
from pcs.domain import outcomes, xnames
from pcs.domain.admission import admit
from pcs.domain.tiers import first_tier, possible_tiers
from pcs.domain.operations import Operation
from pcs.domain.states import (ABORTABLE, ABORTABLE_SQL, ACTIVE_SQL, FINAL, FINAL_SQL,
                               IN_FLIGHT_SQL, TRANSITION_UNFINISHED_SQL, UNFINISHED_SQL,
                               TaskState, TransitionStatus)
from pcs.models import (DEFERRED, DISPATCHED, FAILED, QUEUED, READY, RUNNING, TASK_STATUS_FOR,
                        Component, ComponentLock, Transition, TransitionTask)

# Hot-path statements use the Core tables: the ORM's bulk-update machinery costs CPU per call.
tasks = TransitionTask.__table__


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Location:
    xname: str
    deputy_key: str | None = None


def submit(session: Session, settings: Settings, operation: Operation, deadline_minutes: int,
           locations: list[Location], requested_by: dict, queue_when_busy: bool = True,
           source_errors: dict[str, str] | None = None) -> Transition:
    """Store a transition with one task per distinct component; heads of free queues get ready.

    `source_errors`: per normalized xname, the inventory source's reason it cannot run.

    A component that another transition holds or awaits makes its task wait in the component's
    queue (queue_when_busy, `onConflict: queue`) or fail at once (`onConflict: fail`).
    """
    now = utcnow()
    transition = Transition(
        id=uuid.uuid4(), operation=operation.value, task_deadline_minutes=deadline_minutes,
        status=TransitionStatus.NEW, created_at=now, requested_by=requested_by,
        expires_at=now + timedelta(seconds=settings.expire_time_mins * settings.minute_s))
    session.add(transition)
    session.flush()

    parsed = [(loc, xnames.parse(loc.xname)) for loc in locations]
    names = sorted({p.name for _, p in parsed if p is not None})
    held = lock_components(session, session.scalars(select(Component.id).where(
        Component.xname == func.any(bindparam("names", names, type_=ARRAY(String))))))
    # Loaded once locked: what a concurrent change (discovery, removal) left is what counts.
    inventory = {row.xname: row for row in session.execute(text(
        "SELECT id, xname, type, allowable_values::text AS allowable FROM components "
        "WHERE id = ANY(:held)"), {"held": held})}
    in_use = _names_with_tasks(session, held)
    locked = set(session.scalars(select(ComponentLock.xname).where(
        ComponentLock.xname == func.any(bindparam("locked", names, type_=ARRAY(String))))))

    rows, runnable, seen, tiers = [], [], set(), set()
    for location, name in parsed:
        xname = name.name if name else location.xname
        if xname in seen:
            continue  # duplicates, also x1000C0s0b0n0 beside x1000c0s0b0n0, are one task
        seen.add(xname)
        component = inventory.get(xname)
        verdict = admit(operation, name, _allowable(component.allowable) if component else None,
                        component is not None, locked=xname in locked, busy=xname in in_use,
                        queue_when_busy=queue_when_busy,
                        source_error=(source_errors or {}).get(xname))
        row = {"xname": xname, "deputy_key": location.deputy_key, "tier": None,
               "component_id": component.id if component else None}
        if verdict is None:
            runnable.append(component.id)
            tiers |= possible_tiers(operation, component.type)
            # We hold the component's lock: with nothing active or queued on it, this task
            # heads its queue at once; otherwise it waits behind the others.
            row.update(state=QUEUED if xname in in_use else READY, description="", error="",
                       finished_at=None, tier=first_tier(operation, component.type))
        else:
            row.update(state=verdict.state, description=verdict.description,
                       error=verdict.error, finished_at=now)
        rows.append(row)
    transition.multi_tier = len(tiers) > 1
    _insert_tasks(session, transition.id, now, rows)
    metrics.after_commit(session, metrics.transition_created, operation.value)
    _count_ended(session, operation.value, [(r["state"], r["error"], None) for r in rows
                                            if r["finished_at"] is not None])
    events.transition(session, transition.id, TransitionStatus.NEW)
    events.tasks_submitted(session, transition.id)   # queued, or failed at once with the reason
    if runnable:
        wake_dispatchers(session)   # at the commit
    else:
        complete_if_done(session, transition.id)
    return transition


@functools.lru_cache(maxsize=256)
def _allowable(document: str) -> tuple[str, ...]:
    """A component's AllowableValues, decoded once per distinct list: a machine's thousands of
    components share a handful (decoding 10,000 from jsonb was a fifth of a large POST)."""
    return tuple(json.loads(document))


def _insert_tasks(session: Session, transition_id: uuid.UUID, now: datetime,
                  rows: list[dict]) -> None:
    """One statement for all the tasks, in component-name order so that sequence numbers
    follow lock order. The rows travel as one JSON document that PostgreSQL parses (psycopg
    escapes each element of a text array in Python: a fifth of a 10,000-location POST)."""
    if not rows:
        return
    rows.sort(key=lambda r: r["xname"])
    document = json.dumps(rows, default=datetime.isoformat)   # finished_at
    session.execute(text("""
        INSERT INTO transition_tasks (transition_id, xname, component_id, deputy_key, state,
                                      description, error, tier, finished_at, enqueued_at, plan,
                                      phase, attempt, resends)
        SELECT :transition_id, u.xname, u.component_id, u.deputy_key, u.state, u.description,
               u.error, u.tier, u.finished_at, :now, '[]'::jsonb, 'gather', 0, 0
        FROM ROWS FROM (json_to_recordset(CAST(:rows AS json)) AS (
                 xname text, component_id integer, deputy_key text, state text,
                 description text, error text, tier smallint, finished_at timestamptz))
             WITH ORDINALITY AS u(xname, component_id, deputy_key, state, description, error,
                                  tier, finished_at, n)
        ORDER BY u.n
    """), {"transition_id": transition_id, "now": now, "rows": document})


def _names_with_tasks(session: Session, component_ids: list[int]) -> set[str]:
    """Components that have an active or queued task (the caller holds their row locks)."""
    if not component_ids:
        return set()
    return set(session.scalars(text(f"""
        SELECT c.xname FROM components c
        WHERE c.id = ANY(:ids) AND EXISTS (
            SELECT 1 FROM transition_tasks t
            WHERE t.component_id = c.id AND t.state IN {UNFINISHED_SQL})
    """), {"ids": component_ids}))


def promote(session: Session, component_ids: list[int]) -> int:
    """Make the oldest queued task ready on each given component that has no active task.

    The caller holds the components' row locks.
    """
    if not component_ids:
        return 0
    result = session.execute(text(f"""
        UPDATE transition_tasks t SET state = :ready
        FROM (SELECT DISTINCT ON (q.component_id) q.id, q.component_id
              FROM transition_tasks q
              WHERE q.component_id = ANY(:ids) AND q.state = '{QUEUED}'
              ORDER BY q.component_id, q.seq) head
        WHERE t.id = head.id
          AND NOT EXISTS (SELECT 1 FROM transition_tasks a
                          WHERE a.component_id = head.component_id AND a.state IN {ACTIVE_SQL})
    """), {"ids": list(component_ids), "ready": READY})
    return result.rowcount


# Steps in flight per BMC, power transitions and power caps together (PCS_BMC_MAX_INFLIGHT).
BUSY_PER_BMC_SQL = f"""
    SELECT c.bmc_id, count(*) AS busy
    FROM (SELECT component_id FROM transition_tasks
          WHERE state IN {IN_FLIGHT_SQL}
          UNION ALL
          SELECT component_id FROM power_cap_tasks
          WHERE state IN {IN_FLIGHT_SQL}) a
    JOIN components c ON c.id = a.component_id
    GROUP BY c.bmc_id"""

_DISPATCH_LOCK = 0x70637364   # one dispatcher pass at a time, so per-BMC counts hold
_RUNNABLE = f"(state = '{READY}' OR (state = '{DEFERRED}' AND next_check_at <= :now))"
_DISPATCH = text(f"""
    UPDATE transition_tasks t SET state = '{DISPATCHED}', dispatched_at = :now
    FROM (SELECT id FROM transition_tasks
          WHERE {_RUNNABLE} AND id IN (
              SELECT r.id
              FROM (SELECT q.id, q.due, q.seq, c.bmc_id,
                           row_number() OVER (PARTITION BY c.bmc_id ORDER BY q.due, q.seq) AS nth
                    FROM (SELECT * FROM (
                              -- two index scans (ix_task_ready, ix_task_runnable), each
                              -- stopping after :scan rows, instead of a sort of every
                              -- runnable task
                              (SELECT id, component_id, seq, enqueued_at AS due
                               FROM transition_tasks WHERE state = '{READY}'
                               ORDER BY seq LIMIT :scan)
                              UNION ALL
                              (SELECT id, component_id, seq, next_check_at AS due
                               FROM transition_tasks
                               WHERE state = '{DEFERRED}' AND next_check_at <= :now
                               ORDER BY next_check_at LIMIT :scan)) runnable
                          ORDER BY due, seq LIMIT :scan) q
                    LEFT JOIN components c ON c.id = q.component_id) r
              LEFT JOIN ({BUSY_PER_BMC_SQL}) b ON b.bmc_id = r.bmc_id
              WHERE r.bmc_id IS NULL OR r.nth + coalesce(b.busy, 0) <= :per_bmc
              ORDER BY r.due, r.seq LIMIT :budget)
          FOR UPDATE SKIP LOCKED) pick
    WHERE t.id = pick.id
    RETURNING t.id, t.xname, t.transition_id""")


def next_due(session: Session, now: datetime) -> datetime | None:
    """When the next deferred task falls due after `now` (the runnable-task index answers it).
    Tasks already due but held back (the per-BMC limit, the budget) are not counted: they
    wait for the next pass, not for a loop that would spin."""
    return session.scalar(text(
        "SELECT min(next_check_at) FROM transition_tasks "
        f"WHERE state = '{DEFERRED}' AND next_check_at > :now"), {"now": now})


def dispatch(session: Session, now: datetime, budget: int,
             per_bmc: int) -> list[tuple[int, str]]:
    """Move up to `budget` ready and due deferred tasks to dispatched, at most `per_bmc` of one
    BMC's at once counting those dispatched or running (PCS_BMC_MAX_INFLIGHT: a chassis
    controller with sixteen slots to power is not sent sixteen requests at once); publish after
    commit.

    Oldest due first: a ready task is due since it was enqueued, a deferred one since its next
    check. By sequence number instead, tasks of a large transition that wait for an earlier
    tier (and are re-checked every second) would take the whole budget each pass, and the
    tasks that must finish that tier would never start."""
    if budget <= 0:
        return []
    if not session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"),
                          {"key": _DISPATCH_LOCK}):
        return []   # another worker's dispatcher is in a pass; the next one comes shortly
    # The per-BMC count looks at the oldest due few times the budget, not at every runnable
    # task: a pass stays cheap with 10,000 waiting, and what a busy BMC holds back goes later.
    picked = session.execute(_DISPATCH, {"now": now, "budget": budget, "per_bmc": per_bmc,
                                         "scan": 4 * budget}).all()
    started = sorted({row.transition_id for row in picked})
    if started:
        # A transition is in progress from the moment its first task goes to a worker.
        started = session.scalars(text("UPDATE transitions SET status = :in_progress "
                                       "WHERE id = ANY(:ids) AND status = :new RETURNING id"),
                                  {"ids": started, "in_progress": TransitionStatus.IN_PROGRESS,
                                   "new": TransitionStatus.NEW}).all()
        events.transitions_changed(session, sorted(started), TransitionStatus.IN_PROGRESS)
    return [(row.id, row.xname) for row in picked]


def still_dispatched(session: Session, task_ids: list[int]) -> list[tuple[int, str]]:
    """(id, xname) of those tasks that still wait for a worker to claim them."""
    return [tuple(row) for row in session.execute(text(
        "SELECT id, xname FROM transition_tasks WHERE id = ANY(:ids) AND state = :dispatched"
        " ORDER BY xname"), {"ids": list(task_ids), "dispatched": DISPATCHED})]


def dispatched_count(session: Session) -> int:
    return session.scalar(select(func.count()).where(TransitionTask.state == DISPATCHED))


def lock_components(session: Session, component_ids, *, skip_locked: bool = False) -> list[int]:
    """Lock the components' rows, in name order: the one place that locks components. Every
    transaction that changes a component's queue takes these locks first, in this order, so
    that overlapping ones never deadlock and FIFO follows lock order. Returns the ids locked;
    with skip_locked, rows another transaction holds are left out (a sweep that comes back
    later). Callers find the ids with a plain query first and use the ids returned."""
    ids = sorted({i for i in component_ids if i is not None})
    if not ids:
        return []
    return list(session.scalars(text(
        "SELECT id FROM components WHERE id = ANY(:ids) ORDER BY xname FOR UPDATE"
        + (" SKIP LOCKED" if skip_locked else "")), {"ids": ids}))


@dataclass(frozen=True)
class Claim:
    task_id: int
    attempt: int
    transition_id: uuid.UUID
    component_id: int | None
    xname: str = ""
    operation: str = ""                  # of its transition (the metrics' label)
    enqueued_at: datetime | None = None


# One statement claims a batch and loads what its steps need: the task, its transition, its
# component and BMC (NULL when the component left the inventory after the task was queued).
# Rows another transaction holds (a duplicate message's claim, an abort) are skipped: that one
# decides them.
_CLAIM_BATCH = text("""
    WITH picked AS (SELECT id FROM transition_tasks
                    WHERE id = ANY(:ids) AND state = :dispatched
                    ORDER BY id FOR UPDATE SKIP LOCKED),
         claimed AS (UPDATE transition_tasks t
                     SET state = :running, attempt = t.attempt + 1, lease_until = :lease_until,
                         started_at = coalesce(t.started_at, :now)
                     FROM picked WHERE t.id = picked.id
                     RETURNING t.*)
    SELECT t.id AS task_id, t.attempt, t.transition_id, t.component_id, t.xname, t.enqueued_at,
           t.phase, t.plan, t.action, t.action_sent_at, t.deadline_at, t.description, t.tier,
           t.resends, t.moved_at, t.task_monitor, t.reservation_key, t.reservation_deputy_key,
           tr.operation, tr.task_deadline_minutes, tr.multi_tier,
           c.id AS found, c.redfish_path, c.reset_target, c.reset_parameter, c.allowable_values,
           c.type, b.id AS bmc_id, b.updated_at AS bmc_updated_at, b.xname AS bmc_xname,
           b.address AS bmc_address, b.scheme AS bmc_scheme, b.username AS bmc_username,
           b.password_encrypted AS bmc_password_encrypted, b.verify_tls AS bmc_verify_tls,
           b.ca_bundle AS bmc_ca_pem
    FROM claimed t
    JOIN transitions tr ON tr.id = t.transition_id
    LEFT JOIN components c ON c.id = t.component_id
    LEFT JOIN bmcs b ON b.id = c.bmc_id
    ORDER BY t.xname""")


CLAIM_ATTEMPTS, CLAIM_RETRY_S = 10, 0.1


def claim_batch(session: Session, task_ids: list[int], lease_s: float) -> list[tuple[Claim, Row]]:
    """Start the dispatched tasks among these, in one statement: each with its claim (attempt
    + 1, a lease) and its loaded row. Duplicate or stale IDs are left out (acknowledge and
    drop); one that another statement holds locked for a moment is tried again, up to
    CLAIM_ATTEMPTS times. A task's first claim records its `started` event."""
    if not task_ids:
        return []
    rows, wanted = [], sorted(set(task_ids))
    for attempt in range(1, CLAIM_ATTEMPTS + 1):
        now = utcnow()
        rows += session.execute(_CLAIM_BATCH, {
            "ids": wanted, "now": now, "lease_until": now + timedelta(seconds=lease_s),
            "dispatched": DISPATCHED, "running": RUNNING}).all()
        claimed = {row.task_id for row in rows}
        skipped = [i for i in wanted if i not in claimed]
        if not skipped or attempt == CLAIM_ATTEMPTS:
            break
        # Skipped yet still dispatched: the row was locked by a statement that does not claim
        # it (an UPDATE keeps the lock of a row it only re-checked until it commits). Left out,
        # the task would wait for the reaper to send it again; it is tried again shortly.
        wanted = [i for i, _ in still_dispatched(session, skipped)]
        if not wanted:
            break
        time.sleep(CLAIM_RETRY_S)
    for row in rows:
        if row.attempt == 1:   # the first claim starts the task; later ones continue it
            events.task(session, row.transition_id, row.xname, events.STARTED,
                        TASK_STATUS_FOR[RUNNING], row.description or outcomes.GATHERING_DATA)
    return [(Claim(row.task_id, row.attempt, row.transition_id, row.component_id, row.xname,
                   row.operation, row.enqueued_at), row) for row in rows]


@dataclass(frozen=True)
class Progress:
    """What a running task's step stores: its fields, and whether it stays running or waits
    (deferred until next_check_at, still holding its component's slot)."""
    claim: Claim
    phase: str
    plan: list[str]
    action: str | None
    action_sent_at: datetime | None
    deadline_at: datetime | None
    description: str
    tier: int | None
    resends: int
    moved_at: datetime | None
    task_monitor: str | None
    next_check_at: datetime | None = None     # set: the task waits until then

    @property
    def state(self) -> TaskState:
        return RUNNING if self.next_check_at is None else DEFERRED


_PROGRESS_COLUMNS = (("phase", "text"), ("plan", "text"), ("action", "text"),
                     ("action_sent_at", "timestamptz"), ("deadline_at", "timestamptz"),
                     ("description", "text"), ("tier", "smallint"), ("resends", "integer"),
                     ("moved_at", "timestamptz"), ("task_monitor", "text"),
                     ("next_check_at", "timestamptz"))
_SAVE = text(f"""
    UPDATE transition_tasks t
    SET state = u.state, plan = CAST(u.plan AS jsonb), {", ".join(
        f"{c} = u.{c}" for c, _ in _PROGRESS_COLUMNS if c != "plan")}
    FROM unnest(CAST(:id AS bigint[]), CAST(:attempt AS integer[]), CAST(:state AS text[]),
                {", ".join(f"CAST(:{c} AS {t}[])" for c, t in _PROGRESS_COLUMNS)})
         AS u(id, attempt, state, {", ".join(c for c, _ in _PROGRESS_COLUMNS)})
    WHERE t.id = u.id AND t.state = :running AND t.attempt = u.attempt
      AND NOT EXISTS (SELECT 1 FROM transitions tr
                      WHERE tr.id = t.transition_id AND tr.status = :abort_signaled)
    RETURNING t.id""")


def save(session: Session, rows: list[Progress]) -> set[int]:
    """Store the progress of running tasks in one statement, fenced: a row counts only while
    its claim still holds the task (running, same attempt) and its transition is not being
    aborted. Returns the task ids stored; for the others, see aborting()."""
    if not rows:
        return set()
    rows = sorted(rows, key=lambda r: r.claim.task_id)
    if any(r.next_check_at is not None for r in rows):
        wake_dispatchers(session)   # a step of their BMCs is no longer in flight
    params = {"id": [r.claim.task_id for r in rows], "attempt": [r.claim.attempt for r in rows],
              "state": [r.state for r in rows], "running": RUNNING,
              "abort_signaled": TransitionStatus.ABORT_SIGNALED}
    for column, _ in _PROGRESS_COLUMNS:
        params[column] = [getattr(r, column) for r in rows]
    params["plan"] = [json.dumps(r.plan) for r in rows]
    return set(session.scalars(_SAVE, params))


# Dispatchers LISTEN here; a transaction that frees a BMC's step slot or makes a task ready
# NOTIFYs it, delivered at its commit (once per transaction, however often it is called), so
# that the next task goes out at once rather than at the next poll.
DISPATCH_CHANNEL = "pcs_dispatch"


def wake_dispatchers(session: Session) -> None:
    session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": DISPATCH_CHANNEL})


def release(session: Session, claims: list[Claim], retry_at: datetime) -> set[int]:
    """Give back running tasks whose step could not finish (a database error): deferred until
    retry_at with the progress last committed, still holding their components. Fenced."""
    if not claims:
        return set()
    claims = sorted(claims, key=lambda c: c.task_id)
    return set(session.scalars(text("""
        UPDATE transition_tasks t SET state = :deferred, next_check_at = :retry_at
        FROM unnest(CAST(:id AS bigint[]), CAST(:attempt AS integer[])) AS u(id, attempt)
        WHERE t.id = u.id AND t.state = :running AND t.attempt = u.attempt
        RETURNING t.id"""), {"id": [c.task_id for c in claims],
                             "attempt": [c.attempt for c in claims], "retry_at": retry_at,
                             "deferred": DEFERRED, "running": RUNNING}))


def aborting(session: Session, transition_ids) -> set[uuid.UUID]:
    """Those of the transitions whose abort was signaled."""
    return set(session.scalars(text(
        "SELECT id FROM transitions WHERE id = ANY(:ids) AND status = :abort_signaled"),
        {"ids": sorted(set(transition_ids)), "abort_signaled": TransitionStatus.ABORT_SIGNALED}))


@dataclass(frozen=True)
class Ending:
    claim: Claim
    state: TaskState
    description: str
    error: str = ""


def finish(session: Session, endings: list[Ending]) -> set[int]:
    """End running tasks and promote the next queued task of each of their components, in one
    statement each, fenced by attempt. Returns the task ids ended.

    After the commit, call complete_if_done() in a new transaction: the check must run after
    these tasks' commit so that the last task to finish always sees every other one finished.
    """
    if not endings:
        return set()
    lock_components(session, [e.claim.component_id for e in endings])
    endings = sorted(endings, key=lambda e: e.claim.task_id)
    done = set(session.scalars(text("""
        UPDATE transition_tasks t
        SET state = u.state, description = u.description, error = u.error,
            finished_at = :now, next_check_at = NULL, lease_until = NULL, tier = NULL
        FROM unnest(CAST(:id AS bigint[]), CAST(:attempt AS integer[]), CAST(:state AS text[]),
                    CAST(:description AS text[]), CAST(:error AS text[]))
             AS u(id, attempt, state, description, error)
        WHERE t.id = u.id AND t.state = :running AND t.attempt = u.attempt
        RETURNING t.id"""), {
        "id": [e.claim.task_id for e in endings], "attempt": [e.claim.attempt for e in endings],
        "state": [e.state for e in endings], "description": [e.description for e in endings],
        "error": [e.error or "" for e in endings], "now": utcnow(), "running": RUNNING}))
    ended = [e for e in endings if e.claim.task_id in done]
    if not ended:
        return done
    events.tasks_ended(session, [(e.claim.transition_id, e.claim.xname, e.state, e.description,
                                  e.error or "") for e in ended])
    for operation in sorted({e.claim.operation for e in ended}):
        _count_ended(session, operation, [(e.state, e.error or "", e.claim.enqueued_at)
                                          for e in ended if e.claim.operation == operation])
    wake_dispatchers(session)
    promote(session, [e.claim.component_id for e in ended if e.claim.component_id is not None])
    return done


def abort(session: Session, transition_id: uuid.UUID) -> str:
    """Abort a transition: every task not executing an action now fails at once; the ones
    executing end at their next step. Returns the new status ('aborted' or 'abort-signaled').

    Raises NotFound, or TransitionFinished for a completed transition.
    """
    transition = session.scalar(select(Transition).where(Transition.id == transition_id)
                                .with_for_update())
    if transition is None:
        raise NotFound(f"transition {transition_id} not found")
    if transition.status == TransitionStatus.COMPLETED:
        raise TransitionFinished(outcomes.ALREADY_FINISHED)
    if transition.status in (TransitionStatus.ABORTED, TransitionStatus.ABORT_SIGNALED):
        return transition.status
    components = lock_components(session, session.scalars(
        select(TransitionTask.component_id).where(TransitionTask.transition_id == transition_id,
                                                  TransitionTask.state.in_(ABORTABLE))))
    ended = session.execute(text(f"""
        UPDATE transition_tasks
        SET state = :failed, error = :error, finished_at = now(), next_check_at = NULL,
            description = 'Aborted. Last status - ' ||
                          CASE WHEN description = '' THEN :new ELSE description END
        WHERE transition_id = :id AND state IN {ABORTABLE_SQL}
        RETURNING xname, state, description, error, enqueued_at
    """), {"id": transition_id, "error": outcomes.TRANSITION_ABORTED,
           "new": outcomes.GATHERING_DATA, "failed": FAILED}).all()
    _count_ended(session, transition.operation, [(r.state, r.error, r.enqueued_at) for r in ended])
    events.tasks_ended(session, [(transition_id, r.xname, r.state, r.description, r.error)
                                 for r in ended])
    promote(session, components)
    # Whatever is unfinished now is executing, or was when the UPDATE above looked and has
    # since moved on (a step that committed its deferral meanwhile): either way a worker will
    # meet the signal at its next step and end it.
    executing = session.scalar(select(func.count()).where(
        TransitionTask.transition_id == transition_id,
        TransitionTask.state.not_in(FINAL)))
    transition.status = (TransitionStatus.ABORT_SIGNALED if executing
                         else TransitionStatus.ABORTED)
    if not executing:
        transition.finished_at = utcnow()
        metrics.after_commit(session, metrics.transition_finished, transition.operation,
                             transition.status)
    events.transition(session, transition_id, transition.status)
    return transition.status


def complete_if_done(session: Session, transition_id: uuid.UUID) -> bool:
    """Mark the transition completed (or aborted, when an abort was signaled) once none of its
    tasks is unfinished."""
    ended = session.execute(text(f"""
        UPDATE transitions
        SET status = CASE WHEN status = :abort_signaled THEN :aborted ELSE :completed END,
            finished_at = now()
        WHERE id = :id AND status IN {TRANSITION_UNFINISHED_SQL}
          AND NOT EXISTS (SELECT 1 FROM transition_tasks
                          WHERE transition_id = :id AND state NOT IN {FINAL_SQL})
        RETURNING status, operation
    """), {"id": transition_id, "abort_signaled": TransitionStatus.ABORT_SIGNALED,
           "aborted": TransitionStatus.ABORTED,
           "completed": TransitionStatus.COMPLETED}).first()
    if ended:
        events.transition(session, transition_id, ended.status)
        metrics.after_commit(session, metrics.transition_finished, ended.operation, ended.status)
    return ended is not None


def complete_finished(session: Session) -> int:
    """Complete every unfinished transition whose tasks have all ended (a worker died between
    finishing its task and the completion check)."""
    ids = session.scalars(text(f"""
        SELECT t.id FROM transitions t
        WHERE t.status IN {TRANSITION_UNFINISHED_SQL}
          AND NOT EXISTS (SELECT 1 FROM transition_tasks k
                          WHERE k.transition_id = t.id AND k.state NOT IN {FINAL_SQL})
    """)).all()
    return sum(complete_if_done(session, i) for i in ids)


def reap(session: Session, settings: Settings) -> list[tuple[int, str]]:
    """The safety net. Returns tasks to publish again after commit.

    - dispatched tasks whose message has waited too long (lost with a broker restart);
    - running tasks whose lease expired (their worker died): dispatched again; the step reads
      the power state before it acts again (execution.py);
    - queue heads that a missed promotion left, and transitions whose last tasks raced.
    """
    now = utcnow()
    stale = now - timedelta(seconds=settings.redispatch_after_s)
    again = [tuple(r) for r in session.execute(text(f"""
        UPDATE transition_tasks t SET state = :dispatched, dispatched_at = :now,
            -- a task taken back from a dead worker renews its SMD reservation, or takes a new
            -- one, before it acts again (its worker stopped renewing it)
            reservation_expires_at = CASE WHEN t.state = :running THEN NULL
                                          ELSE t.reservation_expires_at END
        FROM (SELECT id FROM transition_tasks
              WHERE (state = '{DISPATCHED}' AND dispatched_at < :stale)
                 OR (state = '{RUNNING}' AND lease_until < :now)
              FOR UPDATE SKIP LOCKED) pick
        WHERE t.id = pick.id
        RETURNING t.id, t.xname
    """), {"now": now, "stale": stale, "dispatched": DISPATCHED, "running": RUNNING})]
    orphans = session.scalars(text(f"""
        SELECT c.id FROM components c
        WHERE EXISTS (SELECT 1 FROM transition_tasks q
                      WHERE q.component_id = c.id AND q.state = '{QUEUED}')
          AND NOT EXISTS (SELECT 1 FROM transition_tasks a
                          WHERE a.component_id = c.id AND a.state IN {ACTIVE_SQL})
    """))
    # promote() checks again under the locks; a component another transaction holds is
    # looked at by the next pass.
    promote(session, lock_components(session, orphans, skip_locked=True))
    time_out_queued(session, now - timedelta(seconds=settings.queue_timeout_minutes
                                             * settings.minute_s))
    complete_finished(session)
    return again


def time_out_queued(session: Session, enqueued_before: datetime) -> int:
    """Fail queued tasks that waited since before the cutoff, naming the transition they waited
    behind, and promote what is next on their components."""
    # The UPDATE below checks again under the locks; a component another transaction holds is
    # looked at by the next pass.
    components = lock_components(session, session.scalars(text(f"""
        SELECT c.id FROM components c
        WHERE EXISTS (SELECT 1 FROM transition_tasks q WHERE q.component_id = c.id
                      AND q.state = '{QUEUED}' AND q.enqueued_at < :cutoff)
    """), {"cutoff": enqueued_before}), skip_locked=True)
    if not components:
        return 0
    ended = session.execute(text(f"""
        UPDATE transition_tasks q
        SET state = :failed, finished_at = now(), description = :description,
            error = 'Timed out in queue behind transition ' || coalesce(
                (SELECT a.transition_id::text FROM transition_tasks a
                 WHERE a.component_id = q.component_id AND a.state IN {ACTIVE_SQL} LIMIT 1),
                (SELECT o.transition_id::text FROM transition_tasks o
                 WHERE o.component_id = q.component_id AND o.state = '{QUEUED}'
                   AND o.seq < q.seq ORDER BY o.seq LIMIT 1),
                'unknown')
        WHERE q.component_id = ANY(:ids) AND q.state = '{QUEUED}' AND q.enqueued_at < :cutoff
        RETURNING q.transition_id, q.xname, q.error, q.enqueued_at,
                  (SELECT operation FROM transitions tr WHERE tr.id = q.transition_id) AS operation
    """), {"ids": components, "cutoff": enqueued_before,
           "description": outcomes.FAILED_TO_ACHIEVE, "failed": FAILED}).all()
    for operation in {r.operation for r in ended}:
        _count_ended(session, operation, [(FAILED, r.error, r.enqueued_at) for r in ended
                                          if r.operation == operation])
    events.tasks_ended(session, [(r.transition_id, r.xname, FAILED,
                                  outcomes.FAILED_TO_ACHIEVE, r.error) for r in ended])
    promote(session, components)
    for transition_id in sorted({r.transition_id for r in ended}):
        complete_if_done(session, transition_id)
    return len(ended)


def _count_ended(session: Session, operation: str,
                 ended: list[tuple[str, str, datetime | None]]) -> None:
    """Count tasks that end with this transaction: (state, error, enqueued_at) each; a task
    without enqueued_at ended at submission, without running."""
    if not ended:
        return
    now = utcnow()
    by_outcome: dict[str, list] = {}
    for state, error, enqueued_at in ended:
        outcome = "aborted" if error == outcomes.TRANSITION_ABORTED else state
        by_outcome.setdefault(outcome, []).append(
            (now - enqueued_at).total_seconds() if enqueued_at else None)
    for outcome, durations in by_outcome.items():
        metrics.after_commit(session, metrics.tasks_finished, operation, outcome, durations)
