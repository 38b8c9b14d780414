"""Chassis BMCs over real HTTP: the enclosure and blade tree, coupled power, Manager resets."""
from __future__ import annotations

import time

import pytest
import requests
from harness import AUTH, Simulator, refuses_connections, wait_for

from pcs.simulator import bmc_xname

HBMCS = 9   # chassis x1000c0: slots 0-7; chassis x1000c1: slot 0 only
CHASSIS_RESET = "/redfish/v1/Chassis/{}/Actions/Chassis.Reset"


@pytest.fixture(scope="module")
def hsim(tmp_path_factory):
    s = Simulator(HBMCS, nodes_per_bmc=2, initial_state="on", chassis_bmcs=True,
                  bmc_boot_delay_s=0.5, power_delay_s=0.2,
                  inventory_file=tmp_path_factory.mktemp("hsim") / "inv.json")
    yield s
    s.stop()


def _chassis_reset(s, j, cid, rt):
    return requests.post(s.url(HBMCS + j, CHASSIS_RESET.format(cid)), auth=AUTH,
                         json={"ResetType": rt}, timeout=10)


def test_hierarchy_ready_line_inventory_admin(hsim):
    b = hsim.port_base
    assert hsim.ready_line == (
        f"simulator ready: {HBMCS} BMCs on 127.0.0.1:{b}-{b + HBMCS - 1}, admin on "
        f"127.0.0.1:{b - 1}, 2 chassis BMCs on 127.0.0.1:{b + HBMCS}-{b + HBMCS + 1}")
    assert [(d["xname"], d["type"]) for d in hsim.inventory()[HBMCS:]] == [
        ("x1000c0b0", "ChassisBMC"), ("x1000c1b0", "ChassisBMC")]
    assert hsim.inventory()[HBMCS]["address"] == f"127.0.0.1:{b + HBMCS}"
    assert hsim.inventory()[0]["type"] == "NodeBMC"
    bmcs = requests.get(f"{hsim.admin}/admin/bmcs", timeout=10).json()
    assert len(bmcs) == HBMCS + 2
    assert bmcs[0]["type"] == "NodeBMC" and bmcs[0]["powered"] is True
    assert bmcs[HBMCS + 1]["chassis"] == {"Enclosure": "On", "Blade0": "On"}
    assert bmcs[HBMCS + 1]["type"] == "ChassisBMC" and bmcs[HBMCS + 1]["powered"] is True


def test_chassis_bmc_tree_walk(hsim):
    i = HBMCS   # x1000c0b0
    root = requests.get(hsim.url(i), timeout=10).json()
    get = lambda path: requests.get(hsim.url(i, path), auth=AUTH, timeout=10).json()  # noqa
    assert get(root["Systems"]["@odata.id"])["Members"] == []
    chassis = get(root["Chassis"]["@odata.id"])
    ids = [m["@odata.id"] for m in chassis["Members"]]
    assert ids == ["/redfish/v1/Chassis/Enclosure"] + [
        f"/redfish/v1/Chassis/Blade{s}" for s in range(8)]
    enc = get(ids[0])
    assert (enc["Name"], enc["ChassisType"], enc["PowerState"]) == ("Enclosure", "Enclosure", "On")
    blade = get(ids[3])
    assert blade["ChassisType"] == "Blade" and blade["PowerState"] == "On"
    action = blade["Actions"]["#Chassis.Reset"]
    assert action == {"target": CHASSIS_RESET.format("Blade2"),
                      "ResetType@Redfish.AllowableValues": ["On", "ForceOff"]}
    mgr = get(get(root["Managers"]["@odata.id"])["Members"][0]["@odata.id"])
    assert mgr["@odata.id"] == "/redfish/v1/Managers/BMC"
    assert mgr["ManagerType"] == "EnclosureManager"
    assert mgr["Actions"]["#Manager.Reset"]["ResetType@Redfish.AllowableValues"] == [
        "ForceRestart", "GracefulRestart"]
    r = _chassis_reset(hsim, 0, "Blade2", "GracefulRestart")
    assert r.status_code == 400
    assert (r.json()["error"]["@Message.ExtendedInfo"][0]["MessageId"]
            == "Base.1.8.ActionParameterNotSupported")
    assert requests.get(hsim.url(i, "/redfish/v1/Chassis/Blade9"), auth=AUTH,
                        timeout=10).status_code == 404


