"""Read side of power caps: the list, one power cap with its components, one component's
exchanges. Set-based: one query per list."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pcs.domain.capping import CapEntry, merge_component
from pcs.errors import NotFound
from pcs.models import BmcExchange, PowerCap, PowerCapTask

# A task not finished yet counts its BMC operations still to run as new or in-progress.
_PENDING_STATUS = {"queued": "new", "ready": "new", "dispatched": "new", "running": "in_progress"}
_ENTRY_STATUS = {"succeeded": "succeeded", "failed": "failed", "unsupported": "un_supported"}


@dataclass
class PowerCapView:
    id: uuid.UUID
    type: str
    created_at: datetime
    expires_at: datetime
    status: str
    task_counts: dict = field(default_factory=dict)
    components: list[dict] = field(default_factory=list)


def _counts(tasks) -> dict:
    counts = dict.fromkeys(("total", "new", "in_progress", "failed", "succeeded",
                            "un_supported"), 0)
    for task in tasks:
        for entry in task.entries:
            counts[_ENTRY_STATUS[entry["status"]]] += 1
            counts["total"] += 1
        if task.finished_at is None:
            counts[_PENDING_STATUS[task.state]] += task.operations
            counts["total"] += task.operations
    return counts


def _tasks(session: Session, cap_ids: list[uuid.UUID]):
    return session.execute(
        select(PowerCapTask.power_cap_id, PowerCapTask.xname, PowerCapTask.state,
               PowerCapTask.operations, PowerCapTask.entries, PowerCapTask.finished_at)
        .where(PowerCapTask.power_cap_id.in_(cap_ids)).order_by(PowerCapTask.xname)).all()


def _view(cap: PowerCap, tasks) -> PowerCapView:
    return PowerCapView(cap.id, cap.type, cap.created_at, cap.expires_at, cap.status,
                        _counts(tasks))


def list_power_caps(session: Session) -> list[PowerCapView]:
    caps = session.scalars(select(PowerCap).order_by(PowerCap.created_at)).all()
    by_cap: dict[uuid.UUID, list] = {}
    for task in _tasks(session, [c.id for c in caps]) if caps else []:
        by_cap.setdefault(task.power_cap_id, []).append(task)
    return [_view(cap, by_cap.get(cap.id, [])) for cap in caps]


def get_power_cap(session: Session, power_cap_id: uuid.UUID) -> PowerCapView:
    """The power cap with one merged entry per component, in xname order. Raises NotFound."""
    cap = session.get(PowerCap, power_cap_id)
    if cap is None:
        raise NotFound(f"power-cap task {power_cap_id} not found")
    tasks = _tasks(session, [cap.id])
    view = _view(cap, tasks)
    view.components = [merge_component(t.xname, [CapEntry.from_json(e) for e in t.entries])
                       for t in tasks]
    return view


def task_with_exchanges(session: Session, power_cap_id: uuid.UUID, xname: str, offset: int,
                        limit: int) -> dict:
    """One component's task and a page of its BMC exchanges, oldest first. Raises NotFound."""
    task = session.execute(select(PowerCapTask).where(
        PowerCapTask.power_cap_id == power_cap_id,
        PowerCapTask.xname == xname)).scalar_one_or_none()
    if task is None:
        raise NotFound(f"power-cap task {power_cap_id} has no component {xname}")
    total = session.scalar(select(func.count()).where(BmcExchange.cap_task_id == task.id))
    found = session.scalars(select(BmcExchange).where(BmcExchange.cap_task_id == task.id)
                            .order_by(BmcExchange.id).offset(offset).limit(limit)).all()
    component = merge_component(task.xname, [CapEntry.from_json(e) for e in task.entries])
    return {"task": task, "component": component, "exchanges": found,
            "page": {"offset": offset, "limit": limit, "total": total}}


def component_ids(session: Session, names: list[str]) -> dict[str, tuple[int, str, dict | None]]:
    """Per stored xname: (component id, type, capping data)."""
    rows = session.execute(text("SELECT id, xname, type, capping FROM components "
                                "WHERE xname = ANY(:names)"), {"names": names}).all()
    return {r.xname: (r.id, r.type, r.capping) for r in rows}
