"""PDU controllers and management switches over real HTTP, and registering them."""
from __future__ import annotations

import json
import threading

import pytest
import requests
from harness import AUTH, Simulator, refuses_connections, wait_for

from pcs.simulator import bmc_xname

DBMCS = 2   # node BMCs; then 1 chassis BMC, 2 PDU controllers, 2 switches
PDU0, SW0 = DBMCS + 1, DBMCS + 3   # port offsets of x3000m0 and x3000c0w1
OUTLETS = "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets"
OUTLET_CONTROL = OUTLETS + "/{}/Actions/Outlet.PowerControl"
SWITCH_RESET = "/redfish/v1/Chassis/Switch/Actions/Chassis.Reset"


@pytest.fixture(scope="module")
def dsim(tmp_path_factory):
    s = Simulator(DBMCS, chassis_bmcs=True, pdus=2, outlets_per_pdu=3, switches=2,
                  power_delay_s=1.0, inventory_file=tmp_path_factory.mktemp("dsim") / "inv.json")
    yield s
    s.stop()


def _dget(s, i, path, auth=AUTH):
    r = requests.get(s.url(i, path), auth=auth, timeout=10)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


def test_device_ready_line_inventory_and_health(dsim):
    b = dsim.port_base
    assert dsim.ready_line == (
        f"simulator ready: {DBMCS} BMCs on 127.0.0.1:{b}-{b + 1}, admin on 127.0.0.1:{b - 1}, "
        f"1 chassis BMCs on 127.0.0.1:{b + 2}-{b + 2}, "
        f"2 PDU controllers on 127.0.0.1:{b + 3}-{b + 4}, "
        f"2 switches on 127.0.0.1:{b + 5}-{b + 6}")
    assert [(d["xname"], d["type"], d["address"]) for d in dsim.inventory()[DBMCS + 1:]] == [
        ("x3000m0", "CabinetPDUController", f"127.0.0.1:{b + 3}"),
        ("x3000m1", "CabinetPDUController", f"127.0.0.1:{b + 4}"),
        ("x3000c0w1", "MgmtSwitch", f"127.0.0.1:{b + 5}"),
        ("x3000c0w2", "MgmtSwitch", f"127.0.0.1:{b + 6}")]
    health = requests.get(f"{dsim.admin}/admin/health", timeout=10).json()
    assert health == {"bmcs": 2, "nodes": 4, "chassisBmcs": 1, "pdus": 2, "switches": 2}


def test_pdu_tree_walk(dsim):
    root = _dget(dsim, PDU0, "/redfish/v1/", auth=None)
    pe = _dget(dsim, PDU0, root["PowerEquipment"]["@odata.id"])
    assert pe["@odata.id"] == "/redfish/v1/PowerEquipment"
    pdus = _dget(dsim, PDU0, pe["RackPDUs"]["@odata.id"])
    assert [m["@odata.id"] for m in pdus["Members"]] == ["/redfish/v1/PowerEquipment/RackPDUs/1"]
    pdu = _dget(dsim, PDU0, pdus["Members"][0]["@odata.id"])
    assert pdu["@odata.type"].startswith("#PowerDistribution.") and pdu["Id"] == "1"
    outlets = _dget(dsim, PDU0, pdu["Outlets"]["@odata.id"])
    ids = [m["@odata.id"] for m in outlets["Members"]]
    assert ids == [f"{OUTLETS}/AA1", f"{OUTLETS}/AA2", f"{OUTLETS}/AA3"]
    assert outlets["Members@odata.count"] == 3
    aa2 = _dget(dsim, PDU0, ids[1])
    assert (aa2["Id"], aa2["PowerState"]) == ("AA2", "On") and aa2["Name"]
    assert aa2["Actions"] == {"#Outlet.PowerControl": {
        "target": OUTLET_CONTROL.format("AA2"),
        "PowerState@Redfish.AllowableValues": ["On", "Off"]}}
    assert _dget(dsim, PDU0, root["Systems"]["@odata.id"])["Members"] == []
    assert _dget(dsim, PDU0, root["Chassis"]["@odata.id"])["Members"] == []
    mgrs = _dget(dsim, PDU0, root["Managers"]["@odata.id"])
    assert mgrs["Members"] == [{"@odata.id": "/redfish/v1/Managers/BMC"}]
    assert "Actions" not in _dget(dsim, PDU0, "/redfish/v1/Managers/BMC")
    for bad in (f"{OUTLETS}/AA4", "/redfish/v1/PowerEquipment/RackPDUs/2",
                "/redfish/v1/Systems/Node0",
                "/redfish/v1/Managers/BMC/Actions/Manager.Reset"):
        r = requests.get(dsim.url(PDU0, bad), auth=AUTH, timeout=10)
        assert r.status_code == 404, bad
    assert "PowerEquipment" not in _dget(dsim, 0, "/redfish/v1/", auth=None)


