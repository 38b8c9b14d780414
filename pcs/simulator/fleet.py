"""Pure state model of a fleet of simulated Redfish BMCs.

No I/O here: time is passed in explicitly as a float (epoch seconds) so the
power model is unit-testable.
"""
from __future__ import annotations

import collections
import uuid
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Optional

ON = "On"
OFF = "Off"
POWERING_ON = "PoweringOn"
POWERING_OFF = "PoweringOff"

# ResetType values advertised in ComputerSystem.Reset AllowableValues.
ALLOWABLE_RESET_TYPES = [
    "On", "ForceOff", "GracefulShutdown", "GracefulRestart",
    "ForceRestart", "Nmi", "PushPowerButton",
]
# ResetType values the power model understands (superset of the above).
KNOWN_RESET_TYPES = set(ALLOWABLE_RESET_TYPES) | {"ForceOn", "PowerCycle"}
MANAGER_RESET_TYPES = ["ForceRestart", "GracefulRestart"]

FAULT_KINDS = ("status", "hang", "down", "ignore")
LOG_MAX_ENTRIES = 200_000


def bmc_xname(i: int) -> str:
    """xname of BMC index i: 8 slots per chassis, 8 chassis per cabinet."""
    if i < 0:
        raise ValueError("BMC index must be >= 0")
    return f"x{1000 + i // 64}c{(i // 8) % 8}s{i % 8}b0"


class FleetError(ValueError):
    """Invalid argument for a fleet operation (bad fault, unknown name...)."""


@dataclass
class System:
    """One ComputerSystem with a power state and an optional pending change."""

    name: str
    state: str = OFF  # settled state: On / Off
    pending_target: Optional[str] = None
    pending_due: float = 0.0

    def _settle(self, now: float) -> None:
        if self.pending_target is not None and now >= self.pending_due:
            self.state = self.pending_target
            self.pending_target = None

    def power_state(self, now: float) -> str:
        self._settle(now)
        if self.pending_target is None:
            return self.state
        return POWERING_ON if self.pending_target == ON else POWERING_OFF

    def target(self, now: float) -> str:
        """The state the system is heading to (settled state if none pending)."""
        self._settle(now)
        return self.pending_target if self.pending_target is not None else self.state

    def set_state(self, state: str) -> None:
        """Set the power state directly, cancelling any pending change."""
        self.state = state
        self.pending_target = None

    def _go(self, target: str, now: float, delay: float) -> None:
        if target == self.state:
            # Already there: cancel any pending change (later reset replaces it).
            self.pending_target = None
        elif delay <= 0:
            self.state = target
            self.pending_target = None
        else:
            self.pending_target = target
            self.pending_due = now + delay

    def reset(self, reset_type: str, now: float, delay: float) -> None:
        """Apply a ResetType at time ``now`` with a transition delay."""
        self._settle(now)
        if reset_type in ("On", "ForceOn"):
            self._go(ON, now, delay)
        elif reset_type in ("ForceOff", "GracefulShutdown"):
            self._go(OFF, now, delay)
        elif reset_type == "PushPowerButton":
            self._go(OFF if self.target(now) == ON else ON, now, delay)
        elif reset_type in ("GracefulRestart", "ForceRestart", "PowerCycle"):
            # Goes off at once, then comes back on after the delay.
            self.state = OFF
            self.pending_target = None
            self._go(ON, now, delay)
        elif reset_type == "Nmi":
            pass
        else:
            raise FleetError(f"unsupported ResetType {reset_type!r}")


@dataclass
class BMC:
    index: int
    xname: str
    port: int
    systems: Dict[str, System] = field(default_factory=dict)
    fault: Optional[Dict[str, Any]] = None
    ignore_remaining: int = 0

    def system_names(self) -> List[str]:
        return list(self.systems)

    def node_xnames(self) -> List[str]:
        return [f"{self.xname}n{j}" for j in range(len(self.systems))]


