"""Route tables of the non-node services: cabinet PDU controllers and management switches.

PDU controller: PowerEquipment -> RackPDUs -> RackPDUs/1 -> Outlets -> Outlets/AA<n>, and
``POST .../Outlets/AA<n>/Actions/Outlet.PowerControl {"PowerState": "On"|"Off"}``.
Management switch: ``Chassis/Switch`` with ``Actions/Chassis.Reset``.
"""
from __future__ import annotations

from aiohttp import web

from .bmc_routes import CHASSIS, MANAGERS, SYSTEMS, members_answer, task_routes
from .devices import (
    OUTLETS,
    RACK_PDU,
    RACK_PDUS,
    SWITCH_CHASSIS,
    outlet_resource,
    outlets_collection,
    pdu_manager,
    power_equipment,
    rack_pdu,
    rack_pdus,
    switch_chassis,
)
from .model import OUTLET_POWER_STATES, FleetError
from .redfish import (
    BmcCall,
    Handler,
    apply_reset,
    bad_parameter,
    json_answer,
    malformed_json,
    no_content,
)
from .routing import RouteTable

pdu_routes: RouteTable[Handler] = RouteTable(
    resolvers={"outlet": lambda p, params: params["outlet"] in p.outlets})
switch_routes: RouteTable[Handler] = RouteTable()


# ---- collections ---------------------------------------------------------------------------
@pdu_routes.get(SYSTEMS)
@pdu_routes.get(CHASSIS)
@switch_routes.get(SYSTEMS)
@switch_routes.get(MANAGERS)
def get_empty_collection(call: BmcCall) -> web.Response:
    """The collection the path names (Systems, Chassis or Managers), with no members."""
    return members_answer(call.path.rsplit("/", 1)[1], [])


@pdu_routes.get(MANAGERS)
def get_pdu_managers(call: BmcCall) -> web.Response:
    return members_answer("Managers", [f"{MANAGERS}/BMC"])


@switch_routes.get(CHASSIS)
def get_switch_chassis_collection(call: BmcCall) -> web.Response:
    return members_answer("Chassis", [SWITCH_CHASSIS])


# ---- PDU controller ------------------------------------------------------------------------
@pdu_routes.get(f"{MANAGERS}/BMC")
def get_pdu_manager(call: BmcCall) -> web.Response:
    return json_answer(pdu_manager(call.device))


@pdu_routes.get("/redfish/v1/PowerEquipment")
def get_power_equipment(call: BmcCall) -> web.Response:
    return json_answer(power_equipment())


@pdu_routes.get(RACK_PDUS)
def get_rack_pdus(call: BmcCall) -> web.Response:
    return json_answer(rack_pdus())


@pdu_routes.get(RACK_PDU)
def get_rack_pdu(call: BmcCall) -> web.Response:
    return json_answer(rack_pdu(call.device))


@pdu_routes.get(OUTLETS)
def get_outlets(call: BmcCall) -> web.Response:
    return json_answer(outlets_collection(call.device))


@pdu_routes.get(f"{OUTLETS}/{{outlet}}")
def get_outlet(call: BmcCall) -> web.Response:
    return json_answer(outlet_resource(call.device, call.params["outlet"], call.now))


@pdu_routes.post(f"{OUTLETS}/{{outlet}}/Actions/Outlet.PowerControl")
def control_outlet(call: BmcCall) -> web.Response:
    if not isinstance(call.body, dict):
        return malformed_json()
    state = call.body.get("PowerState")
    if not isinstance(state, str) or state not in OUTLET_POWER_STATES:
        return bad_parameter("PowerState", state)
    try:
        applied = call.fleet.outlet_power_control(call.device.xname, call.params["outlet"],
                                                  state, call.now)
    except FleetError:
        return bad_parameter("PowerState", state)
    return no_content(applied)


# ---- management switch ---------------------------------------------------------------------
@switch_routes.get(SWITCH_CHASSIS)
def get_switch(call: BmcCall) -> web.Response:
    return json_answer(switch_chassis(call.device, call.now, call.fleet.allowable(call.device)))


@switch_routes.post(f"{SWITCH_CHASSIS}/Actions/Chassis.Reset")
def reset_switch(call: BmcCall) -> web.Response:
    return apply_reset(call, lambda reset_type: call.fleet.switch_reset(
        call.device.xname, reset_type, call.now))


pdu_routes.include(task_routes)
switch_routes.include(task_routes)
