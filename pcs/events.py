"""Task and transition events: rows with a monotonic id, replayable; published after commit."""
from __future__ import annotations

import uuid

from sqlalchemy import insert
from sqlalchemy.orm import Session

from pcs.models import Event


def record(session: Session, transition_id: uuid.UUID | None, kind: str,
           xname: str | None = None, **data) -> None:
    session.execute(insert(Event).values(transition_id=transition_id, xname=xname, kind=kind,
                                         data=data))


def record_many(session: Session, rows: list[dict]) -> None:
    """rows: dicts with transition_id, kind, xname, data."""
    if rows:
        session.execute(insert(Event), rows)