def test_outlet_power_control(dsim):
    x, url = "x3000m1", OUTLET_CONTROL.format("AA3")
    i = PDU0 + 1
    state = lambda: _dget(dsim, i, f"{OUTLETS}/AA3")["PowerState"]
    r = requests.post(dsim.url(i, url), auth=AUTH, json={"PowerState": "Off"}, timeout=10)
    assert r.status_code == 204
    assert state() == "PoweringOff"
    assert dsim.describe(x)["outlets"]["AA3"] == "PoweringOff"
    wait_for(lambda: state() == "Off", timeout=10, what="the outlet to be off")
    assert dsim.describe(x)["outlets"] == {"AA1": "On", "AA2": "On", "AA3": "Off"}
    assert dsim.describe("x3000m0")["outlets"]["AA3"] == "On"   # the other PDU
    r = requests.post(dsim.url(i, url), auth=AUTH, json={"PowerState": "On"}, timeout=10)
    assert r.status_code == 204
    assert state() == "PoweringOn"
    wait_for(lambda: state() == "On", timeout=10, what="the outlet to be on")
    entries = requests.get(f"{dsim.admin}/admin/log", params={"bmc": x},
                           timeout=10).json()["entries"]
    posts = [(e["path"], e["body"], e["status"]) for e in entries if e["method"] == "POST"]
    assert posts == [(url, {"PowerState": "Off"}, 204), (url, {"PowerState": "On"}, 204)]


def test_outlet_bad_requests_and_auth(dsim):
    url = dsim.url(PDU0, OUTLET_CONTROL.format("AA1"))
    for body in ({"PowerState": "Cycle"}, {}, {"ResetType": "On"}, {"PowerState": "on"}):
        r = requests.post(url, auth=AUTH, json=body, timeout=10)
        assert r.status_code == 400, body
        info = r.json()["error"]["@Message.ExtendedInfo"][0]
        assert info["MessageId"] == "Base.1.8.ActionParameterNotSupported"
    assert "'Cycle'" in requests.post(url, auth=AUTH, json={"PowerState": "Cycle"},
                                      timeout=10).json()["error"]["message"]
    r = requests.post(url, auth=AUTH, data="{nope", timeout=10)
    assert r.status_code == 400
    assert requests.get(url, auth=AUTH, timeout=10).status_code == 405
    assert dsim.describe("x3000m0")["outlets"]["AA1"] == "On"
    for auth in (None, ("root", "wrong")):
        for i, path in ((PDU0, OUTLETS), (SW0, "/redfish/v1/Chassis/Switch")):
            r = requests.get(dsim.url(i, path), auth=auth, timeout=10)
            assert r.status_code == 401 and "WWW-Authenticate" in r.headers
        r = requests.post(url, auth=auth, json={"PowerState": "Off"}, timeout=10)
        assert r.status_code == 401
    assert dsim.describe("x3000m0")["outlets"]["AA1"] == "On"


