"""The /power-status blueprint (PCS v1): the stored power state of components."""
from __future__ import annotations

from flask import Blueprint, request
from marshmallow import EXCLUDE, Schema, fields
from sqlalchemy import select

from pcs.api.body import json_body
from pcs.api.schemas import PowerStatusList, StrictString
from pcs.api.services import services
from pcs.domain import xnames
from pcs.domain.operations import supported_operations
from pcs.errors import InvalidRequest
from pcs.models import Component

bp = Blueprint("power_status", __name__)

POWER_STATES = ("on", "off", "undefined")
MANAGEMENT_STATES = ("available", "unavailable")
NOT_IN_MAP = "Component not found in component map."
NO_POWER_DATA = "Component can not have power state and managment state data"   # sic, upstream


class PowerStatusQuery(Schema):
    class Meta:
        unknown = EXCLUDE
    xname = fields.List(StrictString(), load_default=list)
    powerStateFilter = StrictString(load_default="")
    managementStateFilter = StrictString(load_default="")


@bp.get("/power-status")
def get_power_status():
    return _answer(request.args.getlist("xname"), request.args.get("powerStateFilter", ""),
                   request.args.get("managementStateFilter", ""))


@bp.post("/power-status")
def post_power_status():
    args = PowerStatusQuery().load(json_body())
    return _answer(args["xname"], args["powerStateFilter"], args["managementStateFilter"])


def _answer(names: list[str], power_filter: str, management_filter: str):
    """Raises InvalidRequest with upstream's texts for bad names and filters."""
    parsed = {name: xnames.parse(name) for name in names}
    bad = [name for name, p in parsed.items() if p is None]
    if bad:
        raise InvalidRequest(f"invalid xnames detected: {' '.join(bad)}")
    if power_filter and power_filter.lower() not in POWER_STATES:
        raise InvalidRequest(f"invalid powerStateFilter type: {power_filter}")
    if management_filter and management_filter.lower() not in MANAGEMENT_STATES:
        raise InvalidRequest(f"invalid ManagementStateFilter type: {management_filter}")
    power_filter, management_filter = power_filter.lower(), management_filter.lower()
    wanted = list(dict.fromkeys(p.name for p in parsed.values()))   # duplicates folded
    with services().db.transaction() as session:
        query = select(Component.xname, Component.type, Component.power_state,
                       Component.management_state, Component.status_error,
                       Component.allowable_values, Component.last_updated)
        if wanted:
            query = query.where(Component.xname.in_(wanted))
        stored = {row.xname: row for row in session.execute(query.order_by(Component.xname))}
    entries = []
    for name in wanted or list(stored):
        row = stored.get(name)
        if row is None:
            entries.append(_missing(name))
            continue
        if power_filter and row.power_state != power_filter:
            continue
        if management_filter and row.management_state != management_filter:
            continue
        entries.append({"xname": row.xname, "powerState": row.power_state,
                        "managementState": row.management_state, "error": row.status_error,
                        "supportedPowerTransitions": [
                            op.value for op in supported_operations(row.allowable_values)],
                        "lastUpdated": row.last_updated})
    if power_filter or management_filter:
        entries = [e for e in entries if e["powerState"]]   # records without state never match
    return PowerStatusList().dump({"status": entries})


def _missing(name: str) -> dict:
    parsed = xnames.parse(name)
    error = NOT_IN_MAP if parsed.controllable else NO_POWER_DATA
    return {"xname": name, "powerState": "", "managementState": "", "error": error,
            "supportedPowerTransitions": None, "lastUpdated": None}
