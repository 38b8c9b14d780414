"""The simulator's admin API (on its own port) as a route table: state, faults, power, log.

Errors answer ``{"error": text}``: 404 for an unknown path or name, 400 for a bad body, 405 for
a method a path lacks.
"""
from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from .fleet import Fleet, FleetError, MgmtSwitch
from .redfish import json_answer
from .routing import NotAllowed, RouteTable


class BadBody(Exception):
    """The request body is not what the route takes (400)."""


class Server(Protocol):
    """What admin handlers need of the server: the fleet, and a say when reachability may
    have changed (ports open or close to follow)."""

    fleet: Fleet
    host: str

    async def faults_changed(self, xname: str) -> None: ...

    async def reconcile(self) -> None: ...


@dataclass
class AdminCall:
    server: Server
    request: web.Request
    params: dict[str, str] = field(default_factory=dict)

    @property
    def fleet(self) -> Fleet:
        return self.server.fleet

    async def body(self) -> Any:
        """The JSON body ({} when empty). Raises BadBody if it is not JSON."""
        raw = await self.request.read()
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            raise BadBody("malformed JSON body") from None

    async def power_state(self) -> str:
        """The body's PowerState. Raises BadBody without one."""
        body = await self.body()
        if not isinstance(body, dict) or "PowerState" not in body:
            raise BadBody("body must be {\"PowerState\": \"On\"|\"Off\"}")
        return body["PowerState"]


AdminHandler = Callable[[AdminCall], Awaitable[web.Response]]


# These resolvers raise FleetError naming what is unknown: a 404 before any method is looked at.
def _node_bmc_with_capping(fleet: Fleet, params: dict[str, str]) -> bool:
    xname = params["node_bmc"]
    fleet.bmc(xname)
    if xname not in fleet.capping.by_bmc:
        raise FleetError(f"unknown node BMC {xname!r} for capping")
    return True


def _switch_chassis(fleet: Fleet, params: dict[str, str]) -> bool:
    if params["switch_chassis"] != "Switch":
        raise FleetError(f"unknown chassis {params['switch_chassis']!r} on {params['switch']}")
    return True


admin_routes: RouteTable[AdminHandler] = RouteTable(resolvers={
    "node_bmc": _node_bmc_with_capping,
    "switch": lambda fleet, params: isinstance(fleet.by_xname.get(params["switch"]),
                                               MgmtSwitch),
    "switch_chassis": _switch_chassis})
BMCS = "/admin/bmcs"


async def serve(server: Server, request: web.Request) -> web.Response:
    """The admin API's answer to ``request``."""
    # empty segments are ignored: /admin//bmcs/ is /admin/bmcs
    segments = tuple(part for part in request.path.split("/") if part)
    try:
        found = admin_routes.match(request.method, segments, server.fleet)
        if found is None:
            return json_answer({"error": "not found"}, 404)
        if isinstance(found, NotAllowed):
            # a read-only resource has always answered other methods as an unknown path
            if found.methods == {"GET"}:
                return json_answer({"error": "not found"}, 404)
            return json_answer({"error": "method not allowed"}, 405)
        return await found.handler(AdminCall(server, request, found.params))
    except FleetError as exc:
        message = str(exc)
        return json_answer({"error": message}, 404 if message.startswith("unknown") else 400)
    except BadBody as exc:
        return json_answer({"error": str(exc)}, 400)


# ---- the fleet ------------------------------------------------------------------------------
@admin_routes.get("/admin/health")
async def health(call: AdminCall) -> web.Response:
    f = call.fleet
    body = {"bmcs": len(f.bmcs), "nodes": f.node_count}
    if f.hierarchy:
        body["chassisBmcs"] = len(f.chassis_bmcs)
    if f.pdus:
        body["pdus"] = len(f.pdus)
    if f.switches:
        body["switches"] = len(f.switches)
    return json_answer(body)


@admin_routes.get("/admin/log")
async def get_log(call: AdminCall) -> web.Response:
    bmc = call.request.query.get("bmc") or None
    since = call.request.query.get("since")
    try:
        since_s = float(since) if since not in (None, "") else None
    except ValueError:
        raise BadBody("since must be a number") from None
    return json_answer({"entries": call.fleet.entries(bmc, since_s)})


@admin_routes.delete("/admin/log")
async def clear_log(call: AdminCall) -> web.Response:
    call.fleet.clear_log()
    return json_answer({"cleared": True})


@admin_routes.get(BMCS)
async def list_bmcs(call: AdminCall) -> web.Response:
    return json_answer(call.fleet.describe(time.time(), call.server.host))


@admin_routes.get(f"{BMCS}/{{xname}}")
async def describe_bmc(call: AdminCall) -> web.Response:
    f = call.fleet
    return json_answer(f.describe_bmc(f.bmc(call.params["xname"]), time.time(),
                                      call.server.host))


# ---- faults (xname: a BMC or one of its nodes) ------------------------------------------------
@admin_routes.put(f"{BMCS}/{{xname}}/fault")
async def put_fault(call: AdminCall) -> web.Response:
    xname = call.params["xname"]
    fault = call.fleet.set_fault(xname, await call.body())
    await call.server.faults_changed(xname)
    return json_answer({"xname": xname, "fault": fault})


@admin_routes.delete(f"{BMCS}/{{xname}}/fault")
async def delete_fault(call: AdminCall) -> web.Response:
    xname = call.params["xname"]
    call.fleet.clear_fault(xname)
    await call.server.faults_changed(xname)
    return json_answer({"xname": xname, "fault": None})


