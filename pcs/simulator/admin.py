"""The simulator's admin HTTP API (on its own port): state, faults, power, log."""
from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from .fleet import Fleet, FleetError, MgmtSwitch
from .redfish import _json


class _BadBody(Exception):
    pass


def _power_body(body: Any) -> str:
    if not isinstance(body, dict) or "PowerState" not in body:
        raise _BadBody("body must be {\"PowerState\": \"On\"|\"Off\"}")
    return body["PowerState"]


class AdminMixin:
    """Mixed into Simulator; expects ``fleet``, ``host``, ``_faults_changed``, ``_reconcile``."""

    fleet: Fleet
    host: str

    async def _admin(self, request: web.Request) -> web.Response:
        try:
            return await self._admin_inner(request)
        except FleetError as exc:
            msg = str(exc)
            code = 404 if msg.startswith("unknown") else 400
            return _json({"error": msg}, code)
        except _BadBody as exc:
            return _json({"error": str(exc)}, 400)

    @staticmethod
    async def _admin_body(request: web.Request) -> Any:
        raw = await request.read()
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            raise _BadBody("malformed JSON body") from None

    async def _admin_inner(self, request: web.Request) -> web.Response:
        parts = [p for p in request.path.split("/") if p]
        m = request.method
        f = self.fleet
        if parts[:1] != ["admin"]:
            return _json({"error": "not found"}, 404)
        rest = parts[1:]
        if rest == ["health"] and m == "GET":
            health = {"bmcs": len(f.bmcs), "nodes": f.node_count}
            if f.hierarchy:
                health["chassisBmcs"] = len(f.chassis_bmcs)
            if f.pdus:
                health["pdus"] = len(f.pdus)
            if f.switches:
                health["switches"] = len(f.switches)
            return _json(health)
        if rest == ["log"]:
            if m == "GET":
                bmc = request.query.get("bmc") or None
                since_s = request.query.get("since")
                try:
                    since = float(since_s) if since_s not in (None, "") else None
                except ValueError:
                    raise _BadBody("since must be a number") from None
                return _json({"entries": f.entries(bmc, since)})
            if m == "DELETE":
                f.clear_log()
                return _json({"cleared": True})
            return _json({"error": "method not allowed"}, 405)
        if rest == ["bmcs"] and m == "GET":
            return _json(f.describe(time.time(), self.host))
        if len(rest) < 2 or rest[0] != "bmcs":
            return _json({"error": "not found"}, 404)
        xname = rest[1]
        if len(rest) == 2 and m == "GET":
            return _json(f.describe_bmc(f.bmc(xname), time.time(), self.host))
        if len(rest) == 3 and rest[2] == "fault":   # xname: a BMC or one of its nodes
            if m == "PUT":
                fault = f.set_fault(xname, await self._admin_body(request))
                await self._faults_changed(xname)
                return _json({"xname": xname, "fault": fault})
            if m == "DELETE":
                f.clear_fault(xname)
                await self._faults_changed(xname)
                return _json({"xname": xname, "fault": None})
            if m == "GET":
                return _json(f.shown_fault(xname))
            return _json({"error": "method not allowed"}, 405)
        if len(rest) == 3 and rest[2] == "capping":
            return await self._admin_capping(request, xname)
        if len(rest) == 3 and rest[2] == "allowable":
            if m == "PUT":
                body = await self._admin_body(request)
                if not isinstance(body, dict) or "ResetType" not in body:
                    raise _BadBody("body must be {\"ResetType\": [\"On\", ...]}")
                values = f.set_allowable(xname, body["ResetType"])
            elif m == "DELETE":
                values = f.set_allowable(xname, None)
            elif m == "GET":
                values = f.allowable(f.bmc(xname))
            else:
                return _json({"error": "method not allowed"}, 405)
            return _json({"xname": xname, "ResetType": values})
        if len(rest) == 4 and rest[2] == "systems":
            if m != "PUT":
                return _json({"error": "method not allowed"}, 405)
            state = _power_body(await self._admin_body(request))
            now = time.time()
            f.set_power(xname, rest[3], state, now)
            return _json({"xname": xname, "system": rest[3],
                          "PowerState": f.system(xname, rest[3]).power_state(now)})
        if len(rest) == 4 and rest[2] == "outlets":
            now = time.time()
            if m == "GET":
                state = f.outlet(xname, rest[3]).power_state(now)
            elif m == "PUT":
                state = f.set_outlet_power(xname, rest[3],
                                           _power_body(await self._admin_body(request)), now)
            else:
                return _json({"error": "method not allowed"}, 405)
            return _json({"xname": xname, "outlet": rest[3], "PowerState": state})
        if len(rest) == 4 and rest[2] == "chassis" and isinstance(f.by_xname.get(xname),
                                                                  MgmtSwitch):
            now = time.time()
            if rest[3] != "Switch":
                raise FleetError(f"unknown chassis {rest[3]!r} on {xname}")
            if m == "GET":
                state = f.switch(xname).switch.power_state(now)
            elif m == "PUT":
                state = f.set_switch_power(xname, _power_body(await self._admin_body(request)),
                                           now)
            else:
                return _json({"error": "method not allowed"}, 405)
            return _json({"xname": xname, "chassis": rest[3], "PowerState": state})
        if len(rest) == 4 and rest[2] == "chassis":
            if m == "GET":
                now = time.time()
                f.element(xname, rest[3])
                return _json({"xname": xname, "chassis": rest[3],
                              "PowerState": f.chassis_states(f.chassis_bmc(xname), now)[rest[3]]})
            if m != "PUT":
                return _json({"error": "method not allowed"}, 405)
            state = _power_body(await self._admin_body(request))
            now = time.time()
            f.set_chassis_power(xname, rest[3], state, now)
            await self._reconcile()
            return _json({"xname": xname, "chassis": rest[3],
                          "PowerState": f.chassis_states(f.chassis_bmc(xname), now)[rest[3]]})
        return _json({"error": "not found"}, 404)

    async def _admin_capping(self, request: web.Request, xname: str) -> web.Response:
        """GET: the node BMC's capping style, fault and the limits its nodes hold. PUT
        {"style": ..., "fault": "refuse"|"ignore"|null}: change them (a new style starts with
        no caps held)."""
        f = self.fleet
        b = f.bmc(xname)
        if xname not in f.capping.by_bmc:
            raise FleetError(f"unknown node BMC {xname!r} for capping")
        if request.method == "PUT":
            body = await self._admin_body(request)
            if not isinstance(body, dict):
                raise _BadBody("body must be {\"style\": ..., \"fault\": ...}")
            if "style" in body:
                f.capping.set_style(b, body["style"])
            if "fault" in body:
                f.capping.set_fault(xname, body["fault"])
        elif request.method != "GET":
            return _json({"error": "method not allowed"}, 405)
        return _json(dict(xname=xname, **f.capping.by_bmc[xname].describe()))

    async def _faults_changed(self, xname: str) -> None:
        raise NotImplementedError

    async def _reconcile(self) -> None:
        raise NotImplementedError
