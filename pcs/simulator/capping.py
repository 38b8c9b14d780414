"""Pure state of the simulated nodes' power limits, in the style each node BMC serves.

Styles (``--cap-style``, per fleet or per BMC):
  cray      Cray EX Controls: Chassis/Node<j>/Controls/{NodePowerLimit,Accelerator0PowerLimit},
            written through Chassis/Node<j>/Controls.Deep
  power     DMTF Power: Chassis/Node<j>/Power, PowerControl[0].PowerLimit.LimitInWatts
  apollo    HPE Apollo 6500: Chassis/<j+1>/Power/AccPowerService/PowerLimit and its
            HpeServerAccPowerLimit.ConfigurePowerLimit action
  controls  DMTF Control resources: Chassis/Node<j>/Controls/NodePowerLimit, PATCHed itself
  none      no capping
As real hardware does, a value outside a control's range is refused (0 removes the cap), and
disabling a control that is already disabled answers 400 `Control is disabled for <uri>`.
Faults per BMC: ``refuse`` (writes answer 400) and ``ignore`` (writes answer success and
change nothing). No I/O: handlers return (status, body).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .model import BMC, FleetError
from .resources import error_body

CAP_STYLES = ("cray", "power", "apollo", "controls", "none")
CAP_FAULTS = ("refuse", "ignore")
Answer = Tuple[int, Optional[Dict[str, Any]]]


@dataclass
class Limit:
    """One power limit of one node: its range, and the value it holds (None: no cap)."""
    name: str
    key: str                   # Controls/<key> (cray, controls); zone (apollo)
    minimum: int
    maximum: int
    held: Optional[int] = None
    remembered: int = 0        # a disabled control's set point, still shown
    context: str = "Chassis"   # PhysicalContext of a Control


def limits_for(style: str) -> List[Limit]:
    if style == "cray":
        return [Limit("Node Power Limit", "NodePowerLimit", 350, 925, remembered=925),
                Limit("Accelerator0 Power Limit", "Accelerator0PowerLimit", 100, 400,
                      remembered=400, context="Accelerator")]
    if style == "controls":
        return [Limit("Node Power Limit", "NodePowerLimit", 300, 900, remembered=900)]
    if style == "power":
        return [Limit("Node Power Control", "0", 350, 850)]
    if style == "apollo":
        return [Limit("Node Power Limit", "0", 500, 1500)]
    return []


@dataclass
class BmcCapping:
    style: str
    nodes: Dict[str, List[Limit]] = field(default_factory=dict)   # system name -> limits
    fault: Optional[str] = None

    def describe(self) -> Dict[str, Any]:
        return {"style": self.style, "fault": self.fault,
                "nodes": {name: [{"name": lim.name, "min": lim.minimum, "max": lim.maximum,
                                  "held": lim.held} for lim in limits]
                          for name, limits in self.nodes.items()}}


class CapBook:
    """Every node BMC's capping."""

    def __init__(self, bmcs: List[BMC], style: str = "cray",
                 per_bmc: Optional[Dict[str, str]] = None) -> None:
        self.by_bmc: Dict[str, BmcCapping] = {}
        for b in bmcs:
            self.set_style(b, (per_bmc or {}).get(b.xname, style))

    def set_style(self, b: BMC, style: str) -> BmcCapping:
        if style not in CAP_STYLES:
            raise FleetError(f"unknown capping style {style!r} (known: {', '.join(CAP_STYLES)})")
        capping = BmcCapping(style, {name: limits_for(style) for name in b.systems})
        self.by_bmc[b.xname] = capping
        return capping

    def of(self, xname: str) -> Optional[BmcCapping]:
        capping = self.by_bmc.get(xname)
        return capping if capping is not None and capping.style != "none" else None

    def set_fault(self, xname: str, fault: Optional[str]) -> None:
        if fault is not None and fault not in CAP_FAULTS:
            raise FleetError(f"unknown capping fault {fault!r} (known: {', '.join(CAP_FAULTS)})")
        self.by_bmc[xname].fault = fault


