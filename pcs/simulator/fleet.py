"""Pure state model of a fleet of simulated Redfish BMCs.

No I/O here: time is passed in explicitly as a float (epoch seconds) so the
power model is unit-testable. Building blocks live in ``model``, the opt-in
chassis hierarchy (chassis BMCs, slots, power coupling) in ``hierarchy`` and the
Redfish bodies in ``resources``; the names are re-exported here.
"""
from __future__ import annotations

import collections
from typing import Any, Deque, Dict, Iterable, List, Optional

from .capping import CapBook
from .devices import PDU_KIND, SWITCH_KIND, DevicesMixin
from .faults import FAULT_KINDS, FaultsMixin
from .hierarchy import EnclosureOff, HierarchyMixin, Unreachable
from .model import (
    ALLOWABLE_RESET_TYPES,
    BMC,
    CHASSIS_RESET_TYPES,
    KNOWN_RESET_TYPES,
    LOG_MAX_ENTRIES,
    MANAGER_RESET_TYPES,
    OFF,
    ON,
    POWERING_OFF,
    POWERING_ON,
    SWITCH_ALLOWABLE,
    ChassisBMC,
    FleetError,
    MgmtSwitch,
    PDUController,
    System,
    bmc_xname,
    parse_reset_types,
    pdu_xname,
    switch_xname,
)
from .resources import (
    chassis_resource,
    enclosure_chassis_resource,
    error_body,
    manager_resource,
    service_root,
    system_resource,
)
from .tasks import TasksMixin

__all__ = [
    "ALLOWABLE_RESET_TYPES", "CHASSIS_RESET_TYPES", "FAULT_KINDS", "KNOWN_RESET_TYPES",
    "LOG_MAX_ENTRIES", "MANAGER_RESET_TYPES", "OFF", "ON", "POWERING_OFF", "POWERING_ON",
    "BMC", "ChassisBMC", "EnclosureOff", "Fleet", "FleetError", "System", "Unreachable",
    "MgmtSwitch", "PDUController", "PDU_KIND", "SWITCH_KIND", "SWITCH_ALLOWABLE",
    "pdu_xname", "switch_xname", "bmc_xname", "chassis_resource", "enclosure_chassis_resource",
    "error_body",
    "manager_resource", "parse_reset_types", "service_root", "system_resource",
]


