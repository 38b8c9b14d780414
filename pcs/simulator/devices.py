"""Opt-in non-node Redfish services of a Fleet: cabinet PDU controllers and management switches.

Pure (time is passed in as ``now``). PDU controllers follow the DMTF PowerDistribution
schema (PowerEquipment -> RackPDUs/1 -> Outlets/AA<n>, each with ``#Outlet.PowerControl``);
a management switch has one ``RackMount`` chassis "Switch" with ``#Chassis.Reset``. Neither
is power-coupled to anything else.
"""
from __future__ import annotations

from typing import Any, Dict, List

from .model import (
    BMC,
    CHASSIS_RESET_TYPES,
    OFF,
    ON,
    OUTLET_POWER_STATES,
    FleetError,
    MgmtSwitch,
    PDUController,
    System,
    outlet_id,
    pdu_xname,
    switch_xname,
)
from .resources import collection

PDU_KIND = "CabinetPDUController"
SWITCH_KIND = "MgmtSwitch"
RACK_PDUS = "/redfish/v1/PowerEquipment/RackPDUs"
RACK_PDU = f"{RACK_PDUS}/1"
OUTLETS = f"{RACK_PDU}/Outlets"
SWITCH_CHASSIS = "/redfish/v1/Chassis/Switch"
STATUS_OK = {"State": "Enabled", "Health": "OK"}


def _norm_power(state: Any) -> str:
    norm = {"on": ON, "off": OFF}.get(str(state).lower())
    if norm is None:
        raise FleetError("PowerState must be 'On' or 'Off'")
    return norm


class DevicesMixin:
    """Mixed into Fleet; expects ``by_xname``, ``by_port``, ``_swallowed``, ``power_delay``."""

    by_xname: Dict[str, BMC]
    by_port: Dict[int, BMC]
    power_delay_s: float
    pdus: List[PDUController]
    switches: List[MgmtSwitch]

    def _build_devices(self, port_next: int, pdus: int, outlets_per_pdu: int,
                       switches: int) -> None:
        if pdus < 0 or switches < 0:
            raise FleetError("pdus and switches must be >= 0")
        if pdus and outlets_per_pdu < 1:
            raise FleetError("need at least one outlet per PDU")
        for j in range(pdus):
            p = PDUController(index=j, xname=pdu_xname(j), port=port_next + j, kind=PDU_KIND)
            for n in range(outlets_per_pdu):
                p.outlets[outlet_id(n)] = System(name=outlet_id(n), state=ON)
            self.pdus.append(p)
        for k in range(switches):
            self.switches.append(MgmtSwitch(index=k, xname=switch_xname(k),
                                            port=port_next + pdus + k, kind=SWITCH_KIND))
        for d in (*self.pdus, *self.switches):
            self.by_xname[d.xname] = d
            self.by_port[d.port] = d

    # ---- lookup -----------------------------------------------------------
    def pdu(self, xname: str) -> PDUController:
        b = self.by_xname.get(xname)
        if not isinstance(b, PDUController):
            raise FleetError(f"unknown PDU controller {xname!r}")
        return b

    def outlet(self, xname: str, oid: str) -> System:
        try:
            return self.pdu(xname).outlets[oid]
        except KeyError:
            raise FleetError(f"unknown outlet {oid!r} on {xname}") from None

    def switch(self, xname: str) -> MgmtSwitch:
        b = self.by_xname.get(xname)
        if not isinstance(b, MgmtSwitch):
            raise FleetError(f"unknown management switch {xname!r}")
        return b

    # ---- operations ---------------------------------------------------------
    def outlet_power_control(self, xname: str, oid: str, state: str, now: float) -> bool:
        """Outlet.PowerControl. Returns False if an 'ignore' fault swallowed it."""
        el = self.outlet(xname, oid)
        if state not in OUTLET_POWER_STATES:
            raise FleetError(f"unsupported PowerState {state!r}")
        if self._swallowed(self.pdu(xname)):
            return False
        el.reset(state, now, self.power_delay(self.pdu(xname)))
        return True

    def set_outlet_power(self, xname: str, oid: str, state: Any, now: float) -> str:
        """Admin: set an outlet's power directly (cancelling any pending change)."""
        el = self.outlet(xname, oid)
        el.set_state(_norm_power(state))
        return el.power_state(now)

    def switch_reset(self, xname: str, reset_type: str, now: float) -> bool:
        """Chassis.Reset of a switch. Returns False if an 'ignore' fault swallowed it."""
        sw = self.switch(xname)
        if reset_type not in CHASSIS_RESET_TYPES:
            raise FleetError(f"unsupported ResetType {reset_type!r}")
        if self._swallowed(sw):
            return False
        sw.switch.reset(reset_type, now, self.power_delay(sw))
        return True

    def set_switch_power(self, xname: str, state: Any, now: float) -> str:
        sw = self.switch(xname)
        sw.switch.set_state(_norm_power(state))
        return sw.switch.power_state(now)

    # ---- descriptions -------------------------------------------------------
    @staticmethod
    def outlet_states(p: PDUController, now: float) -> Dict[str, str]:
        return {oid: el.power_state(now) for oid, el in p.outlets.items()}

    def device_details(self, b: BMC, now: float) -> Dict[str, Any]:
        """Extra /admin/bmcs fields of a PDU controller or switch ({} for other BMCs)."""
        if isinstance(b, PDUController):
            return {"outlets": self.outlet_states(b, now)}
        if isinstance(b, MgmtSwitch):
            return {"chassis": {"Switch": b.switch.power_state(now)}}
        return {}


