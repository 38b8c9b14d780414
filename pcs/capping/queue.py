"""The power-cap queue: submit, promote, dispatch, claim, finish, reap, expire.

The only code that moves a power-cap task between states. A patch waits only behind earlier
patches of the same component: the partial unique index `uq_power_cap_active_patch` holds one
active patch per component, and queued ones follow their sequence numbers, taken in component
lock order (scheduler.lock_components, the one place that locks components) as transitions do.
A snapshot only reads, so it never waits; neither kind waits behind a power transition. The
per-BMC limit on steps in flight counts transition and power-cap steps together.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from pcs.config import Settings
from pcs.queue.scheduler import BUSY_PER_BMC_SQL, lock_components, utcnow
from pcs.domain.capping import CapEntry, CapPlan, EntryStatus
from pcs.domain.states import CAP_ACTIVE_SQL, CAP_UNFINISHED_SQL
from pcs.models import DISPATCHED, FAILED, QUEUED, READY, RUNNING, SUCCEEDED, UNSUPPORTED, PowerCap

NEW, IN_PROGRESS, COMPLETED = "new", "in-progress", "completed"


@dataclass(frozen=True)
class PlannedTask:
    xname: str
    component_id: int | None
    plan: CapPlan


def final_state(entries: list[CapEntry]) -> str:
    """A task's end state from its entries: failed if any failed, unsupported if all are."""
    statuses = {e.status for e in entries}
    if EntryStatus.FAILED in statuses:
        return FAILED
    if statuses == {EntryStatus.UNSUPPORTED}:
        return UNSUPPORTED
    return SUCCEEDED


def submit(session: Session, settings: Settings, kind: str, planned: list[PlannedTask],
           requested_by: dict) -> PowerCap:
    """Store a power cap with one task per component. Tasks with BMC work are ready at once,
    except a patch behind another unfinished patch of its component, which is queued."""
    now = utcnow()
    cap = PowerCap(id=uuid.uuid4(), type=kind, status=NEW, created_at=now,
                   requested_by=requested_by,
                   expires_at=now + timedelta(seconds=settings.expire_time_mins
                                              * settings.minute_s))
    session.add(cap)
    session.flush()
    planned = sorted(planned, key=lambda p: p.xname)
    runnable_ids = sorted({p.component_id for p in planned
                           if p.plan.operations and p.component_id is not None})
    busy: set[int] = set()
    if kind == "patch" and runnable_ids:
        # FIFO follows lock order: sequence numbers are taken while the rows are held.
        lock_components(session, runnable_ids)
        busy = set(session.scalars(text(f"""
            SELECT DISTINCT component_id FROM power_cap_tasks
            WHERE component_id = ANY(:ids) AND kind = 'patch'
              AND state IN {CAP_UNFINISHED_SQL}"""),
            {"ids": runnable_ids}))
    rows = []
    for p in planned:
        entries = [e.to_json() for e in p.plan.entries]
        if p.plan.operations:
            state = QUEUED if p.component_id in busy else READY
            finished = None
        else:
            state, finished = final_state(p.plan.entries), now
        rows.append({"cap": cap.id, "xname": p.xname, "component_id": p.component_id,
                     "kind": kind, "state": state, "operations": p.plan.operations,
                     "requested": json.dumps(list(p.plan.values.items())),
                     "entries": json.dumps(entries),
                     "finished_at": finished, "now": now})
    if rows:
        session.execute(text("""
            INSERT INTO power_cap_tasks (power_cap_id, xname, component_id, kind, state,
                                         operations, requested, entries, finished_at, enqueued_at)
            VALUES (:cap, :xname, :component_id, :kind, :state, :operations,
                    CAST(:requested AS jsonb), CAST(:entries AS jsonb), :finished_at, :now)"""),
            rows)
    if not any(p.plan.operations for p in planned):
        cap.status, cap.finished_at = COMPLETED, now
    return cap


