"""aiohttp server exposing a Fleet as many Redfish BMCs (one port each)."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sys
import time
from typing import Any, Dict, Optional

from aiohttp import ClientSession, ClientTimeout, web

from .fleet import (ALLOWABLE_RESET_TYPES, MANAGER_RESET_TYPES, BMC, Fleet, FleetError,
                    chassis_resource, error_body, manager_resource, service_root,
                    system_resource)

HANG_MAX_S = 600.0
JSON_CT = "application/json"
COLLECTION_TYPES = {"Systems": "ComputerSystem", "Chassis": "Chassis", "Managers": "Manager"}


def raise_nofile_limit() -> None:
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, ValueError, OSError) as exc:  # pragma: no cover
        print(f"simulator: could not raise RLIMIT_NOFILE: {exc}", file=sys.stderr)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(),
                        content_type=JSON_CT, headers={"OData-Version": "4.0"})


def redfish_error(status: int, message_id: str, message: str,
                  resolution: str = "None.") -> web.Response:
    return _json(error_body(message_id, message, resolution), status)


class _BadBody(Exception):
    pass


class Simulator:
    def __init__(self, fleet: Fleet, host: str = "127.0.0.1", username: str = "root",
                 password: str = "initial0", admin_port: Optional[int] = None) -> None:
        self.fleet = fleet
        self.host = host
        self.username = username
        self.password = password
        self.admin_port = admin_port if admin_port is not None else fleet.port_base - 1
        self._auth_ok = "Basic " + base64.b64encode(
            f"{username}:{password}".encode()).decode()
        self._hang_events: Dict[str, asyncio.Event] = {}
        self._sites: Dict[int, web.TCPSite] = {}
        self.runner: Optional[web.AppRunner] = None
        self._closing = False

    # ---- lifecycle ------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0,
                                    handle_signals=False)
        await self.runner.setup()
        await self._listen(self.admin_port)
        for b in self.fleet.bmcs:
            await self._listen(b.port)

    async def _listen(self, port: int) -> None:
        site = web.TCPSite(self.runner, self.host, port, backlog=512,
                           reuse_address=True)
        await site.start()
        self._sites[port] = site

    async def _unlisten(self, port: int) -> None:
        site = self._sites.pop(port, None)
        if site is not None:
            await site.stop()

    async def stop(self) -> None:
        self._closing = True
        for ev in self._hang_events.values():
            ev.set()
        if self.runner is not None:
            await self.runner.cleanup()

    # ---- dispatch -------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        port = sock[1] if sock else None
        if port == self.admin_port:
            return await self._admin(request)
        b = self.fleet.by_port.get(port)
        if b is None:
            return redfish_error(404, "ResourceMissingAtURI", "No BMC on this port.")
        return await self._bmc_request(b, request)

    async def _bmc_request(self, b: BMC, request: web.Request) -> web.StreamResponse:
        t0 = time.time()
        body: Any = None
        status = 500
        try:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
            kind = self.fleet.fault_kind(b)
            if kind == "hang":
                ev = self._hang_events.setdefault(b.xname, asyncio.Event())
                try:
                    await asyncio.wait_for(ev.wait(), HANG_MAX_S)
                except asyncio.TimeoutError:
                    pass
                kind = self.fleet.fault_kind(b)
            if kind == "down" or b.port not in self._sites:
                # Existing keep-alive connection to a "down" BMC: drop it.
                if request.transport is not None:
                    request.transport.close()
                status = 0
                return web.Response(status=503)
            resp = self._redfish(b, request, raw, body)
            status = resp.status
            return resp
        finally:
            self.fleet.record(t0, b.xname, request.method, request.path_qs, body, status)

    # ---- Redfish --------------------------------------------------------
    def _authorized(self, request: web.Request) -> bool:
        got = request.headers.get("Authorization", "")
        if got == self._auth_ok:
            return True
        if got[:6].lower() != "basic ":
            return False
        try:
            user, _, pw = base64.b64decode(got[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.username and pw == self.password

    def _redfish(self, b: BMC, request: web.Request, raw: bytes, body: Any) -> web.Response:
        path = request.path.rstrip("/") or "/"
        method = request.method
        if path in ("/redfish", "/redfish/v1"):
            if method not in ("GET", "HEAD"):
                return redfish_error(405, "ActionNotSupported", "Method not allowed.")
            if path == "/redfish":
                return _json({"v1": "/redfish/v1/"})
            return _json(service_root(b))
        if not self._authorized(request):
            resp = redfish_error(401, "InsufficientPrivilege",
                                 "There are insufficient privileges for the account or "
                                 "credentials associated with the current session to "
                                 "perform the requested operation.",
                                 "Provide valid credentials.")
            resp.headers["WWW-Authenticate"] = 'Basic realm="simulator"'
            return resp
        parts = path.split("/")[3:]  # after ['', 'redfish', 'v1']
        if not parts:
            return self._not_found(path)
        coll = parts[0]
        if len(parts) == 1 and coll in ("Systems", "Chassis", "Managers"):
            if method != "GET":
                return self._not_allowed(path)
            members = {"Systems": [f"/redfish/v1/Systems/{n}" for n in b.systems],
                       "Chassis": ["/redfish/v1/Chassis/Enclosure"],
                       "Managers": ["/redfish/v1/Managers/BMC"]}[coll]
            return _json({
                "@odata.id": f"/redfish/v1/{coll}",
                "@odata.type": f"#{COLLECTION_TYPES[coll]}Collection.{COLLECTION_TYPES[coll]}Collection",
                "Name": f"{coll} Collection",
                "Members": [{"@odata.id": m} for m in members],
                "Members@odata.count": len(members),
            })
        if coll == "Systems" and len(parts) >= 2 and parts[1] in b.systems:
            name = parts[1]
            if len(parts) == 2:
                if method != "GET":
                    return self._not_allowed(path)
                return _json(system_resource(b, name, time.time()))
            if parts[2:] == ["Actions", "ComputerSystem.Reset"]:
                if method != "POST":
                    return self._not_allowed(path)
                return self._system_reset(b, name, raw, body)
        elif coll == "Chassis" and parts[1:2] == ["Enclosure"] and len(parts) == 2:
            if method != "GET":
                return self._not_allowed(path)
            return _json(chassis_resource(b))
        elif coll == "Managers" and parts[1:2] == ["BMC"]:
            if len(parts) == 2:
                if method != "GET":
                    return self._not_allowed(path)
                return _json(manager_resource(b))
            if parts[2:] == ["Actions", "Manager.Reset"]:
                if method != "POST":
                    return self._not_allowed(path)
                err = self._fault_response(b)
                if err is not None:
                    return err
                if raw and not isinstance(body, dict):
                    return redfish_error(400, "MalformedJSON",
                                         "The request body submitted was malformed JSON.")
                rt = body.get("ResetType") if isinstance(body, dict) else None
                if rt is not None and rt not in MANAGER_RESET_TYPES:
                    return self._bad_reset_type(rt)
                return web.Response(status=204)
        return self._not_found(path)

    def _fault_response(self, b: BMC) -> Optional[web.Response]:
        f = b.fault
        if f and f.get("fault") == "status":
            return redfish_error(f["status"], "GeneralError", f["message"])
        return None

    def _system_reset(self, b: BMC, name: str, raw: bytes, body: Any) -> web.Response:
        err = self._fault_response(b)
        if err is not None:
            return err
        if not isinstance(body, dict):
            return redfish_error(400, "MalformedJSON",
                                 "The request body submitted was malformed JSON and "
                                 "could not be parsed by the receiving service.",
                                 "Ensure that the request body is valid JSON and resubmit.")
        rt = body.get("ResetType")
        if not isinstance(rt, str) or rt not in ALLOWABLE_RESET_TYPES:
            return self._bad_reset_type(rt)
        try:
            self.fleet.reset(b.xname, name, rt, time.time())
        except FleetError:
            return self._bad_reset_type(rt)
        return web.Response(status=204)

    @staticmethod
    def _bad_reset_type(rt: Any) -> web.Response:
        return redfish_error(400, "ActionParameterNotSupported",
                             f"The parameter ResetType with value '{rt}' is not supported.",
                             "Remove the parameter supplied and resubmit the request "
                             "if the operation failed.")

    @staticmethod
    def _not_found(path: str) -> web.Response:
        return redfish_error(404, "ResourceMissingAtURI",
                             f"The resource at the URI {path} was not found.",
                             "Place a valid resource at the URI or correct the URI "
                             "and resubmit the request.")

    @staticmethod
    def _not_allowed(path: str) -> web.Response:
        return redfish_error(405, "ActionNotSupported",
                             f"The method is not supported on {path}.")

    # ---- admin ----------------------------------------------------------
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
            return _json({"bmcs": len(f.bmcs), "nodes": f.node_count})
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
        if len(rest) == 2 and rest[0] == "bmcs" and m == "GET":
            b = f.bmc(rest[1])
            return _json({"xname": b.xname, "address": f"{self.host}:{b.port}",
                          "systems": f.power_states(b.xname, time.time()),
                          "fault": b.fault})
        if len(rest) == 3 and rest[0] == "bmcs" and rest[2] == "fault":
            xname = rest[1]
            if m == "PUT":
                fault = f.set_fault(xname, await self._admin_body(request))
                await self._apply_fault(xname, fault["fault"])
                return _json({"xname": xname, "fault": fault})
            if m == "DELETE":
                f.clear_fault(xname)
                await self._apply_fault(xname, None)
                return _json({"xname": xname, "fault": None})
            if m == "GET":
                return _json({"xname": xname, "fault": f.bmc(xname).fault})
            return _json({"error": "method not allowed"}, 405)
        if len(rest) == 4 and rest[0] == "bmcs" and rest[2] == "systems":
            if m != "PUT":
                return _json({"error": "method not allowed"}, 405)
            body = await self._admin_body(request)
            if not isinstance(body, dict) or "PowerState" not in body:
                raise _BadBody("body must be {\"PowerState\": \"On\"|\"Off\"}")
            f.set_power(rest[1], rest[3], body["PowerState"])
            return _json({"xname": rest[1], "system": rest[3],
                          "PowerState": f.system(rest[1], rest[3]).power_state(time.time())})
        return _json({"error": "not found"}, 404)

    async def _apply_fault(self, xname: str, kind: Optional[str]) -> None:
        """Sync listening sockets / hang events with the BMC's current fault."""
        b = self.fleet.bmc(xname)
        if kind == "hang":
            ev = self._hang_events.get(xname)
            if ev is None or ev.is_set():
                self._hang_events[xname] = asyncio.Event()
        else:
            ev = self._hang_events.pop(xname, None)
            if ev is not None:
                ev.set()
        if kind == "down":
            await self._unlisten(b.port)
        elif b.port not in self._sites and not self._closing:
            await self._listen(b.port)

    # ---- startup side effects ------------------------------------------
    def write_inventory(self, path: str) -> None:
        inv = self.fleet.inventory(self.host, self.username, self.password)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as fh:
            json.dump(inv, fh, indent=1)
        os.replace(tmp, path)

    async def register(self, url: str) -> int:
        """POST every BMC to <url>/v1/inventory/bmcs. Returns failure count."""
        target = url.rstrip("/") + "/v1/inventory/bmcs"
        sem = asyncio.Semaphore(16)
        failures = 0
        inv = self.fleet.inventory(self.host, self.username, self.password)

        async def one(session: ClientSession, item: Dict[str, Any]) -> None:
            nonlocal failures
            payload = {k: v for k, v in item.items() if k != "nodes"}
            async with sem:
                try:
                    async with session.post(target, json=payload) as resp:
                        if resp.status < 300 or resp.status == 409:
                            return
                        text = await resp.text()
                        failures += 1
                        print(f"simulator: register {item['xname']} failed: "
                              f"HTTP {resp.status}: {text.strip()[:500]}", file=sys.stderr)
                except Exception as exc:  # noqa: BLE001 - report any failure
                    failures += 1
                    print(f"simulator: register {item['xname']} failed: "
                          f"{type(exc).__name__}: {exc}", file=sys.stderr)

        async with ClientSession(timeout=ClientTimeout(total=30)) as session:
            await asyncio.gather(*(one(session, it) for it in inv))
        return failures


async def run(fleet: Fleet, host: str, username: str, password: str,
              admin_port: Optional[int], inventory_file: Optional[str],
              register_url: Optional[str]) -> None:
    sim = Simulator(fleet, host, username, password, admin_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover
            pass
    try:
        await sim.start()
        if inventory_file:
            sim.write_inventory(inventory_file)
        if register_url:
            await sim.register(register_url)
        first, last = fleet.bmcs[0].port, fleet.bmcs[-1].port
        print(f"simulator ready: {len(fleet.bmcs)} BMCs on {host}:{first}-{last}, "
              f"admin on {host}:{sim.admin_port}", flush=True)
        await stop.wait()
    finally:
        await sim.stop()
