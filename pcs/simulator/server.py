"""aiohttp server exposing a Fleet as many Redfish BMCs (one port each)."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from typing import Any, Dict, List, Optional

from aiohttp import ClientSession, ClientTimeout, web

from . import admin_routes, smd
from .fleet import BMC, Fleet
from .redfish import BmcCall, redfish_error
from .redfish_service import RedfishService

__all__ = ["Simulator", "run", "raise_nofile_limit"]

HANG_MAX_S = 600.0
TICK_S = 0.05   # how often (hierarchy mode) ports follow power and boot state


def raise_nofile_limit() -> None:
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, ValueError, OSError) as exc:  # pragma: no cover
        print(f"simulator: could not raise RLIMIT_NOFILE: {exc}", file=sys.stderr)


class Simulator:
    """One aiohttp app on many ports: admin, node BMCs and (opt-in) chassis BMCs,
    PDU controllers and management switches. The port picks the service (and device); the
    service's route table picks the handler."""

    def __init__(self, fleet: Fleet, host: str = "127.0.0.1", username: str = "root",
                 password: str = "initial0", admin_port: Optional[int] = None) -> None:
        self.fleet = fleet
        self.host = host
        self.username = username
        self.password = password
        self.admin_port = admin_port if admin_port is not None else fleet.port_base - 1
        self.redfish = RedfishService(username, password)
        self._fault_events: Dict[str, asyncio.Event] = {}   # BMC xname -> set on change
        self._sites: Dict[int, web.TCPSite] = {}
        self.runner: Optional[web.AppRunner] = None
        self._closing = False
        self._sites_lock = asyncio.Lock()
        self._tick_task: Optional[asyncio.Task] = None

    # ---- lifecycle ------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0,
                                    handle_signals=False)
        await self.runner.setup()
        await self._listen(self.admin_port)
        for b in self.fleet.all_bmcs():
            await self._listen(b.port)
        if self.fleet.hierarchy:
            self._tick_task = asyncio.get_running_loop().create_task(self._ticker())

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
        if self._tick_task is not None:
            self._tick_task.cancel()
            try:
                await self._tick_task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        for ev in self._fault_events.values():
            ev.set()
        if self.runner is not None:
            await self.runner.cleanup()

    # ---- dispatch -------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        """aiohttp routes on paths only: the local port picks the service here."""
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        port = sock[1] if sock else None
        if port == self.admin_port:
            return await admin_routes.serve(self, request)
        b = self.fleet.by_port.get(port)
        if b is None:
            return redfish_error(404, "ResourceMissingAtURI", "No BMC on this port.")
        return await self._bmc_request(b, request)

    async def _bmc_request(self, b: BMC, request: web.Request) -> web.StreamResponse:
        # Logged on arrival, so a hung request shows (status 0) while it hangs.
        entry = self.fleet.record(time.time(), b.xname, request.method, request.path_qs,
                                  None, 0)
        try:
            raw = await request.read()
            entry["body"] = body = _request_body(raw)
            while True:
                if (self.fleet.is_down(b) or b.port not in self._sites
                        or not self.fleet.reachable(b, time.time())):
                    # Existing keep-alive connection to a "down" (or unpowered,
                    # rebooting) BMC: drop it.
                    entry["fault"] = entry["fault"] or ("down" if self.fleet.is_down(b)
                                                        else None)
                    return _no_answer(request)
                fault = self.fleet.request_fault(b, request.method, request.path)
                if fault is None:
                    break
                entry["fault"] = fault["fault"]
                if fault["fault"] == "close":
                    return _no_answer(request)
                if fault["fault"] == "status":
                    resp = status_fault_answer(fault)
                    entry["status"] = resp.status
                    return resp
                if not await self._hang(b, fault):   # simulator stopping, or HANG_MAX_S
                    return _no_answer(request)
                # the hang fault is gone: answer as the BMC's faults now say
            call = BmcCall(self.fleet, b, request.path.rstrip("/") or "/", raw, body,
                           time.time(), self._changed)
            resp = self.redfish.answer(call, request.method,
                                       request.headers.get("Authorization", ""))
            entry["status"] = resp.status
            entry["fault"] = entry["fault"] or resp.get("fault")
            return resp
        except Exception:
            entry["status"] = 500
            raise

    async def _hang(self, b: BMC, fault: Dict[str, Any]) -> bool:
        """Wait while ``fault`` is installed on ``b``. False: stopping or waited HANG_MAX_S."""
        deadline = time.monotonic() + HANG_MAX_S
        while self.fleet.fault_installed(b, fault):
            left = deadline - time.monotonic()
            if self._closing or left <= 0:
                return False
            changed = self._fault_events.setdefault(b.xname, asyncio.Event())
            try:
                await asyncio.wait_for(changed.wait(), left)
            except TimeoutError:
                return False
        return not self._closing

    # ---- reachability -----------------------------------------------------
    def _should_listen(self, b: BMC, now: float) -> bool:
        # the caller has settled the whole fleet at ``now``
        return not self.fleet.is_down(b) and b.reachable(now)

    async def reconcile(self) -> None:
        """Open or close BMC ports to match faults and (hierarchy) power/boot state."""
        async with self._sites_lock:
            now = time.time()
            self.fleet.sync(now)
            for b in self.fleet.all_bmcs():
                want = self._should_listen(b, now) and not self._closing
                if want and b.port not in self._sites:
                    try:
                        await self._listen(b.port)
                    except OSError as exc:  # retried on the next tick
                        print(f"simulator: cannot listen for {b.xname} on port {b.port}: "
                              f"{exc}", file=sys.stderr)
                elif not want and b.port in self._sites:
                    await self._unlisten(b.port)

    async def _ticker(self) -> None:
        while not self._closing:
            await asyncio.sleep(TICK_S)
            try:
                await self.reconcile()
            except Exception as exc:  # noqa: BLE001 - keep ticking
                print(f"simulator: reconcile failed: {type(exc).__name__}: {exc}",
                      file=sys.stderr)

    def _changed(self) -> None:
        if self.fleet.hierarchy and not self._closing:
            asyncio.get_running_loop().create_task(self.reconcile())

    async def faults_changed(self, xname: str) -> None:
        """Wake the requests hung on this BMC (they look again) and open or close its port."""
        b, _ = self.fleet.bmc_and_system(xname)
        changed = self._fault_events.pop(b.xname, None)
        if changed is not None:
            changed.set()
        await self.reconcile()

    # ---- startup side effects ------------------------------------------
    def write_inventory(self, path: str) -> None:
        inv = self.fleet.inventory(self.host, self.username, self.password)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as fh:
            json.dump(inv, fh, indent=1)
        os.replace(tmp, path)

    async def register(self, url: str) -> int:
        """POST every BMC to <url>/v1/inventory/bmcs: node BMCs first, then chassis BMCs,
        PDU controllers and management switches (each kind after the previous one).

        Returns the number of node BMCs that failed; failures of the other kinds (an API
        that does not support them yet answers 400/422) are reported on stderr only.
        """
        target = url.rstrip("/") + "/v1/inventory/bmcs"
        sem = asyncio.Semaphore(16)
        failures = 0
        inv = self.fleet.inventory(self.host, self.username, self.password)

        async def one(session: ClientSession, item: Dict[str, Any]) -> None:
            nonlocal failures
            payload = {k: v for k, v in item.items() if k != "nodes"}
            kind = item.get("type", "NodeBMC")
            node_bmc = kind == "NodeBMC"
            what = {"NodeBMC": "register",
                    "ChassisBMC": "register chassis BMC"}.get(kind, f"register {kind}")
            async with sem:
                try:
                    async with session.post(target, json=payload) as resp:
                        if resp.status < 300 or resp.status == 409:
                            return
                        text = await resp.text()
                        failures += node_bmc
                        print(f"simulator: {what} {item['xname']} failed: "
                              f"HTTP {resp.status}: {text.strip()[:500]}", file=sys.stderr)
                except Exception as exc:  # noqa: BLE001 - report any failure
                    failures += node_bmc
                    print(f"simulator: {what} {item['xname']} failed: "
                          f"{type(exc).__name__}: {exc}", file=sys.stderr)

        groups: Dict[str, List[Dict[str, Any]]] = {}   # kind -> items, in inventory order
        for it in inv:
            groups.setdefault(it.get("type", "NodeBMC"), []).append(it)
        async with ClientSession(timeout=ClientTimeout(total=30)) as session:
            for items in groups.values():
                await asyncio.gather(*(one(session, it) for it in items))
        return failures


