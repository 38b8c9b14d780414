"""SMD's ComponentEndpoints read as pcs components: where each one answers Redfish, its reset
target and the values the BMC allows (INTEGRATION.md §1). Pure: dicts in, values out."""
from __future__ import annotations

from dataclasses import dataclass

from pcs.domain import xnames
from pcs.domain.capping import cap_info_from_smd
from pcs.sources.smd import field

# ComponentEndpointType -> (info block, action, parameter whose allowable values matter)
ACTION_FOR = {
    "ComponentEndpointComputerSystem": ("RedfishSystemInfo", "#ComputerSystem.Reset",
                                        "ResetType"),
    "ComponentEndpointChassis": ("RedfishChassisInfo", "#Chassis.Reset", "ResetType"),
    "ComponentEndpointManager": ("RedfishManagerInfo", "#Manager.Reset", "ResetType"),
    "ComponentEndpointOutlet": ("RedfishOutletInfo", "#Outlet.PowerControl", "PowerState"),
}


@dataclass(frozen=True)
class EndpointComponent:
    """A controllable component as SMD describes it."""
    xname: str
    type: str
    bmc_xname: str            # RedfishEndpointID: the BMC (or PDU controller) that serves it
    fqdn: str                 # RedfishEndpointFQDN: host[:port] of that BMC
    path: str                 # OdataID: the resource whose PowerState is read
    reset_target: str | None
    reset_parameter: str
    allowable_values: list[str]
    capping: dict | None = None   # domain.capping.CapInfo.to_json() of a ComputerSystem


def endpoint_component(endpoint: dict) -> EndpointComponent | None:
    """The component an endpoint describes; None when it is not a controllable component or
    lacks where to reach it (pcs cannot act on it, so it stays out of the monitored set)."""
    parsed = xnames.parse(str(field(endpoint, "ID") or ""))
    if parsed is None or not parsed.controllable:
        return None
    fqdn = str(field(endpoint, "RedfishEndpointFQDN") or "").strip()
    path = str(field(endpoint, "OdataID") or "").strip()
    bmc = xnames.parse(str(field(endpoint, "RedfishEndpointID") or ""))
    if not fqdn or not path or bmc is None:
        return None
    kind = str(field(endpoint, "ComponentEndpointType") or "")
    target, parameter, allowed = None, "ResetType", []
    if kind in ACTION_FOR:
        info_name, action_name, parameter = ACTION_FOR[kind]
        action = field(field(field(endpoint, info_name) or {}, "Actions") or {}, action_name)
        if isinstance(action, dict):
            target = str(field(action, "target") or "") or None
            values = field(action, f"{parameter}@Redfish.AllowableValues") or []
            allowed = [str(v) for v in values if isinstance(v, str)]
    capping = None
    if kind == "ComponentEndpointComputerSystem":
        info = cap_info_from_smd(field(endpoint, "RedfishSystemInfo"))
        capping = info.to_json() if info else None
    return EndpointComponent(xname=parsed.name, type=parsed.type, bmc_xname=bmc.name,
                             fqdn=fqdn, path=path, reset_target=target,
                             reset_parameter=parameter, allowable_values=allowed,
                             capping=capping)


def known_ids(components: list[dict]) -> set[str]:
    """The normalized IDs of an SMD Components answer, without `Empty` ones (nothing is there)."""
    found = set()
    for component in components:
        if str(field(component, "State") or "").lower() == "empty":
            continue
        parsed = xnames.parse(str(field(component, "ID") or ""))
        if parsed is not None:
            found.add(parsed.name)
    return found


def by_id(components: list[dict]) -> dict[str, dict]:
    """An SMD Components answer keyed by normalized ID."""
    found = {}
    for component in components:
        parsed = xnames.parse(str(field(component, "ID") or ""))
        if parsed is not None:
            found[parsed.name] = component
    return found
