"""Discovery over Redfish: the components a BMC controls, with reset target and AllowableValues.

- a node BMC: its ComputerSystems become Nodes `<bmc>n0, n1, ...` in collection order (or an
  explicit map of xnames to system paths), and its Manager the NodeBMC itself;
- a chassis BMC: the Enclosure chassis becomes the Chassis `x<cab>c<ch>`, `Blade<s>` the
  ComputeModule `...s<s>`, `Perif<r>` the RouterModule `...r<r>`, its Manager the ChassisBMC;
- a router BMC: its Manager, the RouterBMC;
- a cabinet PDU controller `x<cab>m<m>`: the outlets of its RackPDUs (PowerDistribution schema),
  `x<cab>m<m>p<pdu>v<n>` with n from 1 in collection order, switched by Outlet.PowerControl;
- a management switch with a Redfish service (MgmtSwitch, MgmtHLSwitch, CDUMgmtSwitch): its
  Chassis, the switch itself.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from pcs.domain import xnames
from pcs.errors import BmcRegistrationFailed
from pcs.inventory.capping_discovery import discover_capping
from pcs.redfish.client import POWER_STATE_FOR, Exchange, RedfishClient, bmc_path

SERVICE_ROOT = "/redfish/v1/"
BMC_TYPES = ("NodeBMC", "ChassisBMC", "RouterBMC")
SWITCH_TYPES = ("MgmtSwitch", "MgmtHLSwitch", "CDUMgmtSwitch")
# What may be registered as a Redfish endpoint of the inventory.
ENDPOINT_TYPES = BMC_TYPES + SWITCH_TYPES + ("CabinetPDUController",)
_SLOT_CHASSIS = re.compile(r"^(Blade|Perif)(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class DiscoveredComponent:
    xname: str
    type: str
    path: str
    reset_target: str | None
    allowable_values: list[str]
    power_state: str
    reset_parameter: str = "ResetType"
    capping: dict | None = None   # domain.capping.CapInfo.to_json() of a node


def discover(client: RedfishClient, bmc: xnames.Xname,
             explicit_systems: dict[str, str] | None = None) -> list[DiscoveredComponent]:
    """Every controllable component behind the BMC. Raises BmcRegistrationFailed quoting it."""
    root = _get_json(client, SERVICE_ROOT, "read the Redfish service root")
    found: list[DiscoveredComponent] = []
    if bmc.type == "NodeBMC":
        found += _systems(client, root, bmc.name, explicit_systems)
    elif bmc.type == "ChassisBMC":
        found += _chassis(client, root, bmc.name)
    elif bmc.type == "CabinetPDUController":
        found += _outlets(client, root, bmc.name)
    elif bmc.type in SWITCH_TYPES:
        found += _switch(client, root, bmc)
    if bmc.type in BMC_TYPES:
        found += _manager(client, root, bmc)
    if not found:
        raise BmcRegistrationFailed(
            f"BMC at {client.address.host_port} offers nothing to control for a {bmc.type}")
    return found


def _systems(client, root, bmc_xname, explicit) -> list[DiscoveredComponent]:
    if explicit:
        return [_read(client, xname, "Node", path, "#ComputerSystem.Reset")
                for xname, path in explicit.items()]
    members = _members(client, root, "Systems")
    if not members:
        raise BmcRegistrationFailed(f"BMC at {client.address.host_port} has no ComputerSystems")
    return [_read(client, xnames.node_name(bmc_xname, i), "Node", path, "#ComputerSystem.Reset")
            for i, path in enumerate(members)]


def _chassis(client, root, bmc_xname) -> list[DiscoveredComponent]:
    chassis_xname = bmc_xname[:bmc_xname.rindex("b")]
    found = []
    for path in _members(client, root, "Chassis"):
        resource = _json_or_fail(client.get(path), f"read chassis {path}")
        kind = str(resource.get("ChassisType") or "")
        slot = _SLOT_CHASSIS.match(str(resource.get("Id") or path.rstrip("/").rsplit("/", 1)[-1]))
        if kind == "Enclosure":
            xname, type_ = chassis_xname, "Chassis"
        elif slot:
            letter, type_ = (("s", "ComputeModule") if slot.group(1).lower() == "blade"
                             else ("r", "RouterModule"))
            xname = f"{chassis_xname}{letter}{int(slot.group(2))}"
        else:
            continue
        found.append(_component(xname, type_, path, resource, "#Chassis.Reset", client))
    return found


def _outlets(client, root, controller_xname) -> list[DiscoveredComponent]:
    equipment_path = _link(root, "PowerEquipment")
    if not equipment_path:
        raise BmcRegistrationFailed(
            f"PDU controller at {client.address.host_port} lists no PowerEquipment")
    equipment = _json_or_fail(client.get(equipment_path), "read PowerEquipment")
    found = []
    for p, pdu_path in enumerate(_members(client, equipment, "RackPDUs")):
        pdu = _json_or_fail(client.get(pdu_path), f"read {pdu_path}")
        for v, outlet_path in enumerate(_members(client, pdu, "Outlets"), start=1):
            outlet = _json_or_fail(client.get(outlet_path), f"read {outlet_path}")
            action = (outlet.get("Actions") or {}).get("#Outlet.PowerControl") or {}
            state = str(outlet.get("PowerState") or "").lower()
            found.append(DiscoveredComponent(
                f"{controller_xname}p{p}v{v}", "CabinetPDUPowerConnector", outlet_path,
                _target(action),
                [str(x) for x in action.get("PowerState@Redfish.AllowableValues") or []],
                POWER_STATE_FOR.get(state, "undefined"), reset_parameter="PowerState"))
    return found


def _switch(client, root, switch: xnames.Xname) -> list[DiscoveredComponent]:
    for path in _members(client, root, "Chassis"):
        resource = _json_or_fail(client.get(path), f"read chassis {path}")
        if "#Chassis.Reset" in (resource.get("Actions") or {}):
            return [_component(switch.name, switch.type, path, resource, "#Chassis.Reset",
                               client)]
    return []


def _manager(client, root, bmc: xnames.Xname) -> list[DiscoveredComponent]:
    for path in _members(client, root, "Managers", required=False):
        resource = _json_or_fail(client.get(path), f"read manager {path}")
        if "#Manager.Reset" in (resource.get("Actions") or {}):
            component = _component(bmc.name, bmc.type, path, resource, "#Manager.Reset", client)
            return [component]
    return []


def _read(client, xname, type_, path, action) -> DiscoveredComponent:
    exchange = client.get(path)
    resource = _json_or_fail(exchange, f"read {path}")
    # Redirects are followed on the BMC itself; keep the path it finally answered at.
    path = urlsplit(exchange.final_url).path if exchange.final_url else path
    component = _component(xname, type_, path, resource, action, client)
    return replace(component, capping=discover_capping(client, resource))


def _component(xname, type_, path, resource, action_name, client) -> DiscoveredComponent:
    action = (resource.get("Actions") or {}).get(action_name) or {}
    allowable = action.get("ResetType@Redfish.AllowableValues")
    if allowable is None and isinstance(action.get("@Redfish.ActionInfo"), str):
        allowable = _action_info_values(client, action["@Redfish.ActionInfo"])
    if type_ in BMC_TYPES:
        state = "on"   # a manager that answers is on
    else:
        state = POWER_STATE_FOR.get(str(resource.get("PowerState") or "").lower(), "undefined")
    return DiscoveredComponent(xname, type_, path, _target(action),
                               [str(v) for v in allowable or []], state)


def _target(action: dict) -> str | None:
    """The action's target as a path: the BMC's answer names no host we send to."""
    target = action.get("target")
    return bmc_path(target) if isinstance(target, str) and target else None


def _members(client, root, collection, required=True) -> list[str]:
    path = _link(root, collection)
    if not path:
        if required:
            raise BmcRegistrationFailed(f"BMC at {client.address.host_port} lists no {collection}")
        return []
    body = _json_or_fail(client.get(path), f"read the {collection} collection")
    return [m for m in (_link(m) for m in body.get("Members") or []) if m]


def _action_info_values(client: RedfishClient, path: str) -> list[str]:
    exchange = client.get(path)
    if not exchange.ok or not isinstance(exchange.json, dict):
        return []
    for parameter in exchange.json.get("Parameters") or []:
        if isinstance(parameter, dict) and parameter.get("Name") == "ResetType":
            return list(parameter.get("AllowableValues") or [])
    return []


def _get_json(client: RedfishClient, path: str, what: str) -> dict:
    return _json_or_fail(client.get(path), what)


def _json_or_fail(exchange: Exchange, what: str) -> dict:
    if not exchange.ok:
        raise BmcRegistrationFailed(f"Could not {what}: {exchange.error}")
    if not isinstance(exchange.json, dict):
        raise BmcRegistrationFailed(f"Could not {what}: the BMC did not answer with JSON")
    return exchange.json


def _link(resource: dict, key: str | None = None) -> str | None:
    value = resource.get(key) if key else resource
    if isinstance(value, dict) and isinstance(value.get("@odata.id"), str):
        return bmc_path(value["@odata.id"])
    return None
