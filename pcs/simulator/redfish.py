"""The Redfish side of the simulator: routing of one request to one BMC's tree."""
from __future__ import annotations

import base64
import json
import time
from typing import Any, List, Optional

from aiohttp import web

from .fleet import (
    BMC,
    MANAGER_RESET_TYPES,
    ChassisBMC,
    EnclosureOff,
    Fleet,
    FleetError,
    Unreachable,
    chassis_resource,
    enclosure_chassis_resource,
    error_body,
    manager_resource,
    service_root,
    system_resource,
)
from .capping import link_node_chassis
from .capping_routes import route as cap_route
from .resources import collection
from .tasks import task_resource, task_service, task_uri, tasks_collection

JSON_CT = "application/json"
COLLECTION_TYPES = {"Systems": "ComputerSystem", "Chassis": "Chassis", "Managers": "Manager"}


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(),
                        content_type=JSON_CT, headers={"OData-Version": "4.0"})


def redfish_error(status: int, message_id: str, message: str,
                  resolution: str = "None.") -> web.Response:
    return _json(error_body(message_id, message, resolution), status)


def fault_answer(resp: web.StreamResponse, kind: str) -> web.StreamResponse:
    """Mark the answer as decided by a fault of ``kind`` (shown in the request log)."""
    resp["fault"] = kind
    return resp


def malformed_json() -> web.Response:
    return redfish_error(400, "MalformedJSON",
                         "The request body submitted was malformed JSON and could not be "
                         "parsed by the receiving service.",
                         "Ensure that the request body is valid JSON and resubmit.")