class Fleet:
    """All BMCs, their systems, faults and the request log."""

    def __init__(self, bmcs: int, nodes_per_bmc: int = 2, port_base: int = 30000,
                 power_delay_s: float = 0.0, initial_state: str = "off",
                 log_max: int = LOG_MAX_ENTRIES) -> None:
        if bmcs < 1:
            raise FleetError("need at least one BMC")
        if nodes_per_bmc < 1:
            raise FleetError("need at least one node per BMC")
        init = initial_state.strip().lower()
        if init not in ("on", "off"):
            raise FleetError("initial_state must be 'on' or 'off'")
        state = ON if init == "on" else OFF
        self.power_delay_s = max(0.0, float(power_delay_s))
        self.nodes_per_bmc = nodes_per_bmc
        self.port_base = port_base
        self.bmcs: List[BMC] = []
        self.by_xname: Dict[str, BMC] = {}
        self.by_port: Dict[int, BMC] = {}
        for i in range(bmcs):
            b = BMC(index=i, xname=bmc_xname(i), port=port_base + i)
            for j in range(nodes_per_bmc):
                b.systems[f"Node{j}"] = System(name=f"Node{j}", state=state)
            self.bmcs.append(b)
            self.by_xname[b.xname] = b
            self.by_port[b.port] = b
        self.log: Deque[Dict[str, Any]] = collections.deque(maxlen=log_max)

    # ---- lookup -------------------------------------------------------
    def bmc(self, xname: str) -> BMC:
        try:
            return self.by_xname[xname]
        except KeyError:
            raise FleetError(f"unknown BMC {xname!r}") from None

    def system(self, xname: str, name: str) -> System:
        b = self.bmc(xname)
        try:
            return b.systems[name]
        except KeyError:
            raise FleetError(f"unknown system {name!r} on {xname}") from None

    @property
    def node_count(self) -> int:
        return len(self.bmcs) * self.nodes_per_bmc

    # ---- power ----------------------------------------------------------
    def reset(self, xname: str, system: str, reset_type: str, now: float) -> bool:
        """Apply a reset. Returns False if an 'ignore' fault swallowed it."""
        b = self.bmc(xname)
        s = self.system(xname, system)
        if reset_type not in KNOWN_RESET_TYPES:
            raise FleetError(f"unsupported ResetType {reset_type!r}")
        if b.fault and b.fault.get("fault") == "ignore" and b.ignore_remaining > 0:
            b.ignore_remaining -= 1
            if b.ignore_remaining == 0:
                b.fault = None
            return False
        s.reset(reset_type, now, self.power_delay_s)
        return True

    def set_power(self, xname: str, system: str, state: str) -> None:
        norm = {"on": ON, "off": OFF}.get(str(state).lower())
        if norm is None:
            raise FleetError("PowerState must be 'On' or 'Off'")
        self.system(xname, system).set_state(norm)

    def power_states(self, xname: str, now: float) -> Dict[str, str]:
        return {n: s.power_state(now) for n, s in self.bmc(xname).systems.items()}

    # ---- faults ---------------------------------------------------------
    def set_fault(self, xname: str, spec: Dict[str, Any]) -> Dict[str, Any]:
        """Validate and install a fault; returns the normalised fault."""
        b = self.bmc(xname)
        if not isinstance(spec, dict):
            raise FleetError("fault body must be a JSON object")
        kind = spec.get("fault")
        if kind not in FAULT_KINDS:
            raise FleetError(f"fault must be one of {', '.join(FAULT_KINDS)}")
        fault: Dict[str, Any] = {"fault": kind}
        if kind == "status":
            status = spec.get("status", 500)
            if not isinstance(status, int) or not 100 <= status <= 599:
                raise FleetError("status must be an integer HTTP status")
            fault["status"] = status
            fault["message"] = str(spec.get("message", "Internal error"))
        elif kind == "ignore":
            count = spec.get("count", 1)
            if not isinstance(count, int) or count < 0:
                raise FleetError("count must be a non-negative integer")
            fault["count"] = count
            b.ignore_remaining = count
        b.fault = fault
        return fault

    def clear_fault(self, xname: str) -> Optional[Dict[str, Any]]:
        b = self.bmc(xname)
        old, b.fault, b.ignore_remaining = b.fault, None, 0
        return old

    def fault_kind(self, b: BMC) -> Optional[str]:
        return b.fault.get("fault") if b.fault else None

    # ---- request log ----------------------------------------------------
    def record(self, t: float, bmc: str, method: str, path: str, body: Any,
               status: int) -> None:
        self.log.append({"time": t, "bmc": bmc, "method": method, "path": path,
                         "body": body, "status": status})

    def entries(self, bmc: Optional[str] = None,
                since: Optional[float] = None) -> List[Dict[str, Any]]:
        return [e for e in self.log
                if (bmc is None or e["bmc"] == bmc)
                and (since is None or e["time"] >= since)]

    def clear_log(self) -> None:
        self.log.clear()

    # ---- descriptions ---------------------------------------------------
    def describe(self, now: float, host: str = "127.0.0.1") -> List[Dict[str, Any]]:
        out = []
        for b in self.bmcs:
            out.append({"xname": b.xname, "address": f"{host}:{b.port}",
                        "systems": self.power_states(b.xname, now),
                        "fault": b.fault})
        return out

    def inventory(self, host: str, username: str, password: str) -> List[Dict[str, Any]]:
        return [{"xname": b.xname, "address": f"{host}:{b.port}", "scheme": "http",
                 "username": username, "password": password, "verifyTls": False,
                 "nodes": b.node_xnames()} for b in self.bmcs]


