"""A snapshot or patch request turned into stored power-cap tasks: xnames checked, the inventory
read (SMD afresh in smd mode, before anything is stored and outside any transaction), each
component planned by the pure rules of domain.capping, then one transaction stores it all."""
from __future__ import annotations

from pcs.capping import queue, views
from pcs.config import Settings
from pcs.db import Database
from pcs.domain import outcomes, xnames
from pcs.domain.capping import CapInfo, CapPlan, CapTarget, failed, plan_patch, plan_snapshot
from pcs.models import PowerCap
from pcs.sources.inventory import InventorySource
from pcs.sources.smd import field


def submit_snapshot(settings: Settings, db: Database, inventory: InventorySource,
                    names: list[str], requested_by: dict) -> PowerCap:
    return _submit(settings, db, inventory, "snapshot",
                   [(name, None) for name in names], requested_by)


def submit_patch(settings: Settings, db: Database, inventory: InventorySource,
                 components: list[tuple[str, list[tuple[str, int]]]],
                 requested_by: dict) -> PowerCap:
    """components: (xname, [(control name, watts), ...]) in request order."""
    return _submit(settings, db, inventory, "patch", components, requested_by)


def _submit(settings, db, inventory, kind, requested, requested_by) -> PowerCap:
    # One entry per distinct name: an xname given twice merges its controls (the later value
    # of a control wins), as upstream's map does.
    wanted: dict[str, dict[str, int] | None] = {}
    invalid: list[str] = []
    for raw, controls in requested:
        parsed = xnames.parse(raw)
        if parsed is None:
            if raw not in invalid:
                invalid.append(raw)
            continue
        if kind == "patch":
            wanted.setdefault(parsed.name, {}).update(dict(controls or []))
        else:
            wanted.setdefault(parsed.name, None)
    errors, records = inventory.prepare_components(db, sorted(wanted))
    with db.transaction() as session:
        stored = views.component_ids(session, sorted(wanted))
    planned = [queue.PlannedTask(raw, None, CapPlan([failed(outcomes.INVALID_XNAME)]))
               for raw in invalid]
    for name, values in wanted.items():
        component_id, plan = None, None
        if name in errors:
            plan = CapPlan([failed(errors[name])])
        elif name not in stored:
            plan = CapPlan([failed(outcomes.XNAME_NOT_FOUND_IN_HSM)])
        else:
            component_id, type_, capping = stored[name]
            role = field(records.get(name), "Role")
            target = CapTarget(type_, str(role) if role else None, CapInfo.from_json(capping))
            plan = plan_snapshot(target) if kind == "snapshot" else plan_patch(target, values)
        planned.append(queue.PlannedTask(name, component_id, plan))
    with db.transaction() as session:
        return queue.submit(session, settings, kind, planned, requested_by)
