"""The /power-cap blueprint (PCS v1), and the exchanges of one component (an addition)."""
from __future__ import annotations

from flask import Blueprint, request

from pcs.api.ids import parse_uuid
from pcs.api.power_cap_schemas import (CapTaskExchanges, PowerCapCreated, PowerCapDetail,
                                       PowerCapList, load_patch, load_snapshot)
from pcs.api.schemas import PageArgs
from pcs.api.services import services
from pcs.capping import requests, views
from pcs.domain import outcomes, xnames
from pcs.errors import InvalidRequest, TooManyLocations

bp = Blueprint("power_cap", __name__)
added_bp = Blueprint("power_cap_added", __name__)


def _requested_by() -> dict:
    return {"address": request.remote_addr, "userAgent": request.headers.get("User-Agent", "")}


def _within_limit(settings, count: int) -> None:
    """Raises TooManyLocations above PCS_MAX_LOCATIONS, as for transitions."""
    if count > settings.max_locations:
        raise TooManyLocations(f"{count} components; at most {settings.max_locations} per "
                               "request (PCS_MAX_LOCATIONS)")


def _created(cap):
    return PowerCapCreated().dump(cap), 200, {"Location": f"../power-cap/{cap.id}"}


@bp.post("/power-cap/snapshot")
def snapshot():
    svc = services()
    names = load_snapshot(request.get_data())
    if not names:
        raise InvalidRequest(outcomes.CAP_XNAME_LIST_EMPTY)
    _within_limit(svc.settings, len(names))
    svc.publisher.ping()   # broker down: 503 before anything is stored
    cap = requests.submit_snapshot(svc.settings, svc.db, svc.inventory, names, _requested_by())
    svc.dispatch_after_commit()
    return _created(cap)


@bp.patch("/power-cap")
def patch():
    svc = services()
    components = load_patch(request.get_data())
    _within_limit(svc.settings, len(components))
    bad = [xname for xname, controls in components
           if any(name == "" or value < 0 for name, value in controls)]
    if bad:
        raise InvalidRequest(outcomes.invalid_control_parameters(bad))
    svc.publisher.ping()
    cap = requests.submit_patch(svc.settings, svc.db, svc.inventory, components,
                                _requested_by())
    svc.dispatch_after_commit()
    return _created(cap)


@bp.get("/power-cap")
def list_power_caps():
    with services().db.transaction() as session:
        caps = views.list_power_caps(session)
    return PowerCapList().dump({"tasks": caps})


@bp.get("/power-cap/<task_id>")
def get_power_cap(task_id: str):
    with services().db.transaction() as session:
        cap = views.get_power_cap(session, parse_uuid(task_id))
    return PowerCapDetail().dump(cap)


@added_bp.get("/power-cap/<task_id>/components/<xname>")
def get_component(task_id: str, xname: str):
    """Every Redfish exchange made for one component of a power cap, paginated."""
    page = PageArgs().load(request.args)
    with services().db.transaction() as session:
        found = views.task_with_exchanges(session, parse_uuid(task_id), xnames.normalize(xname),
                                          page["offset"], page["limit"])
    return CapTaskExchanges().dump(found)