# ---- Redfish bodies -----------------------------------------------------------
def _collection(uri: str, type_name: str, name: str, members: List[str]) -> Dict[str, Any]:
    body = collection(uri[len("/redfish/v1/"):], type_name, members)
    body["Name"] = name
    return body


def power_equipment() -> Dict[str, Any]:
    return {
        "@odata.id": "/redfish/v1/PowerEquipment",
        "@odata.type": "#PowerEquipment.v1_1_0.PowerEquipment",
        "Id": "PowerEquipment",
        "Name": "Power Equipment",
        "Status": dict(STATUS_OK),
        "RackPDUs": {"@odata.id": RACK_PDUS},
    }


def rack_pdus() -> Dict[str, Any]:
    return _collection(RACK_PDUS, "PowerDistribution", "Rack PDU Collection", [RACK_PDU])


def rack_pdu(p: PDUController) -> Dict[str, Any]:
    return {
        "@odata.id": RACK_PDU,
        "@odata.type": "#PowerDistribution.v1_2_0.PowerDistribution",
        "Id": "1",
        "Name": f"{p.xname} Rack PDU",
        "EquipmentType": "RackPDU",
        "Status": dict(STATUS_OK),
        "Outlets": {"@odata.id": OUTLETS},
    }


def outlets_collection(p: PDUController) -> Dict[str, Any]:
    return _collection(OUTLETS, "Outlet", "Outlet Collection",
                       [f"{OUTLETS}/{oid}" for oid in p.outlets])


def outlet_resource(p: PDUController, oid: str, now: float) -> Dict[str, Any]:
    uri = f"{OUTLETS}/{oid}"
    return {
        "@odata.id": uri,
        "@odata.type": "#Outlet.v1_4_0.Outlet",
        "Id": oid,
        "Name": f"Outlet {oid}",
        "PowerState": p.outlets[oid].power_state(now),
        "Status": dict(STATUS_OK),
        "Actions": {"#Outlet.PowerControl": {
            "target": f"{uri}/Actions/Outlet.PowerControl",
            "PowerState@Redfish.AllowableValues": list(OUTLET_POWER_STATES),
        }},
    }


def pdu_manager(p: PDUController) -> Dict[str, Any]:
    """The PDU's management controller: no ``#Manager.Reset`` action."""
    return {
        "@odata.id": "/redfish/v1/Managers/BMC",
        "@odata.type": "#Manager.v1_10_0.Manager",
        "Id": "BMC",
        "Name": f"{p.xname} PDU controller",
        "ManagerType": "ManagementController",
        "Status": dict(STATUS_OK),
    }


def switch_chassis(sw: MgmtSwitch, now: float, allowable: List[str]) -> Dict[str, Any]:
    return {
        "@odata.id": SWITCH_CHASSIS,
        "@odata.type": "#Chassis.v1_10_0.Chassis",
        "Id": "Switch",
        "Name": f"{sw.xname} management switch",
        "ChassisType": "RackMount",
        "PowerState": sw.switch.power_state(now),
        "Status": dict(STATUS_OK),
        "Actions": {"#Chassis.Reset": {
            "target": f"{SWITCH_CHASSIS}/Actions/Chassis.Reset",
            "ResetType@Redfish.AllowableValues": list(allowable),
        }},
    }
