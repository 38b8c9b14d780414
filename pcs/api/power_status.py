"""The /power-status blueprint (PCS v1): the stored power state of components."""
from __future__ import annotations

import json

from flask import Blueprint, request

from pcs import queries
from pcs.api.body import at_most, json_body
from pcs.api.schemas import PowerStatusList, PowerStatusQuery
from pcs.api.services import services
from pcs.domain import xnames
from pcs.errors import InvalidRequest

bp = Blueprint("power_status", __name__)

POWER_STATES = ("on", "off", "undefined")
# Upstream accepts these transient states as filters; no stored state ever equals them.
POWER_FILTERS = POWER_STATES + ("poweringon", "poweringoff")
MANAGEMENT_STATES = ("available", "unavailable")
NOT_IN_MAP = "Component not found in component map."
NO_POWER_DATA = "Component can not have power state and managment state data"   # sic, upstream


@bp.get("/power-status")
def get_power_status():
    at_most({"xname": request.args.getlist("xname")}, "xname",
            services().settings.max_locations)
    return _answer(request.args.getlist("xname"), request.args.get("powerStateFilter", ""),
                   request.args.get("managementStateFilter", ""))


@bp.post("/power-status")
def post_power_status():
    args = PowerStatusQuery().load(at_most(json_body(), "xname",
                                           services().settings.max_locations))
    return _answer(args["xname"], args["powerStateFilter"], args["managementStateFilter"])


def _answer(names: list[str], power_filter: str, management_filter: str):
    """Raises InvalidRequest with upstream's texts for bad names and filters."""
    parsed = {name: xnames.parse(name) for name in names}
    bad = [name for name, p in parsed.items() if p is None]
    if bad:
        raise InvalidRequest(f"invalid xnames detected: {' '.join(bad)}")
    if power_filter and power_filter.lower() not in POWER_FILTERS:
        raise InvalidRequest(f"invalid powerStateFilter type: {power_filter}")
    if management_filter and management_filter.lower() not in MANAGEMENT_STATES:
        raise InvalidRequest(f"invalid ManagementStateFilter type: {management_filter}")
    power_filter, management_filter = power_filter.lower(), management_filter.lower()
    wanted = list(dict.fromkeys(p.name for p in parsed.values()))   # duplicates folded
    with services().db.transaction() as session:
        found, body = queries.power_status_json(session, wanted or None, power_filter,
                                                management_filter)
    # Listed whatever the filters: upstream reports each name it has no record of.
    missing = [_missing(name) for name in wanted if name not in found]
    if missing:   # a few names the inventory lacks: append them to the database-built list
        status = json.loads(body)["status"] + PowerStatusList().dump({"status": missing})[
            "status"]
        body = json.dumps({"status": status})
    return body, 200, {"Content-Type": "application/json"}


def _missing(name: str) -> dict:
    parsed = xnames.parse(name)
    error = NOT_IN_MAP if parsed.controllable else NO_POWER_DATA
    return {"xname": name, "powerState": "", "managementState": "", "error": error,
            "supportedPowerTransitions": None, "lastUpdated": None}