# ---- Redfish resource bodies (pure builders) -------------------------------
def error_body(message_id: str, message: str, resolution: str = "None.") -> Dict[str, Any]:
    return {"error": {
        "code": "Base.1.8.GeneralError",
        "message": message,
        "@Message.ExtendedInfo": [{
            "@odata.type": "#Message.v1_1_1.Message",
            "MessageId": f"Base.1.8.{message_id}",
            "Message": message,
            "Severity": "Warning",
            "Resolution": resolution,
        }],
    }}


def service_root(b: BMC) -> Dict[str, Any]:
    return {
        "@odata.id": "/redfish/v1/",
        "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot",
        "Id": "RootService",
        "Name": "Root Service",
        "RedfishVersion": "1.8.0",
        "UUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{b.xname}.pcs-simulator")),
        "Systems": {"@odata.id": "/redfish/v1/Systems"},
        "Chassis": {"@odata.id": "/redfish/v1/Chassis"},
        "Managers": {"@odata.id": "/redfish/v1/Managers"},
    }


def system_resource(b: BMC, name: str, now: float) -> Dict[str, Any]:
    sid = f"/redfish/v1/Systems/{name}"
    return {
        "@odata.id": sid,
        "@odata.type": "#ComputerSystem.v1_10_0.ComputerSystem",
        "Id": name,
        "Name": name,
        "SystemType": "Physical",
        "PowerState": b.systems[name].power_state(now),
        "Status": {"State": "Enabled", "Health": "OK"},
        "Links": {"Chassis": [{"@odata.id": "/redfish/v1/Chassis/Enclosure"}],
                  "ManagedBy": [{"@odata.id": "/redfish/v1/Managers/BMC"}]},
        "Actions": {"#ComputerSystem.Reset": {
            "target": f"{sid}/Actions/ComputerSystem.Reset",
            "ResetType@Redfish.AllowableValues": list(ALLOWABLE_RESET_TYPES),
        }},
    }


def chassis_resource(b: BMC) -> Dict[str, Any]:
    return {
        "@odata.id": "/redfish/v1/Chassis/Enclosure",
        "@odata.type": "#Chassis.v1_10_0.Chassis",
        "Id": "Enclosure",
        "Name": "Enclosure",
        "ChassisType": "Enclosure",
        "PowerState": "On",
        "Links": {
            "ComputerSystems": [{"@odata.id": f"/redfish/v1/Systems/{n}"} for n in b.systems],
            "ManagedBy": [{"@odata.id": "/redfish/v1/Managers/BMC"}],
        },
    }


def manager_resource(b: BMC) -> Dict[str, Any]:
    return {
        "@odata.id": "/redfish/v1/Managers/BMC",
        "@odata.type": "#Manager.v1_10_0.Manager",
        "Id": "BMC",
        "Name": f"{b.xname} BMC",
        "ManagerType": "BMC",
        "Status": {"State": "Enabled", "Health": "OK"},
        "Actions": {"#Manager.Reset": {
            "target": "/redfish/v1/Managers/BMC/Actions/Manager.Reset",
            "ResetType@Redfish.AllowableValues": list(MANAGER_RESET_TYPES),
        }},
    }