class Fleet(FaultsMixin, TasksMixin, HierarchyMixin, DevicesMixin):
    """All BMCs, their systems, faults (see ``faults``), tasks and the request log.

    ``bmcs`` holds the node BMCs (ports port_base + i); with ``chassis_bmcs`` a chassis BMC
    per chassis follows in ``chassis_bmcs`` (ports port_base + len(bmcs) + j); then the
    opt-in cabinet PDU controllers (``pdus``) and management switches (``switches``), in
    that order, on the next ports.
    """

    def __init__(self, bmcs: int, nodes_per_bmc: int = 2, port_base: int = 30000,
                 power_delay_s: float = 0.0, initial_state: str = "off",
                 log_max: int = LOG_MAX_ENTRIES, chassis_bmcs: bool = False,
                 bmc_boot_delay_s: float = 0.0,
                 reset_types: Optional[Iterable[str]] = None, pdus: int = 0,
                 outlets_per_pdu: int = 4, switches: int = 0, cap_style: str = "cray",
                 cap_styles: Optional[Dict[str, str]] = None) -> None:
        if bmcs < 1:
            raise FleetError("need at least one BMC")
        if nodes_per_bmc < 1:
            raise FleetError("need at least one node per BMC")
        init = initial_state.strip().lower()
        if init not in ("on", "off"):
            raise FleetError("initial_state must be 'on' or 'off'")
        state = ON if init == "on" else OFF
        self.power_delay_s = max(0.0, float(power_delay_s))
        self.bmc_boot_delay_s = max(0.0, float(bmc_boot_delay_s))
        self.reset_types: List[str] = (parse_reset_types(list(reset_types))
                                       if reset_types is not None
                                       else list(ALLOWABLE_RESET_TYPES))
        self.nodes_per_bmc = nodes_per_bmc
        self.port_base = port_base
        self.bmcs: List[BMC] = []
        self.chassis_bmcs: List[ChassisBMC] = []
        self.pdus: List[PDUController] = []
        self.switches: List[MgmtSwitch] = []
        self.by_xname: Dict[str, BMC] = {}
        self.by_port: Dict[int, BMC] = {}
        for i in range(bmcs):
            b = BMC(index=i, xname=bmc_xname(i), port=port_base + i)
            for j in range(nodes_per_bmc):
                b.systems[f"Node{j}"] = System(name=f"Node{j}", state=state)
            self.bmcs.append(b)
            self.by_xname[b.xname] = b
            self.by_port[b.port] = b
        if chassis_bmcs:
            self._build_chassis(port_base + bmcs)
        self._build_devices(port_base + bmcs + len(self.chassis_bmcs), pdus, outlets_per_pdu,
                            switches)
        self.log: Deque[Dict[str, Any]] = collections.deque(maxlen=log_max)
        self.capping = CapBook(self.bmcs, cap_style, cap_styles)

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

    def all_bmcs(self) -> List[BMC]:
        return [*self.bmcs, *self.chassis_bmcs, *self.pdus, *self.switches]

    @property
    def node_count(self) -> int:
        return len(self.bmcs) * self.nodes_per_bmc

    # ---- allowable ResetType values ---------------------------------------
    def allowable(self, b: BMC) -> List[str]:
        """ResetType values advertised (and accepted) by BMC ``b``'s resources."""
        if b.allowable is not None:
            return list(b.allowable)
        if isinstance(b, ChassisBMC):
            return ["On", "ForceOff"]
        if isinstance(b, MgmtSwitch):
            return list(SWITCH_ALLOWABLE)
        if isinstance(b, PDUController):
            return []   # outlets take PowerState values, not ResetType
        return list(self.reset_types)

    def set_allowable(self, xname: str, values: Optional[Iterable[Any]]) -> List[str]:
        """Override (or with None restore) the AllowableValues of one BMC."""
        b = self.bmc(xname)
        if values is None:
            b.allowable = None
        else:
            if isinstance(b, PDUController):
                raise FleetError(f"{xname} is a PDU controller: it has no ResetType values")
            chassis_like = isinstance(b, (ChassisBMC, MgmtSwitch))
            known = CHASSIS_RESET_TYPES if chassis_like else KNOWN_RESET_TYPES
            b.allowable = parse_reset_types(values, known)
        return self.allowable(b)

    # ---- power ----------------------------------------------------------
    def reset(self, xname: str, system: str, reset_type: str, now: float) -> bool:
        """Apply a reset. Returns False if an 'ignore' fault swallowed it."""
        b = self.bmc(xname)
        self.system(xname, system)
        if reset_type not in KNOWN_RESET_TYPES:
            raise FleetError(f"unsupported ResetType {reset_type!r}")
        if self.hierarchy:
            self.check_node_bmc(b, now)
        self.settle_tasks(b, now)
        if self._swallowed(b, system):
            return False
        self.power_reset(b, system, reset_type, now)
        return True

    def reset_chassis(self, xname: str, cid: str, reset_type: str, now: float) -> bool:
        """Chassis.Reset. Returns False if an 'ignore' fault swallowed it."""
        b = self.chassis_bmc(xname)
        self.element(xname, cid)
        if reset_type not in CHASSIS_RESET_TYPES:
            raise FleetError(f"unsupported ResetType {reset_type!r}")
        if self._swallowed(b):
            return False
        self.chassis_reset(xname, cid, reset_type, now)
        return True

    def set_power(self, xname: str, system: str, state: str, now: float = 0.0) -> None:
        norm = {"on": ON, "off": OFF}.get(str(state).lower())
        if norm is None:
            raise FleetError("PowerState must be 'On' or 'Off'")
        s = self.system(xname, system)
        if self.hierarchy and norm == ON:
            self.sync_for(self.bmc(xname), now)
            if not self.bmc(xname).powered:
                raise Unreachable(f"{xname} is not powered (its slot is off)")
        s.set_state(norm)

    def power_states(self, xname: str, now: float) -> Dict[str, str]:
        self.sync_for(self.bmc(xname), now)
        self.settle_tasks(self.bmc(xname), now)
        return {n: s.power_state(now) for n, s in self.bmc(xname).systems.items()}

    # ---- request log ----------------------------------------------------
    def record(self, t: float, bmc: str, method: str, path: str, body: Any,
               status: int, fault: Optional[str] = None) -> Dict[str, Any]:
        """Append a log entry; the server fills in status (0: no HTTP answer) and the kind
        of fault that decided the answer as the request proceeds."""
        entry = {"time": t, "bmc": bmc, "method": method, "path": path, "body": body,
                 "status": status, "fault": fault}
        self.log.append(entry)
        return entry

    def entries(self, bmc: Optional[str] = None,
                since: Optional[float] = None) -> List[Dict[str, Any]]:
        return [e for e in self.log
                if (bmc is None or e["bmc"] == bmc)
                and (since is None or e["time"] >= since)]

    def clear_log(self) -> None:
        self.log.clear()

    # ---- descriptions ---------------------------------------------------
    def describe_bmc(self, b: BMC, now: float, host: str = "127.0.0.1") -> Dict[str, Any]:
        self.sync_for(b, now)
        d: Dict[str, Any] = {"xname": b.xname, "address": f"{host}:{b.port}",
                             "type": b.kind, "systems": self.power_states(b.xname, now),
                             "fault": b.faults[-1] if b.faults else None,
                             "faults": list(b.faults), "powered": b.powered,
                             "reachable": b.reachable(now)}
        if isinstance(b, ChassisBMC):
            d["chassis"] = self.chassis_states(b, now)
        d.update(self.device_details(b, now))
        if b.allowable is not None:
            d["allowable"] = list(b.allowable)
        return d

    def describe(self, now: float, host: str = "127.0.0.1") -> List[Dict[str, Any]]:
        return [self.describe_bmc(b, now, host) for b in self.all_bmcs()]

    def inventory(self, host: str, username: str, password: str) -> List[Dict[str, Any]]:
        return [{"xname": b.xname, "address": f"{host}:{b.port}", "scheme": "http",
                 "username": username, "password": password, "verifyTls": False,
                 "nodes": b.node_xnames(), "type": b.kind} for b in self.all_bmcs()]


