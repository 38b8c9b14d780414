"""The fleet as SMD describes it: one component per thing pcs's discovery finds on the BMCs.

Each component keeps the function that builds the Redfish resource its BMC serves for it, so
the endpoint's Redfish path, action target and allowable values, and the power reading behind
State, come from the very bodies the BMC answers with and cannot drift from them.

- node BMC ``x…b0``: Nodes ``x…b0n<j>`` (``Systems/Node<j>``, NID from 1) and the NodeBMC
  itself (``Managers/BMC``);
- chassis BMC ``x…c<c>b0`` (``--chassis-bmcs``): the Chassis (``Chassis/Enclosure``), its
  ComputeModules ``…s<s>`` (``Chassis/Blade<s>``) and the ChassisBMC (``Managers/BMC``);
- PDU controller ``x3000m<j>``: the controller (``Managers/BMC``, no reset action), its rack
  PDU ``…p0`` (``PowerEquipment/RackPDUs/1``) and outlets ``…p0v<n>`` (``…/Outlets/AA<n>``);
- management switch ``x3000c0w<k>``: the MgmtSwitch (``Chassis/Switch``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..capping import smd_system_info
from ..devices import outlet_resource, pdu_manager, rack_pdu, switch_chassis
from ..fleet import Fleet
from ..model import BMC, OFF, ON, POWERING_OFF
from ..resources import enclosure_chassis_resource, manager_resource, system_resource
from .state import ComponentSpec

SYSTEM = "ComponentEndpointComputerSystem"
CHASSIS = "ComponentEndpointChassis"
MANAGER = "ComponentEndpointManager"
POWER_DISTRIBUTION = "ComponentEndpointPowerDistribution"
OUTLET = "ComponentEndpointOutlet"
# Per endpoint type: the Redfish type and the key of the info block SMD adds.
REDFISH_TYPE = {SYSTEM: "ComputerSystem", CHASSIS: "Chassis", MANAGER: "Manager",
                POWER_DISTRIBUTION: "PowerDistribution", OUTLET: "Outlet"}
INFO_KEY = {SYSTEM: "RedfishSystemInfo", CHASSIS: "RedfishChassisInfo",
            MANAGER: "RedfishManagerInfo", POWER_DISTRIBUTION: "RedfishPDUInfo",
            OUTLET: "RedfishOutletInfo"}
# The Redfish field that names a resource's subtype, per Redfish type.
SUBTYPE_FIELD = {"ComputerSystem": "SystemType", "Chassis": "ChassisType",
                 "Manager": "ManagerType", "PowerDistribution": "EquipmentType"}

Resource = Callable[[float], dict[str, Any]]


@dataclass(frozen=True)
class FleetComponent:
    spec: ComponentSpec
    bmc: BMC                 # the Redfish endpoint that serves it
    endpoint_type: str
    resource: Resource       # the body its BMC serves at a given time

    @property
    def id(self) -> str:
        return self.spec.id


def fleet_components(fleet: Fleet) -> list[FleetComponent]:
    """Every component of ``fleet``, in the order of its BMCs."""
    compute_class = "Mountain" if fleet.hierarchy else "River"
    out: list[FleetComponent] = []

    def add(component_id: str, type_: str, b: BMC, endpoint_type: str, resource: Resource,
            hsm_class: str, nid: int | None = None, role: str | None = None) -> None:
        out.append(FleetComponent(ComponentSpec(component_id, type_, hsm_class, nid, role),
                                  b, endpoint_type, resource))

    for b in fleet.bmcs:
        for j, name in enumerate(b.systems):
            add(f"{b.xname}n{j}", "Node", b, SYSTEM,
                lambda now, b=b, name=name: system_resource(b, name, now, fleet.allowable(b)),
                compute_class, nid=b.index * fleet.nodes_per_bmc + j + 1, role="Compute")
        add(b.xname, "NodeBMC", b, MANAGER, lambda now, b=b: manager_resource(b, "BMC"),
            compute_class)
    for cb in fleet.chassis_bmcs:
        for cid in cb.elements():
            if cid == "Enclosure":
                component_id, type_ = cb.chassis_xname, "Chassis"
            else:
                component_id, type_ = f"{cb.chassis_xname}s{cid[len('Blade'):]}", "ComputeModule"
            add(component_id, type_, cb, CHASSIS,
                lambda now, cb=cb, cid=cid: enclosure_chassis_resource(
                    cb, cid, now, fleet.allowable(cb)), compute_class)
        add(cb.xname, "ChassisBMC", cb, MANAGER,
            lambda now, cb=cb: manager_resource(cb, "EnclosureManager"), compute_class)
    for p in fleet.pdus:
        add(p.xname, "CabinetPDUController", p, MANAGER, lambda now, p=p: pdu_manager(p),
            "River")
        add(f"{p.xname}p0", "CabinetPDU", p, POWER_DISTRIBUTION, lambda now, p=p: rack_pdu(p),
            "River")
        for n, oid in enumerate(p.outlets, start=1):
            add(f"{p.xname}p0v{n}", "CabinetPDUPowerConnector", p, OUTLET,
                lambda now, p=p, oid=oid: outlet_resource(p, oid, now), "River")
    for sw in fleet.switches:
        add(sw.xname, "MgmtSwitch", sw, CHASSIS,
            lambda now, sw=sw: switch_chassis(sw, now, fleet.allowable(sw)), "River")
    return out


def current_resource(fleet: Fleet, component: FleetComponent, now: float) -> dict[str, Any]:
    """The component's Redfish body after settling what is due on its BMC by ``now``."""
    fleet.sync_for(component.bmc, now)
    fleet.settle_tasks(component.bmc, now)
    return component.resource(now)