@admin_routes.get(f"{BMCS}/{{xname}}/fault")
async def get_fault(call: AdminCall) -> web.Response:
    return json_answer(call.fleet.shown_fault(call.params["xname"]))


# ---- capping ----------------------------------------------------------------------------------
@admin_routes.get(f"{BMCS}/{{node_bmc}}/capping")
async def get_capping(call: AdminCall) -> web.Response:
    """The node BMC's capping style, fault and the limits its nodes hold."""
    xname = call.params["node_bmc"]
    return json_answer(dict(xname=xname, **call.fleet.capping.by_bmc[xname].describe()))


@admin_routes.put(f"{BMCS}/{{node_bmc}}/capping")
async def put_capping(call: AdminCall) -> web.Response:
    """{"style": ..., "fault": "refuse"|"ignore"|null}: a new style starts with no caps held."""
    f, xname = call.fleet, call.params["node_bmc"]
    body = await call.body()
    if not isinstance(body, dict):
        raise BadBody("body must be {\"style\": ..., \"fault\": ...}")
    if "style" in body:
        f.capping.set_style(f.bmc(xname), body["style"])
    if "fault" in body:
        f.capping.set_fault(xname, body["fault"])
    return await get_capping(call)


# ---- allowable ResetType values ------------------------------------------------------------
@admin_routes.put(f"{BMCS}/{{xname}}/allowable")
async def put_allowable(call: AdminCall) -> web.Response:
    body = await call.body()
    if not isinstance(body, dict) or "ResetType" not in body:
        raise BadBody("body must be {\"ResetType\": [\"On\", ...]}")
    return _allowable(call, call.fleet.set_allowable(call.params["xname"], body["ResetType"]))


@admin_routes.delete(f"{BMCS}/{{xname}}/allowable")
async def delete_allowable(call: AdminCall) -> web.Response:
    return _allowable(call, call.fleet.set_allowable(call.params["xname"], None))


@admin_routes.get(f"{BMCS}/{{xname}}/allowable")
async def get_allowable(call: AdminCall) -> web.Response:
    f = call.fleet
    return _allowable(call, f.allowable(f.bmc(call.params["xname"])))


def _allowable(call: AdminCall, values: list) -> web.Response:
    return json_answer({"xname": call.params["xname"], "ResetType": values})


# ---- power, set directly (no delay, no faults) ---------------------------------------------
@admin_routes.put(f"{BMCS}/{{xname}}/systems/{{system}}")
async def put_system_power(call: AdminCall) -> web.Response:
    f, xname, system = call.fleet, call.params["xname"], call.params["system"]
    f.set_power(xname, system, await call.power_state(), now := time.time())
    return json_answer({"xname": xname, "system": system,
                        "PowerState": f.system(xname, system).power_state(now)})


@admin_routes.get(f"{BMCS}/{{xname}}/outlets/{{outlet}}")
async def get_outlet_power(call: AdminCall) -> web.Response:
    xname, outlet = call.params["xname"], call.params["outlet"]
    return _outlet(call, call.fleet.outlet(xname, outlet).power_state(time.time()))


@admin_routes.put(f"{BMCS}/{{xname}}/outlets/{{outlet}}")
async def put_outlet_power(call: AdminCall) -> web.Response:
    xname, outlet = call.params["xname"], call.params["outlet"]
    state = await call.power_state()
    return _outlet(call, call.fleet.set_outlet_power(xname, outlet, state, time.time()))


def _outlet(call: AdminCall, state: str) -> web.Response:
    return json_answer({"xname": call.params["xname"], "outlet": call.params["outlet"],
                        "PowerState": state})


# a switch's chassis before any other BMC's: the same path, told apart by the BMC
@admin_routes.get(f"{BMCS}/{{switch}}/chassis/{{switch_chassis}}")
async def get_switch_power(call: AdminCall) -> web.Response:
    xname = call.params["switch"]
    return _switch(call, call.fleet.switch(xname).switch.power_state(time.time()))


@admin_routes.put(f"{BMCS}/{{switch}}/chassis/{{switch_chassis}}")
async def put_switch_power(call: AdminCall) -> web.Response:
    state = await call.power_state()
    return _switch(call, call.fleet.set_switch_power(call.params["switch"], state, time.time()))


def _switch(call: AdminCall, state: str) -> web.Response:
    return json_answer({"xname": call.params["switch"],
                        "chassis": call.params["switch_chassis"], "PowerState": state})


@admin_routes.get(f"{BMCS}/{{xname}}/chassis/{{chassis}}")
async def get_chassis_power(call: AdminCall) -> web.Response:
    f, xname, cid = call.fleet, call.params["xname"], call.params["chassis"]
    f.element(xname, cid)   # raises FleetError for an unknown BMC or chassis
    return _chassis(call, f.chassis_states(f.chassis_bmc(xname), time.time())[cid])


@admin_routes.put(f"{BMCS}/{{xname}}/chassis/{{chassis}}")
async def put_chassis_power(call: AdminCall) -> web.Response:
    """Sets an enclosure or blade with its coupling: node BMCs in it go down or boot."""
    f, xname, cid = call.fleet, call.params["xname"], call.params["chassis"]
    f.set_chassis_power(xname, cid, await call.power_state(), now := time.time())
    await call.server.reconcile()
    return _chassis(call, f.chassis_states(f.chassis_bmc(xname), now)[cid])


def _chassis(call: AdminCall, state: str) -> web.Response:
    return json_answer({"xname": call.params["xname"], "chassis": call.params["chassis"],
                        "PowerState": state})