def promote(session: Session, component_ids: list[int]) -> int:
    """Make the oldest queued patch ready on each given component without an active patch.
    The caller holds the components' row locks."""
    if not component_ids:
        return 0
    return session.execute(text(f"""
        UPDATE power_cap_tasks t SET state = :ready
        FROM (SELECT DISTINCT ON (q.component_id) q.id, q.component_id
              FROM power_cap_tasks q
              WHERE q.component_id = ANY(:ids) AND q.state = '{QUEUED}'
              ORDER BY q.component_id, q.seq) head
        WHERE t.id = head.id
          AND NOT EXISTS (SELECT 1 FROM power_cap_tasks a
                          WHERE a.component_id = head.component_id AND a.kind = 'patch'
                            AND a.state IN {CAP_ACTIVE_SQL})
    """), {"ids": list(component_ids), "ready": READY}).rowcount


_DISPATCH = text(f"""
    UPDATE power_cap_tasks t SET state = '{DISPATCHED}', dispatched_at = :now
    FROM (SELECT id FROM power_cap_tasks
          WHERE state = '{READY}' AND id IN (
              SELECT r.id
              FROM (SELECT q.id, q.seq, c.bmc_id,
                           row_number() OVER (PARTITION BY c.bmc_id ORDER BY q.seq) AS nth
                    FROM (SELECT id, component_id, seq FROM power_cap_tasks
                          WHERE state = '{READY}' ORDER BY seq LIMIT :scan) q
                    LEFT JOIN components c ON c.id = q.component_id) r
              LEFT JOIN ({BUSY_PER_BMC_SQL}) b ON b.bmc_id = r.bmc_id
              WHERE r.bmc_id IS NULL OR r.nth + coalesce(b.busy, 0) <= :per_bmc
              ORDER BY r.seq LIMIT :budget)
          FOR UPDATE SKIP LOCKED) pick
    WHERE t.id = pick.id
    RETURNING t.id, t.xname, t.power_cap_id""")


def dispatch(session: Session, now: datetime, budget: int,
             per_bmc: int) -> list[tuple[int, str]]:
    """Move up to `budget` ready tasks to dispatched, oldest first, at most `per_bmc` steps of
    one BMC in flight. Runs in the dispatcher's transaction (its advisory lock keeps the
    per-BMC counts true); publish after commit."""
    if budget <= 0:
        return []
    picked = session.execute(_DISPATCH, {"now": now, "budget": budget, "per_bmc": per_bmc,
                                         "scan": 4 * budget}).all()
    started = sorted({row.power_cap_id for row in picked})
    if started:
        session.execute(text(f"UPDATE power_caps SET status = '{IN_PROGRESS}' "
                             f"WHERE id = ANY(:ids) AND status = '{NEW}'"), {"ids": started})
    return [(row.id, row.xname) for row in picked]


def dispatched_count(session: Session) -> int:
    return session.scalar(text(f"SELECT count(*) FROM power_cap_tasks "
                               f"WHERE state = '{DISPATCHED}'"))


@dataclass(frozen=True)
class CapClaim:
    task_id: int
    attempt: int
    power_cap_id: uuid.UUID
    component_id: int | None
    xname: str


def claim(session: Session, task_id: int, lease_s: float) -> CapClaim | None:
    """Start a dispatched task; None for a duplicate or stale message."""
    now = utcnow()
    row = session.execute(text(f"""
        UPDATE power_cap_tasks
        SET state = '{RUNNING}', attempt = attempt + 1, lease_until = :lease_until,
            started_at = coalesce(started_at, :now)
        WHERE id = :id AND state = '{DISPATCHED}'
        RETURNING attempt, power_cap_id, component_id, xname"""),
        {"id": task_id, "now": now, "lease_until": now + timedelta(seconds=lease_s)}).first()
    if row is None:
        return None
    return CapClaim(task_id, row.attempt, row.power_cap_id, row.component_id, row.xname)


