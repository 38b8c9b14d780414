"""The capping resources of a node BMC as a route table: one handler per route.

Each handler takes the BMC's capping, the node (system name), the path's match and the request
body, and returns (status, body) from the pure state in ``capping``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

from .capping import (Answer, BmcCapping, Limit, apollo_body, apply, check_value,
                      chassis_id, control_body, control_change, controls_collection,
                      node_chassis, power_body, refused)

Handler = Callable[[BmcCapping, str, "re.Match[str]", Any], Answer]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: "re.Pattern[str]"
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
        return _missing(match.string)
    return 200, control_body(capping, system, limit)


def _patch_control(capping: BmcCapping, system: str, match, body) -> Answer:
    limit = _limit(capping, system, match["key"])
    if limit is None:
        return _missing(match.string)
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


_NODE = r"/redfish/v1/Chassis/(?P<chassis>[^/]+)"
CONTROL_STYLES = ("cray", "controls")
ROUTES: List[Route] = [
    Route("GET", re.compile(_NODE + r"/?"), ("cray", "controls", "power", "apollo"), _chassis),
    Route("GET", re.compile(_NODE + r"/Controls/?"), CONTROL_STYLES, _controls),
    Route("GET", re.compile(_NODE + r"/Controls/(?P<key>[^/]+)/?"), CONTROL_STYLES, _control),
    Route("PATCH", re.compile(_NODE + r"/Controls/(?P<key>[^/]+)/?"), ("controls",),
          _patch_control),
    Route("PATCH", re.compile(_NODE + r"/Controls\.Deep/?"), ("cray",), _patch_deep),
    Route("GET", re.compile(_NODE + r"/Power/?"), ("power",), _power),
    Route("PATCH", re.compile(_NODE + r"/Power/?"), ("power",), _patch_power),
    Route("GET", re.compile(_NODE + r"/Power/AccPowerService/PowerLimit/?"), ("apollo",),
          _apollo),
    Route("POST", re.compile(_NODE + r"/Power/AccPowerService/PowerLimit/Actions/"
                                     r"HpeServerAccPowerLimit\.ConfigurePowerLimit/?"),
          ("apollo",), _configure_apollo),
]


def route(capping: BmcCapping, method: str, path: str, body: Any) -> Optional[Answer]:
    """The answer of the route that serves ``path`` on a node of this BMC; None when no capping
    route matches (the rest of the BMC answers). A known path with another method: 405."""
    allowed = False
    for candidate in ROUTES:
        match = candidate.pattern.fullmatch(path)
        if match is None or capping.style not in candidate.styles:
            continue
        system = next((s for s in capping.nodes
                       if chassis_id(capping.style, s) == match["chassis"]), None)
        if system is None:
            return None
        if candidate.method == method:
            return candidate.handler(capping, system, match, body)
        allowed = True
    if allowed:
        return refused(f"The method is not supported on {path}.", 405)
    return None
