"""BMC credentials go only to the registered address: not to a host a BMC's answer names, not
along a redirect, and not to a new address without a new password. Answers are read only up to
a size."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pcs.redfish.client import RESPONSE_MAX_BYTES, BmcAddress, RedfishClient

pytestmark = pytest.mark.integration

BMCS = "/v1/inventory/bmcs"
PASSWORD = "hostile-bmc-pw-3141"


class RecordingServer:
    """An HTTP server on 127.0.0.1 answering from `routes` (path -> (status, headers, body))
    and recording each request's method, path and Authorization header."""

    def __init__(self, routes: dict | None = None):
        self.routes = routes or {}
        self.requests: list[tuple[str, str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.requests.append((self.command, self.path,
                                       self.headers.get("Authorization")))
                status, headers, body = outer.routes.get(self.path, (404, {}, b"{}"))
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def trap():
    server = RecordingServer()
    yield server
    server.stop()


def hostile_bmc_routes(trap_address: str) -> dict:
    """A node BMC whose every link names another host, in the forms Redfish allows."""
    elsewhere = f"http://{trap_address}"
    system = "/redfish/v1/Systems/1"
    return {
        "/redfish/v1/": (200, {}, {
            "Systems": {"@odata.id": f"{elsewhere}/redfish/v1/Systems"},
            "Managers": {"@odata.id": f"//{trap_address}/redfish/v1/Managers"}}),
        "/redfish/v1/Systems": (200, {}, {"Members": [{"@odata.id": f"{elsewhere}{system}"}]}),
        # A redirect to the other host: followed, if at all, by its path on this BMC.
        system: (302, {"Location": f"{elsewhere}/redfish/v1/Systems/1real"}, b""),
        "/redfish/v1/Systems/1real": (200, {}, {
            "PowerState": "Off",
            "Actions": {"#ComputerSystem.Reset": {
                "target": f"{elsewhere}{system}/Actions/ComputerSystem.Reset",
                "@Redfish.ActionInfo": f"//{trap_address}{system}/ResetActionInfo"}}}),
        f"{system}/ResetActionInfo": (200, {}, {"Parameters": [
            {"Name": "ResetType", "AllowableValues": ["On", "ForceOff"]}]}),
        "/redfish/v1/Managers": (200, {}, {"Members": []}),
        f"{system}/Actions/ComputerSystem.Reset": (
            202, {"Location": f"{elsewhere}/redfish/v1/TaskService/Tasks/7"}, b""),
        "/huge": (200, {}, b"[" + b"1," * RESPONSE_MAX_BYTES + b"1]"),
    }


@pytest.fixture
def hostile_bmc(trap):
    server = RecordingServer(hostile_bmc_routes(trap.address))
    yield server
    server.stop()


def test_links_and_redirects_in_a_bmcs_answers_never_leave_its_address(client, trap,
                                                                         hostile_bmc):
    body = {"xname": "x3000c0s30b0", "address": hostile_bmc.address, "scheme": "http",
            "username": "root", "password": PASSWORD, "verifyTls": False}
    response = client.post(BMCS, json=body)
    assert response.status_code == 201, response.get_json()
    assert trap.requests == []
    asked = [path for _, path, _ in hostile_bmc.requests]
    assert "/redfish/v1/Systems/1real" in asked
    assert "/redfish/v1/Systems/1/ResetActionInfo" in asked
    node = next(c for c in client.get("/v1/inventory/components").get_json()["components"]
                if c["xname"] == "x3000c0s30b0n0")
    assert node["resetTarget"] == "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"
    assert node["allowableValues"] == ["On", "ForceOff"]
    assert client.delete(f"{BMCS}/x3000c0s30b0").status_code == 204


def test_an_action_target_and_task_monitor_on_another_host_are_used_by_path(trap, hostile_bmc):
    bmc = RedfishClient(BmcAddress(hostile_bmc.address, "http", "root", PASSWORD))
    try:
        exchange = bmc.reset(f"http://{trap.address}/redfish/v1/Systems/1/Actions/"
                             "ComputerSystem.Reset", "On")
        assert exchange.status_code == 202
        assert exchange.location == "/redfish/v1/TaskService/Tasks/7"
        bmc.get(f"//{trap.address}/redfish/v1/")
    finally:
        bmc.close()
    assert trap.requests == []
    assert ("POST", "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset") in [
        (m, p) for m, p, _ in hostile_bmc.requests]


def test_an_answer_above_the_cap_is_not_read(hostile_bmc):
    bmc = RedfishClient(BmcAddress(hostile_bmc.address, "http", "root", PASSWORD))
    try:
        exchange = bmc.get("/huge")
    finally:
        bmc.close()
    assert exchange.error_class == "http"
    assert f"larger than {RESPONSE_MAX_BYTES} bytes" in exchange.error
    assert exchange.json is None


def test_patching_the_address_without_a_password_is_400_and_sends_nothing(client, trap,
                                                                         hostile_bmc):
    body = {"xname": "x3000c0s31b0", "address": hostile_bmc.address, "scheme": "http",
            "username": "root", "password": PASSWORD, "verifyTls": False}
    assert client.post(BMCS, json=body).status_code == 201
    try:
        for change in ({"address": trap.address}, {"scheme": "https"}, {"verifyTls": True},
                       {"address": trap.address, "username": "root"}):
            response = client.patch(f"{BMCS}/x3000c0s31b0", json=change)
            assert response.status_code == 400, (change, response.get_json())
            assert response.get_json()["detail"].startswith("password: required when")
        assert trap.requests == []
        # The same address again is no move; with a new password the move is the caller's.
        same = client.patch(f"{BMCS}/x3000c0s31b0", json={"address": hostile_bmc.address,
                                                          "username": "root"})
        assert same.status_code == 200, same.get_json()
        moved = client.patch(f"{BMCS}/x3000c0s31b0",
                             json={"address": trap.address, "password": "for-the-new-one"})
        assert moved.status_code == 422   # the trap is no BMC; it got only the new password
        assert all(PASSWORD not in str(auth) for _, _, auth in trap.requests)
    finally:
        client.delete(f"{BMCS}/x3000c0s31b0")