def parse_cap_styles(values: List[str]) -> Tuple[str, Dict[str, str]]:
    """``--cap-style`` values: STYLE for the fleet, or BMC=STYLE for one BMC."""
    fleet_style, per_bmc = "cray", {}
    for value in values:
        target, _, style = value.rpartition("=")
        if style not in CAP_STYLES:
            raise FleetError(f"unknown capping style {style!r} (known: {', '.join(CAP_STYLES)})")
        if target:
            per_bmc[target] = style
        else:
            fleet_style = style
    return fleet_style, per_bmc


# -- where each style lives ----------------------------------------------------------------------
def chassis_id(style: str, system: str) -> str:
    """The chassis that holds a node's limits: Node<j> (Cray, DMTF), <j+1> (HPE)."""
    return str(int(system[len("Node"):]) + 1) if style == "apollo" else system


def chassis_url(style: str, system: str) -> str:
    return f"/redfish/v1/Chassis/{chassis_id(style, system)}"


def power_url(style: str, system: str) -> str:
    base = chassis_url(style, system)
    return f"{base}/Power/AccPowerService/PowerLimit" if style == "apollo" else f"{base}/Power"


def apollo_target(system: str) -> str:
    return (power_url("apollo", system)
            + "/Actions/HpeServerAccPowerLimit.ConfigurePowerLimit")


def link_node_chassis(capping: Optional[BmcCapping], system: str,
                      body: Dict[str, Any]) -> Dict[str, Any]:
    """A ComputerSystem body that also links the chassis holding its power limits."""
    if capping is not None:
        body.setdefault("Links", {}).setdefault("Chassis", []).append(
            {"@odata.id": chassis_url(capping.style, system)})
    return body


# -- bodies --------------------------------------------------------------------------------------
def node_chassis(capping: BmcCapping, system: str) -> Dict[str, Any]:
    url = chassis_url(capping.style, system)
    body: Dict[str, Any] = {"@odata.id": url, "@odata.type": "#Chassis.v1_14_0.Chassis",
                            "Id": url.rsplit("/", 1)[-1], "Name": system, "ChassisType": "Blade",
                            "Links": {"ComputerSystems": [
                                {"@odata.id": f"/redfish/v1/Systems/{system}"}]}}
    if capping.style in ("cray", "controls"):
        body["Controls"] = {"@odata.id": f"{url}/Controls"}
    elif capping.style == "power":
        body["Power"] = {"@odata.id": f"{url}/Power"}
    elif capping.style == "apollo":
        body["Oem"] = {"Hpe": {"Links": {"AccPowerService": {
            "@odata.id": f"{url}/Power/AccPowerService"}}}}
    return body


def control_body(capping: BmcCapping, system: str, limit: Limit) -> Dict[str, Any]:
    url = f"{chassis_url(capping.style, system)}/Controls/{limit.key}"
    disabled = limit.held is None
    body: Dict[str, Any] = {
        "@odata.id": url, "@odata.type": "#Control.v1_0_0.Control", "Id": limit.key,
        "Name": limit.name, "ControlType": "Power", "PhysicalContext": limit.context,
        "ControlMode": "Disabled" if disabled else "Automatic",
        "SetPoint": limit.remembered if disabled else limit.held, "SetPointUnits": "W",
        "SettingRangeMin": limit.minimum, "SettingRangeMax": limit.maximum}
    if capping.style == "cray":
        body["Oem"] = {"Cray": {"PowerLimit": {"Min": limit.minimum, "Max": limit.maximum}}}
    return body


def controls_collection(capping: BmcCapping, system: str) -> Dict[str, Any]:
    url = f"{chassis_url(capping.style, system)}/Controls"
    members = [f"{url}/{lim.key}" for lim in capping.nodes[system]]
    return {"@odata.id": url, "@odata.type": "#ControlCollection.ControlCollection",
            "Name": "Controls", "Members": [{"@odata.id": m} for m in members],
            "Members@odata.count": len(members)}


def power_body(capping: BmcCapping, system: str) -> Dict[str, Any]:
    url = power_url(capping.style, system)
    entries = [{"@odata.id": f"{url}#/PowerControl/{i}", "MemberId": str(i), "Name": lim.name,
                "PowerCapacityWatts": lim.maximum + 50,
                "PowerLimit": {"LimitInWatts": lim.held, "LimitException": "NoAction"},
                "Oem": {"Cray": {"PowerLimit": {"Min": lim.minimum, "Max": lim.maximum},
                                 "PowerResetWatts": 250}}}
               for i, lim in enumerate(capping.nodes[system])]
    return {"@odata.id": url, "@odata.type": "#Power.v1_5_4.Power", "Id": "Power",
            "Name": "Power", "PowerControl": entries}


