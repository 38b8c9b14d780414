"""Expiry and retention of transitions (API.md): records live PCS_EXPIRE_TIME_MINS after creation
(a still-running one is aborted then) and at most PCS_MAX_NUM_COMPLETED finished ones are kept."""
from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from pcs.queue import scheduler
from pcs.config import Settings
from pcs.domain.states import TRANSITION_ENDED_SQL, TransitionStatus
from pcs.models import Transition


def expire(session: Session, settings: Settings) -> dict:
    """Abort expired unfinished transitions, delete expired and surplus finished ones (their
    tasks, exchanges and events go with them). Returns counts."""
    now = scheduler.utcnow()
    overdue = session.scalars(
        select(Transition.id).where(Transition.expires_at <= now,
                                    Transition.status.in_((TransitionStatus.NEW,
                                                           TransitionStatus.IN_PROGRESS)))
        .order_by(Transition.created_at).limit(100)).all()
    for transition_id in overdue:
        scheduler.abort(session, transition_id)
    # Transitions aborted just now stay until the next pass, so that their end is recorded.
    deleted = session.execute(text(f"""
        DELETE FROM transitions
        WHERE status IN {TRANSITION_ENDED_SQL} AND NOT id = ANY(:just_aborted)
          AND (expires_at <= :now
               OR id IN (SELECT id FROM transitions WHERE status IN {TRANSITION_ENDED_SQL}
                         ORDER BY created_at DESC OFFSET :keep))
    """), {"now": now, "keep": settings.max_num_completed,
           "just_aborted": list(overdue)}).rowcount
    return {"aborted": len(overdue), "deleted": deleted}
