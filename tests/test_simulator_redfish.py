"""A node BMC's Redfish tree over real HTTP: discovery, auth, resets, allowable values."""
from __future__ import annotations

import requests
from harness import AUTH, RESET

from pcs.simulator import bmc_xname


def test_ready_line(flat_sim):
    b = flat_sim.port_base
    assert flat_sim.ready_line == (f"simulator ready: 4 BMCs on 127.0.0.1:{b}-{b + 3}, "
                              f"admin on 127.0.0.1:{b - 1}")


def test_discovery_walk(flat_sim):
    root = requests.get(flat_sim.url(1), timeout=10)
    assert root.status_code == 200
    assert root.headers["Content-Type"].startswith("application/json")
    body = root.json()
    assert body["RedfishVersion"] and body["UUID"]
    systems = requests.get(flat_sim.url(1, body["Systems"]["@odata.id"]), auth=AUTH,
                           timeout=10).json()
    assert systems["Members@odata.count"] == 2
    assert [m["@odata.id"] for m in systems["Members"]] == [
        "/redfish/v1/Systems/Node0", "/redfish/v1/Systems/Node1"]
    node = requests.get(flat_sim.url(1, systems["Members"][1]["@odata.id"]), auth=AUTH,
                        timeout=10).json()
    assert node["Id"] == "Node1" and node["SystemType"] == "Physical"
    assert node["PowerState"] in ("On", "Off", "PoweringOn", "PoweringOff")
    action = node["Actions"]["#ComputerSystem.Reset"]
    assert action["target"] == RESET.format("Node1")
    assert "ForceOff" in action["ResetType@Redfish.AllowableValues"]
    # trailing slash tolerated
    r = requests.get(flat_sim.url(1, "/redfish/v1/Systems/Node1/"), auth=AUTH, timeout=10)
    assert r.json()["Id"] == "Node1"
    chassis = requests.get(flat_sim.url(1, "/redfish/v1/Chassis"), auth=AUTH, timeout=10).json()
    assert chassis["Members"] == [{"@odata.id": "/redfish/v1/Chassis/Enclosure"}]
    enc = requests.get(flat_sim.url(1, "/redfish/v1/Chassis/Enclosure"), auth=AUTH,
                       timeout=10).json()
    assert len(enc["Links"]["ComputerSystems"]) == 2
    mgr = requests.get(flat_sim.url(1, "/redfish/v1/Managers/BMC"), auth=AUTH, timeout=10).json()
    assert mgr["ManagerType"] == "BMC"
    r = requests.post(flat_sim.url(1, mgr["Actions"]["#Manager.Reset"]["target"]), auth=AUTH,
                      json={"ResetType": "GracefulRestart"}, timeout=10)
    assert r.status_code == 204
    r = requests.get(flat_sim.url(1, "/redfish/v1/Nothing"), auth=AUTH, timeout=10)
    assert r.status_code == 404 and "error" in r.json()
    r = requests.delete(flat_sim.url(1, "/redfish/v1/Systems/Node0"), auth=AUTH, timeout=10)
    assert r.status_code == 405


def test_auth_required(flat_sim):
    r = requests.get(flat_sim.url(0, "/redfish/v1/Systems"), timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["@Message.ExtendedInfo"][0]["MessageId"].startswith("Base.1.8.")
    r = requests.get(flat_sim.url(0, "/redfish/v1/Systems"), auth=("root", "wrong"), timeout=10)
    assert r.status_code == 401


def test_reset_changes_state_after_delay(flat_sim):
    x = bmc_xname(2)
    requests.put(f"{flat_sim.admin}/admin/bmcs/{x}/systems/Node0", json={"PowerState": "Off"},
                 timeout=10).raise_for_status()
    r = requests.post(flat_sim.url(2, RESET.format("Node0")), auth=AUTH,
                      json={"ResetType": "On"}, timeout=10)
    assert r.status_code == 204
    assert flat_sim.power(2, "Node0") in ("PoweringOn", "On")
    flat_sim.wait_power(2, "Node0", "On")
    r = requests.post(flat_sim.url(2, RESET.format("Node0")), auth=AUTH,
                      json={"ResetType": "ForceRestart"}, timeout=10)
    assert r.status_code == 204
    flat_sim.wait_power(2, "Node0", "On")
    requests.post(flat_sim.url(2, RESET.format("Node0")), auth=AUTH,
                  json={"ResetType": "ForceOff"}, timeout=10)
    flat_sim.wait_power(2, "Node0", "Off")
    bmcs = requests.get(f"{flat_sim.admin}/admin/bmcs", timeout=10).json()
    assert bmcs[2]["xname"] == x
    assert bmcs[2]["address"] == f"127.0.0.1:{flat_sim.port_base + 2}"
    assert bmcs[2]["systems"]["Node0"] == "Off"


def test_bad_reset_requests(flat_sim):
    r = requests.post(flat_sim.url(0, RESET.format("Node0")), auth=AUTH,
                      json={"ResetType": "Explode"}, timeout=10)
    assert r.status_code == 400
    info = r.json()["error"]["@Message.ExtendedInfo"][0]
    assert info["MessageId"] == "Base.1.8.ActionParameterNotSupported"
    assert "'Explode'" in info["Message"]
    r = requests.post(flat_sim.url(0, RESET.format("Node0")), auth=AUTH, json={}, timeout=10)
    assert r.status_code == 400
    r = requests.post(flat_sim.url(0, RESET.format("Node0")), auth=AUTH, data="{nope",
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400
    assert (r.json()["error"]["@Message.ExtendedInfo"][0]["MessageId"]
            == "Base.1.8.MalformedJSON")


def test_allowable_override(flat_sim):
    x, url = bmc_xname(3), f"{flat_sim.admin}/admin/bmcs/{bmc_xname(3)}/allowable"
    try:
        r = requests.put(url, json={"ResetType": ["On", "ForceOff"]}, timeout=10)
        assert r.status_code == 200 and r.json() == {"xname": x, "ResetType": ["On", "ForceOff"]}
        assert flat_sim.allowable_values(3, "Node1") == ["On", "ForceOff"]
        r = flat_sim.reset(3, "Node1", "GracefulShutdown")
        assert r.status_code == 400
        assert (r.json()["error"]["@Message.ExtendedInfo"][0]["MessageId"]
                == "Base.1.8.ActionParameterNotSupported")
        assert "GracefulShutdown" in flat_sim.allowable_values(2, "Node1")
        assert requests.put(url, json={"ResetType": ["Explode"]}, timeout=10).status_code == 400
    finally:
        requests.delete(url, timeout=10).raise_for_status()
    assert "GracefulShutdown" in flat_sim.allowable_values(3, "Node1")


def test_flat_mode_has_no_chassis_bmcs(flat_sim):
    bmcs = requests.get(f"{flat_sim.admin}/admin/bmcs", timeout=10).json()
    assert [b["type"] for b in bmcs] == ["NodeBMC"] * 4
    assert all(b["powered"] and "chassis" not in b for b in bmcs)
    r = requests.post(flat_sim.url(0, "/redfish/v1/Managers/BMC/Actions/Manager.Reset"), auth=AUTH,
                      json={"ResetType": "ForceRestart"}, timeout=10)
    assert r.status_code == 204 and requests.get(flat_sim.url(0), timeout=10).status_code == 200
