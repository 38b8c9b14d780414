"""Read-side queries for transitions: set-based, one round trip per list."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pcs.domain import outcomes
from pcs.domain.states import ACTIVE_SQL, UNFINISHED_SQL, TaskState, sql_list
from pcs.errors import NotFound
from pcs.models import TASK_STATUS_FOR, BmcExchange, Transition, TransitionTask


class TaskView(NamedTuple):
    xname: str
    state: str
    description: str
    error: str


@dataclass
class TransitionView:
    id: uuid.UUID
    operation: str
    created_at: datetime
    expires_at: datetime
    status: str
    task_counts: dict = field(default_factory=dict)
    tasks: list = field(default_factory=list)


def _empty_counts() -> dict:
    return {"total": 0, "new": 0, "in_progress": 0, "failed": 0, "succeeded": 0,
            "un_supported": 0}


_COUNT_KEY = {"new": "new", "in-progress": "in_progress", "failed": "failed",
              "succeeded": "succeeded", "unsupported": "un_supported"}


def _view(t: Transition) -> TransitionView:
    return TransitionView(t.id, t.operation, t.created_at, t.expires_at, t.status,
                          _empty_counts())


def _add_count(counts: dict, state: str, n: int) -> None:
    counts["total"] += n
    counts[_COUNT_KEY[TASK_STATUS_FOR[state]]] += n


def _shown_as(status: str) -> str:
    """The states whose PCS taskStatus is `status`, as an SQL list."""
    return sql_list(s for s, shown in TASK_STATUS_FOR.items() if shown == status)


# Task counts by PCS taskStatus, each from the states TASK_STATUS_FOR shows so (as _add_count).
_COUNTS_SQL = "\n    count(k.id) AS total,\n    " + ",\n    ".join(
    f"count(k.id) FILTER (WHERE k.state IN {_shown_as(status)}) AS {column}"
    for status, column in _COUNT_KEY.items())


def list_transitions(session: Session) -> list[TransitionView]:
    """Every transition with its task counts, in one query."""
    rows = session.execute(text(f"""
        SELECT t.id, t.operation, t.created_at, t.expires_at, t.status, {_COUNTS_SQL}
        FROM transitions t LEFT JOIN transition_tasks k ON k.transition_id = t.id
        GROUP BY t.id ORDER BY t.created_at
    """)).all()
    return [TransitionView(r.id, r.operation, r.created_at, r.expires_at, r.status,
                           {"total": r.total, "new": r.new, "in_progress": r.in_progress,
                            "failed": r.failed, "succeeded": r.succeeded,
                            "un_supported": r.un_supported}) for r in rows]


def list_transitions_json(session: Session) -> str:
    """GET /transitions' body built by PostgreSQL: 20,000 transitions in a fraction of the time
    Python takes. tests/test_wire_format_db.py proves it equal to the schema's dump of
    list_transitions()."""
    stamp = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    return session.scalar(text(f"""
        SELECT json_build_object('transitions', coalesce(json_agg(json_build_object(
                 'transitionID', s.id, 'operation', s.operation,
                 'createTime', {stamp.format("s.created_at")},
                 'automaticExpirationTime', {stamp.format("s.expires_at")},
                 'transitionStatus', s.status,
                 'taskCounts', json_build_object(
                    'total', s.total, 'new', s.new, 'in-progress', s.in_progress,
                    'failed', s.failed, 'succeeded', s.succeeded, 'un-supported', s.un_supported)
               ) ORDER BY s.created_at), '[]'::json))::text
        FROM (SELECT t.id, t.operation, t.created_at, t.expires_at, t.status, {_COUNTS_SQL}
              FROM transitions t LEFT JOIN transition_tasks k ON k.transition_id = t.id
              GROUP BY t.id) s
    """))


def get_transition(session: Session, transition_id: uuid.UUID) -> TransitionView:
    """Raises NotFound."""
    transition = session.get(Transition, transition_id)
    if transition is None:
        raise NotFound(f"transition {transition_id} not found")
    view = _view(transition)
    view.tasks = [TaskView(*row) for row in session.execute(
        select(TransitionTask.xname, TransitionTask.state, TransitionTask.description,
               TransitionTask.error)
        .where(TransitionTask.transition_id == transition_id)
        .order_by(TransitionTask.xname))]
    for task in view.tasks:
        _add_count(view.task_counts, task.state, 1)
    if view.task_counts["new"]:
        waiting = queued_descriptions(session, transition_id)
        view.tasks = [_described(t, waiting.get(t.xname)) for t in view.tasks]
    return view


def _described(task: "TaskView", description: str | None) -> "TaskView":
    return task if description is None else task._replace(description=description)


def component_queues(session: Session, names: list[str] | None = None) -> list[dict]:
    """Per component with work: its active task and its queued tasks in order.

    names None = every component with work.
    """
    rows = session.execute(text(f"""
        SELECT c.xname, t.transition_id, tr.operation, t.state, t.enqueued_at, t.started_at,
               extract(epoch FROM now() - t.started_at) AS running_s
        FROM transition_tasks t
        JOIN components c ON c.id = t.component_id
        JOIN transitions tr ON tr.id = t.transition_id
        WHERE t.state IN {UNFINISHED_SQL}
          AND (CAST(:names AS text[]) IS NULL OR c.xname = ANY(:names))
        ORDER BY c.xname, (t.state = :queued), t.seq
    """), {"names": names, "queued": TaskState.QUEUED}).all()
    queues: dict[str, dict] = {}
    for row in rows:
        entry = queues.setdefault(row.xname, {"xname": row.xname, "active": None, "queued": []})
        if row.state == TaskState.QUEUED:
            entry["queued"].append({"transition_id": row.transition_id,
                                    "operation": row.operation,
                                    "position": len(entry["queued"]) + 1,
                                    "enqueued_at": row.enqueued_at})
        else:
            entry["active"] = {"transition_id": row.transition_id, "operation": row.operation,
                               "state": row.state, "started_at": row.started_at,
                               "running_s": float(row.running_s or 0)}
    return list(queues.values())


def queued_descriptions(session: Session, transition_id: uuid.UUID) -> dict[str, str]:
    """'Queued behind transition <id> (position <n>)' for each queued task of a transition."""
    rows = session.execute(text(f"""
        SELECT q.xname,
               (SELECT a.transition_id FROM transition_tasks a
                WHERE a.component_id = q.component_id
                  AND a.state IN {ACTIVE_SQL} LIMIT 1) AS holder,
               (SELECT count(*) FROM transition_tasks o
                WHERE o.component_id = q.component_id AND o.state = '{TaskState.QUEUED}'
                  AND o.seq < q.seq) + 1 AS position
        FROM transition_tasks q
        WHERE q.transition_id = :id AND q.state = '{TaskState.QUEUED}'
    """), {"id": transition_id}).all()
    return {r.xname: outcomes.queued_behind(r.holder, r.position) for r in rows if r.holder}


def task_with_exchanges(session: Session, transition_id: uuid.UUID, xname: str, offset: int,
                        limit: int) -> dict:
    """One task and a page of the BMC exchanges made for it, oldest first. Raises NotFound."""
    task = session.execute(
        select(TransitionTask).where(TransitionTask.transition_id == transition_id,
                                     TransitionTask.xname == xname)).scalar_one_or_none()
    if task is None:
        raise NotFound(f"transition {transition_id} has no task for {xname}")
    total = session.scalar(select(func.count()).where(BmcExchange.task_id == task.id))
    exchanges = session.scalars(select(BmcExchange).where(BmcExchange.task_id == task.id)
                                .order_by(BmcExchange.id).offset(offset).limit(limit)).all()
    return {"task": task, "exchanges": exchanges,
            "page": {"offset": offset, "limit": limit, "total": total}}


def power_status_json(session: Session, names: list[str] | None, power_filter: str,
                      management_filter: str) -> tuple[set[str], str]:
    """(names found, the /power-status body for them) built by PostgreSQL, in request order
    (or xname order for all). tests/test_wire_format_db.py proves it equal to the schema.
    A known component's error is always "": BOS files components by that field, so a failed
    poll shows as undefined/unavailable here and its error on /v1/inventory/components."""
    stamp = "to_char(c.last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    row = session.execute(text(f"""
        WITH wanted AS (
            SELECT c.*, coalesce(u.n, 0) AS n
            FROM components c
            LEFT JOIN unnest(CAST(:names AS text[])) WITH ORDINALITY AS u(name, n)
                   ON u.name = c.xname
            WHERE (CAST(:names AS text[]) IS NULL OR u.name IS NOT NULL))
        SELECT array_agg(c.xname),
               json_build_object('status', coalesce(json_agg(json_build_object(
                   'xname', c.xname, 'powerState', c.power_state,
                   'managementState', c.management_state, 'error', '',
                   'supportedPowerTransitions', c.supported_transitions,
                   'lastUpdated', coalesce({stamp}, ''))
                 ORDER BY c.n, c.xname) FILTER (WHERE (:power = '' OR c.power_state = :power)
                     AND (:management = '' OR c.management_state = :management)),
               '[]'::json))::text
        FROM wanted c
    """), {"names": names, "power": power_filter, "management": management_filter}).one()
    return set(row[0] or ()), row[1]