def power_of(fleet: Fleet, component: FleetComponent, now: float) -> str:
    """"On" or "Off": the resource's PowerState (a change under way counts as not done yet);
    a controller without one is On while powered."""
    state = current_resource(fleet, component, now).get("PowerState")
    if state is None:
        return ON if component.bmc.powered else OFF
    return ON if state in (ON, POWERING_OFF) else OFF


def component_endpoint(fleet: Fleet, component: FleetComponent, host: str,
                       now: float) -> dict[str, Any]:
    """The ComponentEndpoint SMD holds for ``component``, ``host`` being the BMCs' address."""
    resource = current_resource(fleet, component, now)
    redfish_type = REDFISH_TYPE[component.endpoint_type]
    odata_id = resource["@odata.id"]
    fqdn = f"{host}:{component.bmc.port}"
    info: dict[str, Any] = {"Name": resource.get("Name", "")}
    if resource.get("Actions"):
        info["Actions"] = resource["Actions"]
    capping = fleet.capping.of(component.bmc.xname)
    if component.endpoint_type == SYSTEM and capping is not None:
        info.update(smd_system_info(capping, odata_id.rsplit("/", 1)[-1]))
    return {
        "ID": component.id,
        "Type": component.spec.type,
        "RedfishType": redfish_type,
        "RedfishSubtype": str(resource.get(SUBTYPE_FIELD.get(redfish_type, ""), "")),
        "OdataID": odata_id,
        "RedfishEndpointID": component.bmc.xname,
        "Enabled": True,
        "RedfishEndpointFQDN": fqdn,
        "RedfishURL": f"{fqdn}{odata_id}",
        "ComponentEndpointType": component.endpoint_type,
        INFO_KEY[component.endpoint_type]: info,
    }


def power_maps(fleet: Fleet) -> dict[str, list[str]]:
    """Node -> the outlets feeding it. The simulator couples no power through PDUs, so this
    is a fixed assignment: node BMC i's nodes hang on outlet i modulo the number of outlets."""
    outlets = [f"{p.xname}p0v{n}" for p in fleet.pdus for n in range(1, len(p.outlets) + 1)]
    if not outlets:
        return {}
    return {node: [outlets[b.index % len(outlets)]]
            for b in fleet.bmcs for node in b.node_xnames()}