class RedfishMixin:
    """Mixed into Simulator; expects ``fleet``, ``username``, ``password``, ``_auth_ok``."""

    fleet: Fleet
    username: str
    password: str
    _auth_ok: str

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
        now = time.time()
        self.fleet.settle_tasks(b, now)
        if parts[0] == "TaskService":
            return self._task_service(b, method, path, parts, now)
        capping = self.fleet.capping.of(b.xname)
        capped = cap_route(capping, method, path, body) if capping else None
        if capped is not None:
            status, answer = capped
            return _json(answer, status) if answer is not None else web.Response(status=status)
        device = self._device_redfish(b, method, path, parts, body)
        if device is not None:   # a PDU controller or management switch
            return device
        coll = parts[0]
        chassis_ids = (list(b.elements()) if isinstance(b, ChassisBMC) else ["Enclosure"])
        if len(parts) == 1 and coll in ("Systems", "Chassis", "Managers"):
            if method != "GET":
                return self._not_allowed(path)
            members = {"Systems": [f"/redfish/v1/Systems/{n}" for n in b.systems],
                       "Chassis": [f"/redfish/v1/Chassis/{c}" for c in chassis_ids],
                       "Managers": ["/redfish/v1/Managers/BMC"]}[coll]
            return _json(collection(coll, COLLECTION_TYPES[coll], members))
        if coll == "Systems" and len(parts) >= 2 and parts[1] in b.systems:
            name = parts[1]
            if len(parts) == 2:
                if method != "GET":
                    return self._not_allowed(path)
                return _json(link_node_chassis(capping, name, system_resource(
                    b, name, now, self.fleet.allowable(b))))
            if parts[2:] == ["Actions", "ComputerSystem.Reset"]:
                if method != "POST":
                    return self._not_allowed(path)
                return self._system_reset(b, name, path, body)
        elif coll == "Chassis" and len(parts) >= 2 and parts[1] in chassis_ids:
            if len(parts) == 2:
                if method != "GET":
                    return self._not_allowed(path)
                if isinstance(b, ChassisBMC):
                    self.fleet.sync_for(b, now)
                    return _json(enclosure_chassis_resource(b, parts[1], now,
                                                            self.fleet.allowable(b)))
                return _json(chassis_resource(b))
            if parts[2:] == ["Actions", "Chassis.Reset"] and isinstance(b, ChassisBMC):
                if method != "POST":
                    return self._not_allowed(path)
                return self._chassis_reset(b, parts[1], body)
        elif coll == "Managers" and parts[1:2] == ["BMC"]:
            if len(parts) == 2:
                if method != "GET":
                    return self._not_allowed(path)
                mtype = "EnclosureManager" if isinstance(b, ChassisBMC) else "BMC"
                return _json(manager_resource(b, mtype))
            if parts[2:] == ["Actions", "Manager.Reset"]:
                if method != "POST":
                    return self._not_allowed(path)
                return self._manager_reset(b, raw, body)
        return self._not_found(path)

    def _device_redfish(self, b: BMC, method: str, path: str, parts: List[str],
                        body: Any) -> Optional[web.Response]:
        """Hook: the response of a non-node service (see ``device_redfish``), else None."""
        return None

    def _task_service(self, b: BMC, method: str, path: str, parts: List[str],
                      now: float) -> web.Response:
        if method != "GET":
            return self._not_allowed(path)
        if parts == ["TaskService"]:
            return _json(task_service())
        if parts == ["TaskService", "Tasks"]:
            return _json(tasks_collection(b))
        task = b.tasks.get(parts[2]) if len(parts) == 3 and parts[1] == "Tasks" else None
        if task is None:
            return self._not_found(path)
        # a task monitor answers 202 while the task runs, then the finished Task
        running = task.state(now) == "Running"
        resp = _json(task_resource(task, now), 202 if running else 200)
        if running:
            resp.headers["Location"] = task_uri(task)
        return resp

    def _reset_type(self, b: BMC, body: Any, system: Optional[str] = None) -> Any:
        """The requested ResetType, or an error response ('refuse' faults included)."""
        if not isinstance(body, dict):
            return malformed_json()
        rt = body.get("ResetType")
        if not isinstance(rt, str) or rt not in self.fleet.allowable(b):
            return self._bad_reset_type(rt)
        if self.fleet.refuses(b, system, rt):   # advertised, yet turned down
            return fault_answer(self._bad_reset_type(rt), "refuse")
        return rt

    def _system_reset(self, b: BMC, name: str, path: str, body: Any) -> web.StreamResponse:
        rt = self._reset_type(b, body, name)
        if isinstance(rt, web.Response):
            return rt
        now = time.time()
        try:
            task = self.fleet.start_task(b.xname, name, rt, path, body, now)
            applied = True if task is not None else self.fleet.reset(b.xname, name, rt, now)
        except Unreachable as exc:
            return redfish_error(503, "ServiceTemporarilyUnavailable", str(exc))
        except FleetError:
            return self._bad_reset_type(rt)
        if task is not None:
            resp = _json(task_resource(task, now), 202)
            resp.headers["Location"] = task_uri(task)
            return fault_answer(resp, "task")
        return self._no_content(applied)

    @staticmethod
    def _no_content(applied: bool) -> web.Response:
        """204 for an accepted action; marked when an 'ignore' fault swallowed it."""
        resp = web.Response(status=204)
        return resp if applied else fault_answer(resp, "ignore")

    def _chassis_reset(self, b: ChassisBMC, cid: str, body: Any) -> web.Response:
        rt = self._reset_type(b, body)
        if isinstance(rt, web.Response):
            return rt
        try:
            applied = self.fleet.reset_chassis(b.xname, cid, rt, time.time())
        except EnclosureOff as exc:
            return redfish_error(400, "ActionNotSupported", str(exc),
                                 "Power on the Enclosure first.")
        except FleetError:
            return self._bad_reset_type(rt)
        return self._no_content(applied)

    def _manager_reset(self, b: BMC, raw: bytes, body: Any) -> web.Response:
        if raw and not isinstance(body, dict):
            return malformed_json()
        rt = body.get("ResetType") if isinstance(body, dict) else None
        if rt is not None and rt not in MANAGER_RESET_TYPES:
            return self._bad_reset_type(rt)
        self.fleet.manager_reset(b.xname, time.time())
        self._changed()
        return web.Response(status=204)

    def _changed(self) -> None:
        """Hook: reachability may have changed (the server reconciles its sockets)."""

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