def test_blade_off_and_on_over_http(hsim):
    nb = 1   # x1000c0s1b0, Blade1 of chassis BMC x1000c0b0
    requests.delete(f"{hsim.admin}/admin/log", timeout=10).raise_for_status()
    assert _chassis_reset(hsim, 0, "Blade1", "ForceOff").status_code == 204
    wait_for(lambda: refuses_connections(hsim.url(nb)), timeout=5, what="the node BMC to go away")
    d = hsim.describe(bmc_xname(nb))
    assert d["powered"] is False and d["systems"] == {"Node0": "Off", "Node1": "Off"}
    assert hsim.describe("x1000c0b0")["chassis"]["Blade1"] == "Off"
    assert requests.get(hsim.url(2), timeout=10).status_code == 200   # neighbour unaffected
    t0 = time.monotonic()
    assert _chassis_reset(hsim, 0, "Blade1", "On").status_code == 204
    wait_for(lambda: not refuses_connections(hsim.url(nb)), timeout=10, what="the node BMC to boot")
    assert time.monotonic() - t0 >= 0.2 + 0.5 - 0.1
    assert hsim.power(nb, "Node0") == "Off"
    entries = requests.get(f"{hsim.admin}/admin/log", params={"bmc": "x1000c0b0"},
                           timeout=10).json()["entries"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", CHASSIS_RESET.format("Blade1"), 204)] * 2


def test_enclosure_off_and_blade_refused(hsim):
    nb, x = 8, "x1000c1b0"   # the only node BMC of chassis x1000c1
    assert _chassis_reset(hsim, 1, "Enclosure", "ForceOff").status_code == 204
    wait_for(lambda: hsim.describe(x)["chassis"] == {"Enclosure": "Off", "Blade0": "Off"},
             timeout=5, what="the enclosure and its blades to be off")
    wait_for(lambda: refuses_connections(hsim.url(nb)), timeout=5, what="the node BMC to go away")
    r = _chassis_reset(hsim, 1, "Blade0", "On")
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["message"] == "Enclosure is powered off"
    assert err["@Message.ExtendedInfo"][0]["MessageId"] == "Base.1.8.ActionNotSupported"
    assert _chassis_reset(hsim, 1, "Enclosure", "On").status_code == 204
    wait_for(lambda: hsim.describe(x)["chassis"]["Enclosure"] == "On", timeout=5,
             what="the enclosure to be on")
    time.sleep(0.8)
    assert hsim.describe(x)["chassis"]["Blade0"] == "Off" and refuses_connections(hsim.url(nb))
    # the admin sets a blade directly, with coupling
    r = requests.put(f"{hsim.admin}/admin/bmcs/{x}/chassis/Blade0", json={"PowerState": "On"},
                     timeout=10)
    assert r.status_code == 200 and r.json()["PowerState"] == "On"
    wait_for(lambda: not refuses_connections(hsim.url(nb)), timeout=10, what="the node BMC to boot")
    assert hsim.describe(bmc_xname(nb))["systems"] == {"Node0": "Off", "Node1": "Off"}


def test_manager_reset_makes_bmc_unreachable(hsim):
    for i in (HBMCS, 3):   # the chassis BMC x1000c0b0, then node BMC x1000c0s3b0
        r = requests.post(hsim.url(i, "/redfish/v1/Managers/BMC/Actions/Manager.Reset"),
                          auth=AUTH, json={"ResetType": "ForceRestart"}, timeout=10)
        assert r.status_code == 204
        t0 = time.monotonic()
        assert refuses_connections(hsim.url(i))
        wait_for(lambda i=i: not refuses_connections(hsim.url(i)), timeout=10,
                 what="the BMC to come back")
        assert time.monotonic() - t0 >= 0.3
    assert hsim.power(3, "Node0") == "On"   # a BMC reboot leaves its nodes alone