def test_switch_tree_and_reset(dsim):
    root = _dget(dsim, SW0, "/redfish/v1/", auth=None)
    assert "PowerEquipment" not in root
    chassis = _dget(dsim, SW0, root["Chassis"]["@odata.id"])
    assert chassis["Members"] == [{"@odata.id": "/redfish/v1/Chassis/Switch"}]
    assert _dget(dsim, SW0, root["Systems"]["@odata.id"])["Members"] == []
    assert _dget(dsim, SW0, root["Managers"]["@odata.id"])["Members"] == []
    sw = _dget(dsim, SW0, "/redfish/v1/Chassis/Switch")
    assert (sw["Id"], sw["ChassisType"], sw["PowerState"]) == ("Switch", "RackMount", "On")
    assert sw["Actions"] == {"#Chassis.Reset": {
        "target": SWITCH_RESET,
        "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "GracefulShutdown"]}}
    state = lambda: _dget(dsim, SW0, "/redfish/v1/Chassis/Switch")["PowerState"]
    post = lambda rt: requests.post(dsim.url(SW0, SWITCH_RESET), auth=AUTH,
                                    json={"ResetType": rt}, timeout=10)
    assert post("ForceOff").status_code == 204
    assert state() == "PoweringOff"
    wait_for(lambda: state() == "Off", timeout=10, what="the switch to be off")
    assert dsim.describe("x3000c0w1")["chassis"] == {"Switch": "Off"}
    assert dsim.describe("x3000c0w2")["chassis"] == {"Switch": "On"}
    r = post("ForceRestart")
    assert r.status_code == 400
    assert (r.json()["error"]["@Message.ExtendedInfo"][0]["MessageId"]
            == "Base.1.8.ActionParameterNotSupported")
    assert post("On").status_code == 204
    assert state() == "PoweringOn"
    wait_for(lambda: state() == "On", timeout=10, what="the switch to be on")
    assert requests.get(dsim.url(SW0, "/redfish/v1/Chassis/Enclosure"), auth=AUTH,
                        timeout=10).status_code == 404


def test_device_admin_listing_outlet_put_and_faults(dsim):
    bmcs = requests.get(f"{dsim.admin}/admin/bmcs", timeout=10).json()
    b = dsim.port_base
    assert [(d["xname"], d["type"]) for d in bmcs] == [
        (bmc_xname(0), "NodeBMC"), (bmc_xname(1), "NodeBMC"), ("x1000c0b0", "ChassisBMC"),
        ("x3000m0", "CabinetPDUController"), ("x3000m1", "CabinetPDUController"),
        ("x3000c0w1", "MgmtSwitch"), ("x3000c0w2", "MgmtSwitch")]
    pdu, sw = bmcs[3], bmcs[5]
    assert pdu["address"] == f"127.0.0.1:{b + 3}" and pdu["reachable"] is True
    assert pdu["outlets"] == {"AA1": "On", "AA2": "On", "AA3": "On"}
    assert sw["address"] == f"127.0.0.1:{b + 5}" and sw["reachable"] is True
    assert sw["chassis"] == {"Switch": "On"}
    admin = f"{dsim.admin}/admin/bmcs/x3000m0/outlets"
    r = requests.put(f"{admin}/AA2", json={"PowerState": "Off"}, timeout=10)
    assert r.status_code == 200
    assert r.json() == {"xname": "x3000m0", "outlet": "AA2", "PowerState": "Off"}
    assert _dget(dsim, PDU0, f"{OUTLETS}/AA2")["PowerState"] == "Off"   # at once, no delay
    assert requests.get(f"{admin}/AA2", timeout=10).json()["PowerState"] == "Off"
    requests.put(f"{admin}/AA2", json={"PowerState": "On"}, timeout=10).raise_for_status()
    assert requests.put(f"{admin}/AA9", json={"PowerState": "On"}, timeout=10).status_code == 404
    assert requests.put(f"{admin}/AA2", json={"PowerState": "Dim"}, timeout=10).status_code == 400
    assert requests.put(f"{admin}/AA2", json={}, timeout=10).status_code == 400
    assert requests.put(f"{dsim.admin}/admin/bmcs/x3000c0w1/outlets/AA1",
                        json={"PowerState": "On"}, timeout=10).status_code == 404
    r = requests.put(f"{dsim.admin}/admin/bmcs/x3000c0w2/chassis/Switch",
                     json={"PowerState": "Off"}, timeout=10)
    assert r.status_code == 200 and r.json()["PowerState"] == "Off"
    requests.put(f"{dsim.admin}/admin/bmcs/x3000c0w2/chassis/Switch",
                 json={"PowerState": "On"}, timeout=10).raise_for_status()
    # faults work like on any BMC
    try:
        requests.put(f"{dsim.admin}/admin/bmcs/x3000m1/fault",
                     json={"fault": "status", "status": 503, "message": "PDU busy"},
                     timeout=10).raise_for_status()
        r = requests.post(dsim.url(PDU0 + 1, OUTLET_CONTROL.format("AA1")), auth=AUTH,
                          json={"PowerState": "Off"}, timeout=10)
        assert r.status_code == 503 and r.json()["error"]["message"] == "PDU busy"
        requests.put(f"{dsim.admin}/admin/bmcs/x3000c0w2/fault", json={"fault": "down"},
                     timeout=10).raise_for_status()
        assert refuses_connections(dsim.url(SW0 + 1))
        assert dsim.describe("x3000c0w2")["fault"] == {"fault": "down"}
    finally:
        for x in ("x3000m1", "x3000c0w2"):
            requests.delete(f"{dsim.admin}/admin/bmcs/{x}/fault", timeout=10).raise_for_status()
    wait_for(lambda: not refuses_connections(dsim.url(SW0 + 1)), timeout=10,
             what="the switch to answer")
    assert dsim.describe("x3000m1")["outlets"]["AA1"] == "On"


def test_register_devices_refused_is_not_fatal():
    """--register posts nodes, then PDUs, then switches; refusals only go to stderr."""
    import http.server

    posted = []

    class Api(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            posted.append((self.path, body["xname"], body["type"]))
            ok = body["type"] == "NodeBMC"
            self.send_response(201 if ok else 422)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}" if ok else b'{"detail": "unknown BMC type"}')

        def log_message(self, *a):
            pass

    api = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    try:
        s = Simulator(1, power_delay_s=0.0, pdus=1, switches=1, extra_args=[
            "--register", f"http://127.0.0.1:{api.server_address[1]}"])
        try:
            assert s.ready_line.endswith(
                f", 1 PDU controllers on 127.0.0.1:{s.port_base + 1}-{s.port_base + 1}"
                f", 1 switches on 127.0.0.1:{s.port_base + 2}-{s.port_base + 2}")
            assert requests.get(s.url(1, OUTLETS), auth=AUTH, timeout=10).status_code == 200
        finally:
            assert s.stop() == 0
        assert posted == [("/v1/inventory/bmcs", bmc_xname(0), "NodeBMC"),
                          ("/v1/inventory/bmcs", "x3000m0", "CabinetPDUController"),
                          ("/v1/inventory/bmcs", "x3000c0w1", "MgmtSwitch")]
        err = s.output()
        assert "register CabinetPDUController x3000m0 failed: HTTP 422" in err
        assert "register MgmtSwitch x3000c0w1 failed: HTTP 422" in err
    finally:
        api.shutdown()
        api.server_close()
