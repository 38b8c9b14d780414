"""Administrator locks: a locked component is never queued; its work fails at once."""
from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from pcs.errors import NotFound
from pcs.models import ComponentLock


def lock(session: Session, names: list[str], reason: str, locked_by: dict) -> list[ComponentLock]:
    """Lock each name (already normalized); locking a locked name keeps the first lock."""
    if names:
        session.execute(pg_insert(ComponentLock).values(
            [{"xname": n, "reason": reason, "locked_by": locked_by} for n in names])
            .on_conflict_do_nothing(index_elements=[ComponentLock.xname]))
    return list(session.scalars(select(ComponentLock).where(ComponentLock.xname.in_(names))
                                .order_by(ComponentLock.xname)))


def list_locks(session: Session) -> list[ComponentLock]:
    return list(session.scalars(select(ComponentLock).order_by(ComponentLock.xname)))


def unlock(session: Session, name: str) -> None:
    """Raises NotFound when the component is not locked."""
    if not session.execute(delete(ComponentLock).where(ComponentLock.xname == name)).rowcount:
        raise NotFound(f"{name} is not locked")
