"""Redfish routing of the non-node services: cabinet PDU controllers and management switches.

Called by :meth:`RedfishMixin._redfish` after authentication, with the path split after
``/redfish/v1``. PDU controller tree::

    /redfish/v1/PowerEquipment -> RackPDUs -> RackPDUs/1 -> Outlets -> Outlets/AA<n>
    POST .../Outlets/AA<n>/Actions/Outlet.PowerControl {"PowerState": "On"|"Off"}

Management switch tree: ``/redfish/v1/Chassis/Switch`` with ``Actions/Chassis.Reset``.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

from aiohttp import web

from .devices import (
    outlet_resource,
    outlets_collection,
    pdu_manager,
    power_equipment,
    rack_pdu,
    rack_pdus,
    switch_chassis,
)
from .model import BMC, OUTLET_POWER_STATES, FleetError, MgmtSwitch, PDUController
from .redfish import COLLECTION_TYPES, RedfishMixin, _json, malformed_json, redfish_error
from .resources import collection

GET_ONLY = ("GET",)


class DeviceRedfishMixin(RedfishMixin):
    """Adds the PDU controller and management switch trees to :class:`RedfishMixin`."""

    def _device_redfish(self, b: BMC, method: str, path: str, parts: List[str],
                        body: Any) -> Optional[web.Response]:
        if isinstance(b, PDUController):
            return self._pdu_redfish(b, method, path, parts, body)
        if isinstance(b, MgmtSwitch):
            return self._switch_redfish(b, method, path, parts, body)
        return None

    def _top_collection(self, path: str, method: str, coll: str,
                        members: Dict[str, List[str]]) -> web.Response:
        if method != "GET":
            return self._not_allowed(path)
        return _json(collection(coll, COLLECTION_TYPES[coll], members.get(coll, [])))

    # ---- PDU controller -----------------------------------------------------
    def _pdu_redfish(self, p: PDUController, method: str, path: str, parts: List[str],
                     body: Any) -> web.Response:
        if len(parts) == 1 and parts[0] in COLLECTION_TYPES:
            return self._top_collection(path, method, parts[0],
                                        {"Managers": ["/redfish/v1/Managers/BMC"]})
        if parts == ["Managers", "BMC"]:
            return self._get(path, method, lambda: pdu_manager(p))
        if parts[0] != "PowerEquipment":
            return self._not_found(path)
        rest = parts[1:]
        if not rest:
            return self._get(path, method, power_equipment)
        if rest == ["RackPDUs"]:
            return self._get(path, method, rack_pdus)
        if rest[:2] != ["RackPDUs", "1"]:
            return self._not_found(path)
        rest = rest[2:]
        if not rest:
            return self._get(path, method, lambda: rack_pdu(p))
        if rest == ["Outlets"]:
            return self._get(path, method, lambda: outlets_collection(p))
        if rest[0] != "Outlets" or rest[1] not in p.outlets:
            return self._not_found(path)
        oid = rest[1]
        if len(rest) == 2:
            return self._get(path, method, lambda: outlet_resource(p, oid, time.time()))
        if rest[2:] == ["Actions", "Outlet.PowerControl"]:
            if method != "POST":
                return self._not_allowed(path)
            return self._outlet_power_control(p, oid, body)
        return self._not_found(path)

    def _outlet_power_control(self, p: PDUController, oid: str, body: Any) -> web.Response:
        if not isinstance(body, dict):
            return malformed_json()
        state = body.get("PowerState")
        if not isinstance(state, str) or state not in OUTLET_POWER_STATES:
            return self._bad_parameter("PowerState", state)
        try:
            applied = self.fleet.outlet_power_control(p.xname, oid, state, time.time())
        except FleetError:
            return self._bad_parameter("PowerState", state)
        return self._no_content(applied)

    # ---- management switch ----------------------------------------------------
    def _switch_redfish(self, sw: MgmtSwitch, method: str, path: str, parts: List[str],
                        body: Any) -> web.Response:
        if len(parts) == 1 and parts[0] in COLLECTION_TYPES:
            return self._top_collection(path, method, parts[0],
                                        {"Chassis": ["/redfish/v1/Chassis/Switch"]})
        if parts[:2] != ["Chassis", "Switch"]:
            return self._not_found(path)
        if len(parts) == 2:
            return self._get(path, method, lambda: switch_chassis(
                sw, time.time(), self.fleet.allowable(sw)))
        if parts[2:] == ["Actions", "Chassis.Reset"]:
            if method != "POST":
                return self._not_allowed(path)
            rt = self._reset_type(sw, body)
            if isinstance(rt, web.Response):
                return rt
            try:
                applied = self.fleet.switch_reset(sw.xname, rt, time.time())
            except FleetError:
                return self._bad_reset_type(rt)
            return self._no_content(applied)
        return self._not_found(path)

    # ---- helpers ----------------------------------------------------------------
    def _get(self, path: str, method: str, build: Any) -> web.Response:
        if method not in GET_ONLY:
            return self._not_allowed(path)
        return _json(build())

    @staticmethod
    def _bad_parameter(name: str, value: Any) -> web.Response:
        return redfish_error(400, "ActionParameterNotSupported",
                             f"The parameter {name} with value '{value}' is not supported.",
                             "Remove the parameter supplied and resubmit the request "
                             "if the operation failed.")