def apollo_body(capping: BmcCapping, system: str) -> Dict[str, Any]:
    limits = capping.nodes[system]
    return {"@odata.id": power_url("apollo", system),
            "@odata.type": "#HpeServerAccPowerLimit.v1_0_0.HpeServerAccPowerLimit",
            "Id": "PowerLimit", "Name": "HPE Server Accelerator Power Limit",
            "PowerLimits": [{"PowerLimitInWatts": lim.held, "ZoneNumber": i}
                            for i, lim in enumerate(limits)],
            "PowerLimitRanges": [{"MinimumPowerLimit": lim.minimum,
                                  "MaximumPowerLimit": lim.maximum, "ZoneNumber": i}
                                 for i, lim in enumerate(limits)],
            "Actions": {"#HpeServerAccPowerLimit.ConfigurePowerLimit": {
                "target": apollo_target(system)}}}


def smd_system_info(capping: BmcCapping, system: str) -> Dict[str, Any]:
    """What SMD's discovery records of a node's capping in RedfishSystemInfo: Controls for
    Control-based BMCs (SMD cannot tell Cray's from DMTF's), else PowerURL and PowerControl."""
    style = capping.style
    if style in ("cray", "controls"):
        return {"PowerURL": "", "Controls": [
            {"URL": f"{chassis_url(style, system)}/Controls/{lim.key}",
             "Control": control_body(capping, system, lim)} for lim in capping.nodes[system]]}
    url = power_url(style, system)
    entries = []
    for i, lim in enumerate(capping.nodes[system]):
        bounds = {"PowerLimit": {"Min": lim.minimum, "Max": lim.maximum}}
        if style == "apollo":
            entries.append({"Name": lim.name, "OEM": {"HPE": dict(bounds,
                                                                   Target=apollo_target(system))}})
        else:
            entries.append({"@odata.id": f"{url}#/PowerControl/{i}", "Name": lim.name,
                            "OEM": {"Cray": bounds}})
    return {"PowerURL": url, "PowerControl": entries}


# -- writes --------------------------------------------------------------------------------------
def refused(message: str, status: int = 400) -> Answer:
    return status, error_body("PropertyValueNotInList" if status == 400 else "GeneralError",
                              message)


def check_value(limit: Limit, value: Any) -> Optional[Answer]:
    if isinstance(value, bool) or not isinstance(value, int):
        return refused(f"The value {value!r} for {limit.name} is not an integer.")
    if value != 0 and not limit.minimum <= value <= limit.maximum:
        return refused(f"The value {value} for {limit.name} is outside its range "
                       f"{limit.minimum}-{limit.maximum}.")
    return None


def apply(capping: BmcCapping, changes: List[Tuple[Limit, Optional[int]]]) -> Answer:
    """Apply all changes or none, as the BMC's faults allow (checks already passed)."""
    if capping.fault == "refuse":
        return refused("The power limit cannot be changed at this time.", 500)
    if capping.fault != "ignore":
        for limit, value in changes:
            if value is None and limit.held is not None:
                limit.remembered = limit.held
            limit.held = value
    return 204, None


def control_change(capping: BmcCapping, system: str, limit: Limit,
                   member: Dict[str, Any]) -> Tuple[Optional[Answer], Optional[int]]:
    """The new held value a Control PATCH asks for, or the BMC's refusal."""
    mode = member.get("ControlMode", "Automatic")
    url = f"{chassis_url(capping.style, system)}/Controls/{limit.key}"
    if mode == "Disabled":
        if limit.held is None:   # real Cray EX controllers refuse this
            return refused(f"Control is disabled for {url}"), None
        return None, None
    if mode != "Automatic":
        return refused(f"ControlMode {mode!r} is not supported."), None
    value = member.get("SetPoint", limit.held if limit.held is not None else limit.remembered)
    problem = check_value(limit, value)
    if problem is None and value == 0:
        return None, None
    return problem, value