def finish(session: Session, claim: CapClaim, entries: list[CapEntry]) -> bool:
    """End a running task with its entries (appended to those decided at submit) and promote
    the next queued patch of its component. Fenced by attempt: a worker presumed dead changes
    nothing. Call complete_if_done() after the commit."""
    lock_components(session, [claim.component_id])
    earlier = session.scalar(text("SELECT entries FROM power_cap_tasks WHERE id = :id"),
                             {"id": claim.task_id}) or []
    every = [CapEntry.from_json(e) for e in earlier] + list(entries)
    done = session.execute(text(f"""
        UPDATE power_cap_tasks
        SET state = :state, entries = CAST(:entries AS jsonb), finished_at = now(),
            lease_until = NULL, operations = 0
        WHERE id = :id AND state = '{RUNNING}' AND attempt = :attempt"""),
        {"state": final_state(every), "entries": json.dumps([e.to_json() for e in every]),
         "id": claim.task_id, "attempt": claim.attempt}).rowcount == 1
    if done and claim.component_id is not None:
        promote(session, [claim.component_id])
    return done


def complete_if_done(session: Session, power_cap_id: uuid.UUID) -> bool:
    return session.execute(text(f"""
        UPDATE power_caps SET status = '{COMPLETED}', finished_at = now()
        WHERE id = :id AND status <> '{COMPLETED}'
          AND NOT EXISTS (SELECT 1 FROM power_cap_tasks
                          WHERE power_cap_id = :id AND finished_at IS NULL)"""),
        {"id": power_cap_id}).rowcount == 1


def reap(session: Session, settings: Settings) -> list[tuple[int, str]]:
    """The safety net; returns tasks to publish again after commit: dispatched ones whose
    message was lost, and running ones whose worker died (their lease ran out). A step run
    again reads the BMC before it writes, so a patch is never applied twice blindly."""
    now = utcnow()
    again = [tuple(r) for r in session.execute(text(f"""
        UPDATE power_cap_tasks t SET state = '{DISPATCHED}', dispatched_at = :now
        FROM (SELECT id FROM power_cap_tasks
              WHERE (state = '{DISPATCHED}' AND dispatched_at < :stale)
                 OR (state = '{RUNNING}' AND lease_until < :now)
              FOR UPDATE SKIP LOCKED) pick
        WHERE t.id = pick.id
        RETURNING t.id, t.xname"""),
        {"now": now, "stale": now - timedelta(seconds=settings.redispatch_after_s)})]
    orphans = session.scalars(text(f"""
        SELECT c.id FROM components c
        WHERE EXISTS (SELECT 1 FROM power_cap_tasks q
                      WHERE q.component_id = c.id AND q.state = '{QUEUED}')
          AND NOT EXISTS (SELECT 1 FROM power_cap_tasks a
                          WHERE a.component_id = c.id AND a.kind = 'patch'
                            AND a.state IN {CAP_ACTIVE_SQL})"""))
    # promote() checks again under the locks; a component another transaction holds is
    # looked at by the next pass.
    promote(session, lock_components(session, orphans, skip_locked=True))
    for cap_id in session.scalars(text(f"""
            SELECT p.id FROM power_caps p WHERE p.status <> '{COMPLETED}'
              AND NOT EXISTS (SELECT 1 FROM power_cap_tasks k
                              WHERE k.power_cap_id = p.id AND k.finished_at IS NULL)""")).all():
        complete_if_done(session, cap_id)
    return again


def expire(session: Session, settings: Settings) -> int:
    """Delete power caps past their expiry and completed ones beyond PCS_MAX_NUM_COMPLETED,
    oldest first (their tasks and exchanges go with them). Returns how many."""
    return session.execute(text(f"""
        DELETE FROM power_caps
        WHERE expires_at <= :now
           OR id IN (SELECT id FROM power_caps WHERE status = '{COMPLETED}'
                     ORDER BY created_at DESC OFFSET :keep)"""),
        {"now": utcnow(), "keep": settings.max_num_completed}).rowcount