def _request_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _no_answer(request: web.Request) -> web.Response:
    """Close the connection without an HTTP answer (the client sees it drop)."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=503)   # never sent: the transport is closed


def status_fault_answer(fault: Dict[str, Any]) -> web.Response:
    resp = redfish_error(fault["status"], "GeneralError", fault["message"])
    if "retry_after" in fault:
        resp.headers["Retry-After"] = str(fault["retry_after"])
    if fault["status"] == 401:
        resp.headers["WWW-Authenticate"] = 'Basic realm="simulator"'
    resp["fault"] = "status"
    return resp


def ready_line(fleet: Fleet, host: str, admin_port: int) -> str:
    first, last = fleet.bmcs[0].port, fleet.bmcs[-1].port
    line = (f"simulator ready: {len(fleet.bmcs)} BMCs on {host}:{first}-{last}, "
            f"admin on {host}:{admin_port}")
    cbs: List[BMC] = list(fleet.chassis_bmcs)
    if cbs:
        line += f", {len(cbs)} chassis BMCs on {host}:{cbs[0].port}-{cbs[-1].port}"
    for what, items in (("PDU controllers", fleet.pdus), ("switches", fleet.switches)):
        if items:
            line += f", {len(items)} {what} on {host}:{items[0].port}-{items[-1].port}"
    return line


async def run(fleet: Fleet, host: str, username: str, password: str,
              admin_port: Optional[int], inventory_file: Optional[str],
              register_url: Optional[str], smd_port: Optional[int] = None,
              smd_minute_s: float = 60.0) -> None:
    sim = Simulator(fleet, host, username, password, admin_port)
    smd_runner: Optional[web.AppRunner] = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover
            pass
    try:
        await sim.start()
        if smd_port is not None:
            smd_runner = await smd.start(smd.SmdFace(fleet, host, smd_minute_s), host, smd_port)
        if inventory_file:
            sim.write_inventory(inventory_file)
        if register_url:
            await sim.register(register_url)
        line = ready_line(fleet, host, sim.admin_port)
        if smd_port is not None:
            line += f", SMD on {host}:{smd_port}"
        print(line, flush=True)
        await stop.wait()
    finally:
        if smd_runner is not None:
            await smd_runner.cleanup()
        await sim.stop()
