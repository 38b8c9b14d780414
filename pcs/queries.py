"""Read-side queries for transitions: set-based, one round trip per list."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pcs.domain import outcomes
from pcs.errors import NotFound
from pcs.models import TASK_STATUS_FOR, Transition, TransitionTask


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


def list_transitions(session: Session) -> list[TransitionView]:
    views = {t.id: _view(t) for t in session.scalars(
        select(Transition).order_by(Transition.created_at))}
    for transition_id, state, n in session.execute(
            select(TransitionTask.transition_id, TransitionTask.state, func.count())
            .group_by(TransitionTask.transition_id, TransitionTask.state)):
        if transition_id in views:
            _add_count(views[transition_id].task_counts, state, n)
    return list(views.values())


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
    rows = session.execute(text("""
        SELECT c.xname, t.transition_id, tr.operation, t.state, t.enqueued_at, t.started_at,
               extract(epoch FROM now() - t.started_at) AS running_s
        FROM transition_tasks t
        JOIN components c ON c.id = t.component_id
        JOIN transitions tr ON tr.id = t.transition_id
        WHERE t.state IN ('queued','ready','dispatched','running','deferred')
          AND (CAST(:names AS text[]) IS NULL OR c.xname = ANY(:names))
        ORDER BY c.xname, (t.state = 'queued'), t.seq
    """), {"names": names}).all()
    queues: dict[str, dict] = {}
    for row in rows:
        entry = queues.setdefault(row.xname, {"xname": row.xname, "active": None, "queued": []})
        if row.state == "queued":
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
    rows = session.execute(text("""
        SELECT q.xname,
               (SELECT a.transition_id FROM transition_tasks a
                WHERE a.component_id = q.component_id
                  AND a.state IN ('ready','dispatched','running','deferred') LIMIT 1) AS holder,
               (SELECT count(*) FROM transition_tasks o
                WHERE o.component_id = q.component_id AND o.state = 'queued'
                  AND o.seq < q.seq) + 1 AS position
        FROM transition_tasks q
        WHERE q.transition_id = :id AND q.state = 'queued'
    """), {"id": transition_id}).all()
    return {r.xname: outcomes.queued_behind(r.holder, r.position) for r in rows if r.holder}
