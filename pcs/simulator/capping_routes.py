"""The capping resources of a node BMC as a route table: one handler per route.

Each handler takes the BMC's capping, the node (system name), the matched path and its
placeholders, and the request body, and returns (status, body) from the pure state in ``capping``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from .capping import (Answer, BmcCapping, Limit, apollo_body, apply, check_value,
                      chassis_id, control_body, control_change, controls_collection,
                      node_chassis, power_body, refused)
from .routing import NotAllowed, RouteTable, redfish_segments


@dataclass(frozen=True)
class PathMatch:
    """The matched path (without trailing slashes) and its placeholders."""
    path: str
    values: Dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.values[name]


Handler = Callable[[BmcCapping, str, PathMatch, Any], Answer]


@dataclass(frozen=True)
class CapRoute:
    method: str
    path: str
    styles: Tuple[str, ...]
    handler: Handler


def _chassis(capping: BmcCapping, system: str, match, body) -> Answer:
    return 200, node_chassis(capping, system)


def _controls(capping: BmcCapping, system: str, match, body) -> Answer:
    return 200, controls_collection(capping, system)


def _limit(capping: BmcCapping, system: str, key: str) -> Optional[Limit]:
    return next((lim for lim in capping.nodes[system] if lim.key == key), None)


def _control(capping: BmcCapping, system: str, match, body) -> Answer:
    limit = _limit(capping, system, match["key"])
    if limit is None:
        return _missing(match.path)
    return 200, control_body(capping, system, limit)


def _patch_control(capping: BmcCapping, system: str, match, body) -> Answer:
    limit = _limit(capping, system, match["key"])
    if limit is None:
        return _missing(match.path)
    if not isinstance(body, dict):
        return refused("The request body is not a JSON object.")
    problem, value = control_change(capping, system, limit, body)
    return problem or apply(capping, [(limit, value)])


def _patch_deep(capping: BmcCapping, system: str, match, body) -> Answer:
    members = body.get("Members") if isinstance(body, dict) else None
    if not isinstance(members, list) or not members:
        return refused("Controls.Deep needs a non-empty Members list.")
    changes = []
    for member in members:
        key = str((member or {}).get("@odata.id", "")).rstrip("/").rsplit("/", 1)[-1]
        limit = _limit(capping, system, key) if isinstance(member, dict) else None
        if limit is None:
            return refused(f"No control at {(member or {}).get('@odata.id')!r}.")
        problem, value = control_change(capping, system, limit, member)
        if problem:
            return problem
        changes.append((limit, value))
    return apply(capping, changes)


def _power(capping: BmcCapping, system: str, match, body) -> Answer:
    return 200, power_body(capping, system)


def _patch_power(capping: BmcCapping, system: str, match, body) -> Answer:
    entries = body.get("PowerControl") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return refused("PowerControl must be a list.")
    changes = []
    for limit, entry in zip(capping.nodes[system], entries):
        if not isinstance(entry, dict) or "PowerLimit" not in entry:
            continue
        value = (entry.get("PowerLimit") or {}).get("LimitInWatts")
        problem = check_value(limit, value)
        if problem:
            return problem
        changes.append((limit, value or None))
    return apply(capping, changes)


def _apollo(capping: BmcCapping, system: str, match, body) -> Answer:
    return 200, apollo_body(capping, system)


def _configure_apollo(capping: BmcCapping, system: str, match, body) -> Answer:
    entries = body.get("PowerLimits") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not entries:
        return refused("PowerLimits must be a non-empty list.")
    changes = []
    for entry in entries:
        zone = entry.get("ZoneNumber", 0) if isinstance(entry, dict) else None
        limits = capping.nodes[system]
        if not isinstance(zone, int) or not 0 <= zone < len(limits):
            return refused(f"No power limit zone {zone!r}.")
        problem = check_value(limits[zone], entry.get("PowerLimitInWatts"))
        if problem:
            return problem
        changes.append((limits[zone], entry["PowerLimitInWatts"] or None))
    status, answer = apply(capping, changes)
    return (200, {"Messages": [{"MessageId": "Base.1.8.Success"}]}) if status == 204 else (
        status, answer)


def _missing(path: str) -> Answer:
    return refused(f"The resource at the URI {path} was not found.", 404)


_NODE = "/redfish/v1/Chassis/{chassis}"
ALL_STYLES = ("cray", "controls", "power", "apollo")
CONTROL_STYLES = ("cray", "controls")
ROUTES: List[CapRoute] = [
    CapRoute("GET", _NODE, ALL_STYLES, _chassis),
    CapRoute("GET", f"{_NODE}/Controls", CONTROL_STYLES, _controls),
    CapRoute("GET", f"{_NODE}/Controls/{{key}}", CONTROL_STYLES, _control),
    CapRoute("PATCH", f"{_NODE}/Controls/{{key}}", ("controls",), _patch_control),
    CapRoute("PATCH", f"{_NODE}/Controls.Deep", ("cray",), _patch_deep),
    CapRoute("GET", f"{_NODE}/Power", ("power",), _power),
    CapRoute("PATCH", f"{_NODE}/Power", ("power",), _patch_power),
    CapRoute("GET", f"{_NODE}/Power/AccPowerService/PowerLimit", ("apollo",), _apollo),
    CapRoute("POST", f"{_NODE}/Power/AccPowerService/PowerLimit/Actions/"
                     "HpeServerAccPowerLimit.ConfigurePowerLimit", ("apollo",),
             _configure_apollo),
]


def _node_of(capping: BmcCapping, chassis: str) -> Optional[str]:
    return next((s for s in capping.nodes if chassis_id(capping.style, s) == chassis), None)


def _table(style: str) -> RouteTable[Handler]:
    # a chassis that holds no node's limits is the rest of the BMC's to answer
    table: RouteTable[Handler] = RouteTable(
        resolvers={"chassis": lambda capping, params: _node_of(capping, params["chassis"])
                   is not None})
    for r in ROUTES:
        if style in r.styles:
            table.route(r.method, r.path)(r.handler)
    return table


TABLES = {style: _table(style) for style in ALL_STYLES}


def route(capping: BmcCapping, method: str, path: str, body: Any) -> Optional[Answer]:
    """The answer of the route that serves ``path`` (without trailing slashes) on a node of
    this BMC; None when no capping route has the path (the rest of the BMC answers). A known
    path with another method: 405."""
    found = TABLES[capping.style].match(method, redfish_segments(path), capping)
    if found is None:
        return None
    if isinstance(found, NotAllowed):
        return refused(f"The method is not supported on {path}.", 405)
    system = _node_of(capping, found.params["chassis"])
    return found.handler(capping, system, PathMatch(path, found.params), body)
