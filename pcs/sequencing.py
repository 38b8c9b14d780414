"""Power sequencing inside one transition: the tier gate and dependencies between components.

Queries only; the rules are in pcs.domain.tiers.
"""
from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session

from pcs.domain.tiers import is_descendant

_UNFINISHED = "('queued','ready','dispatched','running','deferred')"


def earlier_tier_pending(session: Session, transition_id: uuid.UUID, task_id: int,
                         tier: int) -> bool:
    """True while another unfinished task of the transition has an action in an earlier tier."""
    return bool(session.scalar(text(f"""
        SELECT EXISTS (SELECT 1 FROM transition_tasks
                       WHERE transition_id = :t AND id <> :id AND tier < :tier
                         AND state IN {_UNFINISHED})
    """), {"t": transition_id, "id": task_id, "tier": tier}))


def failed_descendant(session: Session, transition_id: uuid.UUID, xname: str) -> str | None:
    """A failed task of the transition on a component below `xname`, if any."""
    rows = session.scalars(text("""
        SELECT xname FROM transition_tasks
        WHERE transition_id = :t AND state = 'failed' AND xname LIKE :prefix
        ORDER BY xname
    """), {"t": transition_id, "prefix": xname + "%"}).all()
    return next((name for name in rows if is_descendant(name, xname)), None)


def ancestor_in_transition(session: Session, transition_id: uuid.UUID, xname: str) -> bool:
    """Whether the transition also acts on a component above `xname` (a slot or chassis whose
    power-on this component's controller must wait for)."""
    rows = session.scalars(text("""
        SELECT xname FROM transition_tasks
        WHERE transition_id = :t AND :name LIKE xname || '%' AND xname <> :name
    """), {"t": transition_id, "name": xname}).all()
    return any(is_descendant(xname, name) for name in rows)
