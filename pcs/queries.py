"""Read-side queries for transitions: set-based, one round trip per list."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pcs.errors import NotFound
from pcs.models import TASK_STATUS_FOR, Transition, TransitionTask


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
    view.tasks = list(session.execute(
        select(TransitionTask.xname, TransitionTask.state, TransitionTask.description,
               TransitionTask.error)
        .where(TransitionTask.transition_id == transition_id)
        .order_by(TransitionTask.xname)))
    for task in view.tasks:
        _add_count(view.task_counts, task.state, 1)
    return view
