"""The Redfish service of every simulated device: the service root without credentials, then
HTTP Basic auth, then the route tables of the device's kind (a node BMC's capping first)."""
from __future__ import annotations

import base64

from aiohttp import web

from .bmc_routes import chassis_bmc_routes, node_routes
from .capping_routes import route as capping_answer
from .device_routes import pdu_routes, switch_routes
from .fleet import BMC, ChassisBMC, MgmtSwitch, PDUController, service_root
from .redfish import (
    BmcCall,
    Handler,
    json_answer,
    not_allowed,
    not_found,
    redfish_error,
    unauthorized,
)
from .routing import NotAllowed, RouteTable, redfish_segments

# Clients discover a BMC through its service root before they have logged in.
public_routes: RouteTable[Handler] = RouteTable()
ROUTES_OF_KIND: dict[type[BMC], RouteTable[Handler]] = {
    BMC: node_routes, ChassisBMC: chassis_bmc_routes, PDUController: pdu_routes,
    MgmtSwitch: switch_routes}


@public_routes.get("/redfish")
@public_routes.head("/redfish")
def get_versions(call: BmcCall) -> web.Response:
    return json_answer({"v1": "/redfish/v1/"})


@public_routes.get("/redfish/v1")
@public_routes.head("/redfish/v1")
def get_service_root(call: BmcCall) -> web.Response:
    return json_answer(service_root(call.device))


class RedfishService:
    """Answers Redfish requests for any device of the fleet, behind one account."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self._expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    def authorized(self, header: str) -> bool:
        if header == self._expected:   # what clients send: no decoding on the hot path
            return True
        if header[:6].lower() != "basic ":
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.username and password == self.password

    def answer(self, call: BmcCall, method: str, authorization: str) -> web.Response:
        """The device's answer once faults have let the request through."""
        segments = redfish_segments(call.path)
        public = public_routes.match(method, segments)
        if isinstance(public, NotAllowed):
            return redfish_error(405, "ActionNotSupported", "Method not allowed.")
        if public is not None:
            return public.handler(call)
        if not self.authorized(authorization):
            return unauthorized()
        call.fleet.settle_tasks(call.device, call.now)   # tasks over by now show their outcome
        capping = call.fleet.capping.of(call.device.xname)
        if capping is not None:
            capped = capping_answer(capping, method, call.path, call.body)
            if capped is not None:
                status, body = capped
                return json_answer(body, status) if body is not None else web.Response(
                    status=status)
        found = ROUTES_OF_KIND[type(call.device)].match(method, segments, call.device)
        if found is None:
            return not_found(call.path)
        if isinstance(found, NotAllowed):
            return not_allowed(call.path)
        call.params = found.params
        return found.handler(call)
