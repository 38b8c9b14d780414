"""Tests for pcs.simulator: pure fleet model + the real server as a subprocess."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from harness import free_port_block, wait_for

from pcs.simulator import bmc_xname
from pcs.simulator.fleet import EnclosureOff, Fleet, FleetError, System, Unreachable

ROOT = Path(__file__).resolve().parents[1]
AUTH = ("root", "initial0")
RESET = "/redfish/v1/Systems/{}/Actions/ComputerSystem.Reset"


# ---------------------------------------------------------------- unit tests
def test_bmc_xname():
    assert bmc_xname(0) == "x1000c0s0b0"
    assert bmc_xname(1) == "x1000c0s1b0"
    assert bmc_xname(8) == "x1000c1s0b0"
    assert bmc_xname(63) == "x1000c7s7b0"
    assert bmc_xname(64) == "x1001c0s0b0"


def test_fleet_layout():
    f = Fleet(10, nodes_per_bmc=3, port_base=5000, initial_state="on")
    assert f.node_count == 30
    b = f.bmcs[9]
    assert (b.xname, b.port) == ("x1000c1s1b0", 5009)
    assert b.node_xnames() == ["x1000c1s1b0n0", "x1000c1s1b0n1", "x1000c1s1b0n2"]
    assert f.power_states(b.xname, 0.0) == {"Node0": "On", "Node1": "On", "Node2": "On"}
    inv = f.inventory("127.0.0.1", "u", "p")
    assert inv[0] == {"xname": "x1000c0s0b0", "address": "127.0.0.1:5000", "scheme": "http",
                      "username": "u", "password": "p", "verifyTls": False,
                      "nodes": ["x1000c0s0b0n0", "x1000c0s0b0n1", "x1000c0s0b0n2"],
                      "type": "NodeBMC"}


def test_power_delay_with_explicit_times():
    s = System("Node0", state="Off")
    s.reset("On", now=100.0, delay=5.0)
    assert s.power_state(100.0) == "PoweringOn"
    assert s.power_state(104.9) == "PoweringOn"
    assert s.power_state(105.0) == "On"
    s.reset("ForceOff", now=110.0, delay=5.0)
    assert s.power_state(111.0) == "PoweringOff"
    assert s.power_state(200.0) == "Off"


def test_immediate_and_noop_resets():
    s = System("Node0", state="Off")
    s.reset("ForceOff", 1.0, 0.0)  # Off while Off: no change
    assert s.power_state(1.0) == "Off"
    s.reset("On", 2.0, 0.0)
    assert s.power_state(2.0) == "On"
    s.reset("On", 3.0, 10.0)  # On while On: no change, no transition
    assert s.power_state(3.0) == "On"
    s.reset("Nmi", 4.0, 10.0)
    assert s.power_state(4.0) == "On"
    s.reset("GracefulShutdown", 5.0, 0.0)
    assert s.power_state(5.0) == "Off"
    s.reset("ForceOn", 6.0, 0.0)
    assert s.power_state(6.0) == "On"
    with pytest.raises(FleetError):
        s.reset("Bogus", 7.0, 0.0)


def test_push_power_button_toggles():
    s = System("Node0", state="On")
    s.reset("PushPowerButton", 0.0, 2.0)
    assert s.power_state(1.0) == "PoweringOff"
    assert s.power_state(2.0) == "Off"
    s.reset("PushPowerButton", 3.0, 0.0)
    assert s.power_state(3.0) == "On"


def test_restart_goes_off_then_on():
    for rt in ("GracefulRestart", "ForceRestart", "PowerCycle"):
        s = System("Node0", state="On")
        s.reset(rt, 10.0, 4.0)
        assert s.power_state(11.0) == "PoweringOn"
        assert s.state == "Off"
        assert s.power_state(14.0) == "On"
    s = System("Node0", state="On")
    s.reset("ForceRestart", 10.0, 0.0)
    assert s.power_state(10.0) == "On"


def test_later_reset_replaces_pending():
    s = System("Node0", state="Off")
    s.reset("On", 0.0, 10.0)
    s.reset("ForceOff", 1.0, 10.0)  # already Off: pending On cancelled
    assert s.power_state(1.0) == "Off"
    assert s.power_state(50.0) == "Off"
    s.reset("On", 60.0, 10.0)
    s.reset("On", 65.0, 10.0)  # replaces the pending On
    assert s.power_state(66.0) == "PoweringOn"
    assert s.power_state(100.0) == "On"


def test_ignore_fault_and_fault_validation():
    f = Fleet(2, nodes_per_bmc=1, power_delay_s=0.0)
    x = bmc_xname(1)
    f.set_fault(x, {"fault": "ignore", "count": 2})
    assert f.reset(x, "Node0", "On", 1.0) is False
    assert f.reset(x, "Node0", "On", 2.0) is False
    assert f.power_states(x, 3.0) == {"Node0": "Off"}
    assert f.reset(x, "Node0", "On", 4.0) is True
    assert f.power_states(x, 4.0) == {"Node0": "On"}
    assert f.bmcs[1].faults == [{"fault": "ignore", "count": 2, "remaining": 0, "spent": True}]
    # other BMC unaffected
    assert f.reset(bmc_xname(0), "Node0", "On", 1.0) is True
    with pytest.raises(FleetError):
        f.set_fault(x, {"fault": "explode"})
    with pytest.raises(FleetError):
        f.set_fault("x9c9s9b9", {"fault": "hang"})
    fault = f.set_fault(x, {"fault": "status", "status": 503})
    assert fault == {"fault": "status", "status": 503, "message": "Internal error",
                     "requests": "actions"}
    assert f.bmcs[1].faults == [fault]   # the new fault replaced the spent ignore
    f.clear_fault(x)
    assert f.bmcs[1].faults == []


def test_request_log_filters_and_bound():
    f = Fleet(2, log_max=3)
    for i in range(5):
        f.record(float(i), bmc_xname(i % 2), "GET", "/redfish/v1/", None, 200)
    assert [e["time"] for e in f.entries()] == [2.0, 3.0, 4.0]
    assert [e["time"] for e in f.entries(bmc=bmc_xname(0))] == [2.0, 4.0]
    assert [e["time"] for e in f.entries(since=3.0)] == [3.0, 4.0]
    f.clear_log()
    assert f.entries() == []


# ------------------------------------------------- hierarchy: pure unit tests
def _hfleet(bmcs=12, **kw):
    kw = {"nodes_per_bmc": 2, "port_base": 5000, "initial_state": "on",
          "power_delay_s": 1.0, "chassis_bmcs": True, "bmc_boot_delay_s": 5.0, **kw}
    return Fleet(bmcs, **kw)


def test_hierarchy_layout_and_inventory():
    f = _hfleet()
    assert [(c.xname, c.port, sorted(c.blades)) for c in f.chassis_bmcs] == [
        ("x1000c0b0", 5012, list(range(8))), ("x1000c1b0", 5013, [0, 1, 2, 3])]
    assert f.chassis_states(f.chassis_bmcs[1], 0.0) == {
        "Enclosure": "On", "Blade0": "On", "Blade1": "On", "Blade2": "On", "Blade3": "On"}
    inv = f.inventory("h", "u", "p")
    assert [i["type"] for i in inv] == ["NodeBMC"] * 12 + ["ChassisBMC"] * 2
    assert inv[12] == {"xname": "x1000c0b0", "address": "h:5012", "scheme": "http",
                       "username": "u", "password": "p", "verifyTls": False, "nodes": [],
                       "type": "ChassisBMC"}
    d = f.describe(0.0)
    assert d[13]["chassis"]["Blade3"] == "On" and d[13]["type"] == "ChassisBMC"
    assert d[0]["powered"] is True and d[0]["type"] == "NodeBMC" and "chassis" not in d[0]
    assert Fleet(3).chassis_bmcs == [] and not Fleet(3).hierarchy


def test_blade_off_then_on_couples_node_bmc():
    f = _hfleet()
    nb, x = f.bmcs[9], "x1000c1b0"   # node BMC x1000c1s1b0 sits in Blade1 of chassis c1
    f.reset_chassis(x, "Blade1", "ForceOff", 10.0)
    assert f.chassis_states(f.chassis_bmc(x), 10.5)["Blade1"] == "PoweringOff"
    assert f.reachable(nb, 10.5) and f.power_states(nb.xname, 10.5)["Node0"] == "On"
    assert f.power_states(nb.xname, 11.0) == {"Node0": "Off", "Node1": "Off"}
    assert not nb.powered and not f.reachable(nb, 11.0)
    assert f.describe_bmc(nb, 11.0)["powered"] is False
    with pytest.raises(Unreachable):
        f.reset(nb.xname, "Node0", "On", 12.0)
    assert f.reachable(f.bmcs[8], 12.0)   # the neighbour slot is untouched
    f.reset_chassis(x, "Blade1", "On", 20.0)
    assert not f.reachable(nb, 20.9)
    assert nb.powered is False
    assert f.reachable(nb, 21.0) is False and nb.powered is True   # booting until 26
    assert f.reachable(nb, 25.9) is False and f.reachable(nb, 26.0) is True
    assert f.power_states(nb.xname, 26.0) == {"Node0": "Off", "Node1": "Off"}
    assert f.reset(nb.xname, "Node0", "On", 27.0) is True


def test_enclosure_off_turns_every_blade_off():
    f = _hfleet()
    x = "x1000c1b0"
    f.reset_chassis(x, "Enclosure", "ForceOff", 0.0)
    assert f.chassis_states(f.chassis_bmc(x), 0.5)["Blade0"] == "On"
    states = f.chassis_states(f.chassis_bmc(x), 1.0)
    assert set(states.values()) == {"Off"}
    assert all(not b.powered for b in f.bmcs[8:12]) and all(b.powered for b in f.bmcs[:8])
    with pytest.raises(EnclosureOff, match="Enclosure is powered off"):
        f.reset_chassis(x, "Blade0", "On", 2.0)
    f.reset_chassis(x, "Enclosure", "On", 3.0)
    with pytest.raises(EnclosureOff):   # still PoweringOn
        f.reset_chassis(x, "Blade0", "On", 3.5)
    states = f.chassis_states(f.chassis_bmc(x), 4.0)
    assert states["Enclosure"] == "On" and states["Blade0"] == "Off"
    assert not f.reachable(f.bmcs[8], 100.0)   # blades need their own On
    f.reset_chassis(x, "Blade0", "On", 100.0)
    assert f.reachable(f.bmcs[8], 106.0) and not f.reachable(f.bmcs[9], 106.0)


def test_coupling_settles_in_time_order():
    f = _hfleet(power_delay_s=0.0)
    x = "x1000c1b0"
    f.set_chassis_power(x, "Blade2", "Off", 0.0)   # admin: immediate, coupled
    assert not f.bmcs[10].powered
    f.power_delay_s = 1.0
    f.reset_chassis(x, "Blade2", "On", 10.0)       # settles at 11
    f.power_delay_s = 3.0
    f.reset_chassis(x, "Enclosure", "ForceOff", 10.0)   # settles at 13
    assert f.chassis_states(f.chassis_bmc(x), 12.0)["Blade2"] == "On"
    assert f.bmcs[10].powered
    assert f.chassis_states(f.chassis_bmc(x), 13.0)["Blade2"] == "Off"
    assert not f.bmcs[10].powered
    f.set_chassis_power(x, "Enclosure", "On", 20.0)
    f.power_delay_s = 0.0
    f.reset_chassis(x, "Blade3", "ForceOff", 21.0)   # zero delay: couples at once
    assert not f.bmcs[11].powered
    f.reset_chassis(x, "Enclosure", "ForceOff", 22.0)
    assert f.chassis_states(f.chassis_bmc(x), 22.0)["Blade0"] == "Off"
    f.reset_chassis(x, "Enclosure", "On", 23.0)
    with pytest.raises(FleetError):
        f.set_chassis_power(x, "Blade9", "On", 20.0)
    with pytest.raises(FleetError):
        f.set_power(f.bmcs[10].xname, "Node0", "On", 20.0)   # its BMC has no power


def test_manager_reset_and_allowable_values():
    f = _hfleet()
    f.manager_reset("x1000c0b0", 10.0)
    cb = f.chassis_bmc("x1000c0b0")
    assert not f.reachable(cb, 14.9) and f.reachable(cb, 15.0)
    f.manager_reset(f.bmcs[0].xname, 10.0)
    assert not f.reachable(f.bmcs[0], 12.0)
    assert f.power_states(f.bmcs[0].xname, 12.0)["Node0"] == "On"   # nodes keep power
    flat = Fleet(2)
    flat.manager_reset(flat.bmcs[0].xname, 10.0)   # flat mode: no reboot window
    assert flat.reachable(flat.bmcs[0], 10.0)
    assert flat.allowable(flat.bmcs[0])[:2] == ["On", "ForceOff"]
    assert flat.set_allowable(flat.bmcs[1].xname, ["On", "ForceOff", "On"]) == ["On", "ForceOff"]
    assert flat.allowable(flat.bmcs[1]) == ["On", "ForceOff"]
    assert len(flat.set_allowable(flat.bmcs[1].xname, None)) == 7
    for bad in (["Explode"], [], "On", [1]):
        with pytest.raises(FleetError):
            flat.set_allowable(flat.bmcs[0].xname, bad)
    with pytest.raises(FleetError):   # chassis understand On/Off types only
        f.set_allowable("x1000c0b0", ["ForceRestart"])
    one = Fleet(1, reset_types=["On", "Off"])
    assert one.allowable(one.bmcs[0]) == ["On", "Off"]
    with pytest.raises(FleetError):
        Fleet(1, reset_types=["Bogus"])


# --------------------------------------------------------- integration tests
class Sim:
    def __init__(self, proc, port_base, admin_port, ready_line, startup_s):
        self.proc = proc
        self.port_base = port_base
        self.admin = f"http://127.0.0.1:{admin_port}"
        self.ready_line = ready_line
        self.startup_s = startup_s

    def url(self, i: int, path: str = "/redfish/v1/") -> str:
        return f"http://127.0.0.1:{self.port_base + i}{path}"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_sim(bmcs: int, extra=(), attempts: int = 5, extra_ports: int = 0) -> Sim:
    last_err = "no attempt"
    for _ in range(attempts):
        # below the ephemeral range, where clients don't bind; chassis BMCs follow the nodes'
        base = free_port_block(bmcs + extra_ports)
        cmd = [sys.executable, "-m", "pcs.simulator", "--bmcs", str(bmcs),
               "--port-base", str(base), *extra]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=str(ROOT), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        line_box = []
        reader = threading.Thread(target=lambda: line_box.append(proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(30)
        line = line_box[0] if line_box else ""
        if line.startswith("simulator ready:"):
            return Sim(proc, base, base - 1, line.strip(), time.monotonic() - t0)
        proc.kill()
        proc.wait()
        last_err = f"line={line!r} stderr={proc.stderr.read()[-2000:]!r}"
    raise RuntimeError(f"simulator did not start: {last_err}")


@pytest.fixture(scope="module")
def sim(request):
    s = start_sim(4, ["--nodes-per-bmc", "2", "--power-delay", "0.5"])
    request.addfinalizer(s.stop)
    return s


@pytest.fixture(autouse=False)
def clean_faults(sim):
    yield
    for i in range(4):
        requests.delete(f"{sim.admin}/admin/bmcs/{bmc_xname(i)}/fault", timeout=10)


def test_ready_line(sim):
    b = sim.port_base
    assert sim.ready_line == (f"simulator ready: 4 BMCs on 127.0.0.1:{b}-{b + 3}, "
                              f"admin on 127.0.0.1:{b - 1}")


def test_discovery_walk(sim):
    root = requests.get(sim.url(1), timeout=10)
    assert root.status_code == 200
    assert root.headers["Content-Type"].startswith("application/json")
    body = root.json()
    assert body["RedfishVersion"] and body["UUID"]
    systems = requests.get(sim.url(1, body["Systems"]["@odata.id"]), auth=AUTH,
                           timeout=10).json()
    assert systems["Members@odata.count"] == 2
    assert [m["@odata.id"] for m in systems["Members"]] == [
        "/redfish/v1/Systems/Node0", "/redfish/v1/Systems/Node1"]
    node = requests.get(sim.url(1, systems["Members"][1]["@odata.id"]), auth=AUTH,
                        timeout=10).json()
    assert node["Id"] == "Node1" and node["SystemType"] == "Physical"
    assert node["PowerState"] in ("On", "Off", "PoweringOn", "PoweringOff")
    action = node["Actions"]["#ComputerSystem.Reset"]
    assert action["target"] == RESET.format("Node1")
    assert "ForceOff" in action["ResetType@Redfish.AllowableValues"]
    # trailing slash tolerated
    r = requests.get(sim.url(1, "/redfish/v1/Systems/Node1/"), auth=AUTH, timeout=10)
    assert r.json()["Id"] == "Node1"
    chassis = requests.get(sim.url(1, "/redfish/v1/Chassis"), auth=AUTH, timeout=10).json()
    assert chassis["Members"] == [{"@odata.id": "/redfish/v1/Chassis/Enclosure"}]
    enc = requests.get(sim.url(1, "/redfish/v1/Chassis/Enclosure"), auth=AUTH,
                       timeout=10).json()
    assert len(enc["Links"]["ComputerSystems"]) == 2
    mgr = requests.get(sim.url(1, "/redfish/v1/Managers/BMC"), auth=AUTH, timeout=10).json()
    assert mgr["ManagerType"] == "BMC"
    r = requests.post(sim.url(1, mgr["Actions"]["#Manager.Reset"]["target"]), auth=AUTH,
                      json={"ResetType": "GracefulRestart"}, timeout=10)
    assert r.status_code == 204
    r = requests.get(sim.url(1, "/redfish/v1/Nothing"), auth=AUTH, timeout=10)
    assert r.status_code == 404 and "error" in r.json()
    r = requests.delete(sim.url(1, "/redfish/v1/Systems/Node0"), auth=AUTH, timeout=10)
    assert r.status_code == 405


def test_auth_required(sim):
    r = requests.get(sim.url(0, "/redfish/v1/Systems"), timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["@Message.ExtendedInfo"][0]["MessageId"].startswith("Base.1.8.")
    r = requests.get(sim.url(0, "/redfish/v1/Systems"), auth=("root", "wrong"), timeout=10)
    assert r.status_code == 401


def _power(sim, i, node):
    return requests.get(sim.url(i, f"/redfish/v1/Systems/{node}"), auth=AUTH,
                        timeout=10).json()["PowerState"]


def _wait_power(sim, i, node, want, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _power(sim, i, node) == want:
            return True
        time.sleep(0.1)
    return False


def test_reset_changes_state_after_delay(sim):
    x = bmc_xname(2)
    requests.put(f"{sim.admin}/admin/bmcs/{x}/systems/Node0", json={"PowerState": "Off"},
                 timeout=10).raise_for_status()
    r = requests.post(sim.url(2, RESET.format("Node0")), auth=AUTH,
                      json={"ResetType": "On"}, timeout=10)
    assert r.status_code == 204
    assert _power(sim, 2, "Node0") in ("PoweringOn", "On")
    assert _wait_power(sim, 2, "Node0", "On")
    r = requests.post(sim.url(2, RESET.format("Node0")), auth=AUTH,
                      json={"ResetType": "ForceRestart"}, timeout=10)
    assert r.status_code == 204
    assert _wait_power(sim, 2, "Node0", "On")
    requests.post(sim.url(2, RESET.format("Node0")), auth=AUTH,
                  json={"ResetType": "ForceOff"}, timeout=10)
    assert _wait_power(sim, 2, "Node0", "Off")
    bmcs = requests.get(f"{sim.admin}/admin/bmcs", timeout=10).json()
    assert bmcs[2]["xname"] == x
    assert bmcs[2]["address"] == f"127.0.0.1:{sim.port_base + 2}"
    assert bmcs[2]["systems"]["Node0"] == "Off"


def test_bad_reset_requests(sim):
    r = requests.post(sim.url(0, RESET.format("Node0")), auth=AUTH,
                      json={"ResetType": "Explode"}, timeout=10)
    assert r.status_code == 400
    info = r.json()["error"]["@Message.ExtendedInfo"][0]
    assert info["MessageId"] == "Base.1.8.ActionParameterNotSupported"
    assert "'Explode'" in info["Message"]
    r = requests.post(sim.url(0, RESET.format("Node0")), auth=AUTH, json={}, timeout=10)
    assert r.status_code == 400
    r = requests.post(sim.url(0, RESET.format("Node0")), auth=AUTH, data="{nope",
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400
    assert (r.json()["error"]["@Message.ExtendedInfo"][0]["MessageId"]
            == "Base.1.8.MalformedJSON")


def test_health(sim):
    assert requests.get(f"{sim.admin}/admin/health", timeout=10).json() == {
        "bmcs": 4, "nodes": 8}


def test_status_fault(sim, clean_faults):
    x = bmc_xname(3)
    r = requests.put(f"{sim.admin}/admin/bmcs/{x}/fault",
                     json={"fault": "status", "status": 503, "message": "Busy now"},
                     timeout=10)
    assert r.status_code == 200
    r = requests.post(sim.url(3, RESET.format("Node0")), auth=AUTH,
                      json={"ResetType": "On"}, timeout=10)
    assert r.status_code == 503
    assert r.json()["error"]["message"] == "Busy now"
    assert requests.get(sim.url(3, "/redfish/v1/Systems/Node0"), auth=AUTH,
                        timeout=10).status_code == 200
    requests.delete(f"{sim.admin}/admin/bmcs/{x}/fault", timeout=10).raise_for_status()
    r = requests.post(sim.url(3, RESET.format("Node0")), auth=AUTH,
                      json={"ResetType": "On"}, timeout=10)
    assert r.status_code == 204


def test_hang_fault(sim, clean_faults):
    x = bmc_xname(3)
    requests.put(f"{sim.admin}/admin/bmcs/{x}/fault", json={"fault": "hang"},
                 timeout=10).raise_for_status()
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(sim.url(3, "/redfish/v1/Systems"), auth=AUTH, timeout=0.5)
    with pytest.raises(requests.exceptions.Timeout):
        requests.post(sim.url(3, RESET.format("Node1")), auth=AUTH,
                      json={"ResetType": "On"}, timeout=0.5)
    # other BMCs still answer
    assert requests.get(sim.url(2), timeout=10).status_code == 200
    requests.delete(f"{sim.admin}/admin/bmcs/{x}/fault", timeout=10).raise_for_status()
    assert requests.get(sim.url(3, "/redfish/v1/Systems"), auth=AUTH,
                        timeout=10).status_code == 200


def test_down_fault(sim, clean_faults):
    x = bmc_xname(1)
    requests.put(f"{sim.admin}/admin/bmcs/{x}/fault", json={"fault": "down"},
                 timeout=10).raise_for_status()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(sim.url(1), timeout=5)
    assert requests.get(sim.url(0), timeout=10).status_code == 200
    requests.delete(f"{sim.admin}/admin/bmcs/{x}/fault", timeout=10).raise_for_status()
    assert requests.get(sim.url(1), timeout=10).status_code == 200


def test_ignore_fault(sim, clean_faults):
    x = bmc_xname(0)
    requests.put(f"{sim.admin}/admin/bmcs/{x}/systems/Node1", json={"PowerState": "Off"},
                 timeout=10).raise_for_status()
    requests.put(f"{sim.admin}/admin/bmcs/{x}/fault", json={"fault": "ignore", "count": 1},
                 timeout=10).raise_for_status()
    r = requests.post(sim.url(0, RESET.format("Node1")), auth=AUTH,
                      json={"ResetType": "On"}, timeout=10)
    assert r.status_code == 204
    time.sleep(1.0)
    assert _power(sim, 0, "Node1") == "Off"
    r = requests.post(sim.url(0, RESET.format("Node1")), auth=AUTH,
                      json={"ResetType": "On"}, timeout=10)
    assert r.status_code == 204
    assert _wait_power(sim, 0, "Node1", "On")


def test_admin_errors(sim):
    r = requests.put(f"{sim.admin}/admin/bmcs/x9999c0s0b0/fault", json={"fault": "hang"},
                     timeout=10)
    assert r.status_code == 404
    r = requests.put(f"{sim.admin}/admin/bmcs/{bmc_xname(0)}/fault",
                     json={"fault": "nonsense"}, timeout=10)
    assert r.status_code == 400


def test_request_log(sim):
    requests.delete(f"{sim.admin}/admin/log", timeout=10).raise_for_status()
    t0 = time.time() - 1
    requests.get(sim.url(2, "/redfish/v1/Systems"), auth=AUTH, timeout=10)
    requests.post(sim.url(2, RESET.format("Node1")), auth=AUTH,
                  json={"ResetType": "Nmi"}, timeout=10)
    requests.get(sim.url(1), timeout=10)
    x = bmc_xname(2)
    entries = requests.get(f"{sim.admin}/admin/log", params={"bmc": x, "since": t0},
                           timeout=10).json()["entries"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/redfish/v1/Systems", 200),
        ("POST", RESET.format("Node1"), 204)]
    assert entries[1]["body"] == {"ResetType": "Nmi"}
    assert entries[0]["body"] is None
    assert all(e["bmc"] == x and e["time"] >= t0 for e in entries)
    all_entries = requests.get(f"{sim.admin}/admin/log", timeout=10).json()["entries"]
    assert len(all_entries) == 3
    future = requests.get(f"{sim.admin}/admin/log", params={"since": time.time() + 60},
                          timeout=10).json()["entries"]
    assert future == []


def test_inventory_file_and_clean_exit(tmp_path):
    inv = tmp_path / "inv.json"
    s = start_sim(2, ["--nodes-per-bmc", "3", "--initial-state", "on",
                      "--inventory-file", str(inv), "--username", "admin",
                      "--password", "secret"])
    try:
        data = json.loads(inv.read_text())
        assert [d["xname"] for d in data] == ["x1000c0s0b0", "x1000c0s1b0"]
        assert data[1]["address"] == f"127.0.0.1:{s.port_base + 1}"
        assert data[0]["username"] == "admin" and data[0]["password"] == "secret"
        assert data[0]["nodes"] == ["x1000c0s0b0n0", "x1000c0s0b0n1", "x1000c0s0b0n2"]
        r = requests.get(s.url(0, "/redfish/v1/Systems/Node2"), auth=("admin", "secret"),
                         timeout=10)
        assert r.json()["PowerState"] == "On"
    finally:
        rc = s.stop()
    assert rc == 0


def test_thousand_bmcs_start():
    s = start_sim(1000, ["--nodes-per-bmc", "1"])
    try:
        assert s.startup_s < 30
        for i in (0, 1, 499, 998, 999):
            r = requests.get(s.url(i, "/redfish/v1/Systems"), auth=AUTH, timeout=10)
            assert r.status_code == 200
            assert r.json()["Members@odata.count"] == 1
        health = requests.get(f"{s.admin}/admin/health", timeout=10).json()
        assert health == {"bmcs": 1000, "nodes": 1000}
        bmcs = requests.get(f"{s.admin}/admin/bmcs", timeout=10).json()
        assert bmcs[999]["xname"] == bmc_xname(999)
        print(f"1000-BMC startup: {s.startup_s:.2f}s")
    finally:
        assert s.stop() == 0


# ------------------------------------------- hierarchy mode over real HTTP
HBMCS = 9   # chassis x1000c0: slots 0-7; chassis x1000c1: slot 0 only
CHASSIS_RESET = "/redfish/v1/Chassis/{}/Actions/Chassis.Reset"


@pytest.fixture(scope="module")
def hsim(request, tmp_path_factory):
    inv = tmp_path_factory.mktemp("hsim") / "inv.json"
    s = start_sim(HBMCS, ["--nodes-per-bmc", "2", "--initial-state", "on", "--chassis-bmcs",
                          "--bmc-boot-delay", "0.5", "--power-delay", "0.2",
                          "--inventory-file", str(inv)], extra_ports=2)
    s.inventory = json.loads(inv.read_text())
    request.addfinalizer(s.stop)
    return s


def _refused(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
    except requests.exceptions.ConnectionError:
        return True
    return False


def _admin_bmc(s, xname):
    return requests.get(f"{s.admin}/admin/bmcs/{xname}", timeout=10).json()


def _chassis_reset(s, j, cid, rt):
    return requests.post(s.url(HBMCS + j, CHASSIS_RESET.format(cid)), auth=AUTH,
                         json={"ResetType": rt}, timeout=10)


def test_hierarchy_ready_line_inventory_admin(hsim):
    b = hsim.port_base
    assert hsim.ready_line == (
        f"simulator ready: {HBMCS} BMCs on 127.0.0.1:{b}-{b + HBMCS - 1}, admin on "
        f"127.0.0.1:{b - 1}, 2 chassis BMCs on 127.0.0.1:{b + HBMCS}-{b + HBMCS + 1}")
    assert [(d["xname"], d["type"]) for d in hsim.inventory[HBMCS:]] == [
        ("x1000c0b0", "ChassisBMC"), ("x1000c1b0", "ChassisBMC")]
    assert hsim.inventory[HBMCS]["address"] == f"127.0.0.1:{b + HBMCS}"
    assert hsim.inventory[0]["type"] == "NodeBMC"
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
    wait_for(lambda: _refused(hsim.url(nb)), timeout=5, what="the node BMC to go away")
    d = _admin_bmc(hsim, bmc_xname(nb))
    assert d["powered"] is False and d["systems"] == {"Node0": "Off", "Node1": "Off"}
    assert _admin_bmc(hsim, "x1000c0b0")["chassis"]["Blade1"] == "Off"
    assert requests.get(hsim.url(2), timeout=10).status_code == 200   # neighbour unaffected
    t0 = time.monotonic()
    assert _chassis_reset(hsim, 0, "Blade1", "On").status_code == 204
    wait_for(lambda: not _refused(hsim.url(nb)), timeout=10, what="the node BMC to boot")
    assert time.monotonic() - t0 >= 0.2 + 0.5 - 0.1
    assert _power(hsim, nb, "Node0") == "Off"
    entries = requests.get(f"{hsim.admin}/admin/log", params={"bmc": "x1000c0b0"},
                           timeout=10).json()["entries"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", CHASSIS_RESET.format("Blade1"), 204)] * 2


def test_enclosure_off_and_blade_refused(hsim):
    nb, x = 8, "x1000c1b0"   # the only node BMC of chassis x1000c1
    assert _chassis_reset(hsim, 1, "Enclosure", "ForceOff").status_code == 204
    wait_for(lambda: _admin_bmc(hsim, x)["chassis"] == {"Enclosure": "Off", "Blade0": "Off"},
             timeout=5, what="the enclosure and its blades to be off")
    wait_for(lambda: _refused(hsim.url(nb)), timeout=5, what="the node BMC to go away")
    r = _chassis_reset(hsim, 1, "Blade0", "On")
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["message"] == "Enclosure is powered off"
    assert err["@Message.ExtendedInfo"][0]["MessageId"] == "Base.1.8.ActionNotSupported"
    assert _chassis_reset(hsim, 1, "Enclosure", "On").status_code == 204
    wait_for(lambda: _admin_bmc(hsim, x)["chassis"]["Enclosure"] == "On", timeout=5,
             what="the enclosure to be on")
    time.sleep(0.8)
    assert _admin_bmc(hsim, x)["chassis"]["Blade0"] == "Off" and _refused(hsim.url(nb))
    # the admin sets a blade directly, with coupling
    r = requests.put(f"{hsim.admin}/admin/bmcs/{x}/chassis/Blade0", json={"PowerState": "On"},
                     timeout=10)
    assert r.status_code == 200 and r.json()["PowerState"] == "On"
    wait_for(lambda: not _refused(hsim.url(nb)), timeout=10, what="the node BMC to boot")
    assert _admin_bmc(hsim, bmc_xname(nb))["systems"] == {"Node0": "Off", "Node1": "Off"}


def test_manager_reset_makes_bmc_unreachable(hsim):
    for i in (HBMCS, 3):   # the chassis BMC x1000c0b0, then node BMC x1000c0s3b0
        r = requests.post(hsim.url(i, "/redfish/v1/Managers/BMC/Actions/Manager.Reset"),
                          auth=AUTH, json={"ResetType": "ForceRestart"}, timeout=10)
        assert r.status_code == 204
        t0 = time.monotonic()
        assert _refused(hsim.url(i))
        wait_for(lambda i=i: not _refused(hsim.url(i)), timeout=10, what="the BMC to come back")
        assert time.monotonic() - t0 >= 0.3
    assert _power(hsim, 3, "Node0") == "On"   # a BMC reboot leaves its nodes alone


def test_allowable_override(sim):
    x, url = bmc_xname(3), f"{sim.admin}/admin/bmcs/{bmc_xname(3)}/allowable"
    try:
        r = requests.put(url, json={"ResetType": ["On", "ForceOff"]}, timeout=10)
        assert r.status_code == 200 and r.json() == {"xname": x, "ResetType": ["On", "ForceOff"]}
        node = requests.get(sim.url(3, "/redfish/v1/Systems/Node1"), auth=AUTH, timeout=10)
        assert node.json()["Actions"]["#ComputerSystem.Reset"][
            "ResetType@Redfish.AllowableValues"] == ["On", "ForceOff"]
        r = requests.post(sim.url(3, RESET.format("Node1")), auth=AUTH,
                          json={"ResetType": "GracefulShutdown"}, timeout=10)
        assert r.status_code == 400
        assert (r.json()["error"]["@Message.ExtendedInfo"][0]["MessageId"]
                == "Base.1.8.ActionParameterNotSupported")
        other = requests.get(sim.url(2, "/redfish/v1/Systems/Node1"), auth=AUTH, timeout=10)
        assert "GracefulShutdown" in other.json()["Actions"]["#ComputerSystem.Reset"][
            "ResetType@Redfish.AllowableValues"]
        assert requests.put(url, json={"ResetType": ["Explode"]}, timeout=10).status_code == 400
    finally:
        requests.delete(url, timeout=10).raise_for_status()
    node = requests.get(sim.url(3, "/redfish/v1/Systems/Node1"), auth=AUTH, timeout=10)
    assert "GracefulShutdown" in node.json()["Actions"]["#ComputerSystem.Reset"][
        "ResetType@Redfish.AllowableValues"]


def test_flat_mode_has_no_chassis_bmcs(sim):
    bmcs = requests.get(f"{sim.admin}/admin/bmcs", timeout=10).json()
    assert [b["type"] for b in bmcs] == ["NodeBMC"] * 4
    assert all(b["powered"] and "chassis" not in b for b in bmcs)
    r = requests.post(sim.url(0, "/redfish/v1/Managers/BMC/Actions/Manager.Reset"), auth=AUTH,
                      json={"ResetType": "ForceRestart"}, timeout=10)
    assert r.status_code == 204 and requests.get(sim.url(0), timeout=10).status_code == 200


def test_reset_types_flag():
    s = start_sim(1, ["--reset-types", "On,ForceOff"])
    try:
        node = requests.get(s.url(0, "/redfish/v1/Systems/Node0"), auth=AUTH, timeout=10)
        assert node.json()["Actions"]["#ComputerSystem.Reset"][
            "ResetType@Redfish.AllowableValues"] == ["On", "ForceOff"]
        r = requests.post(s.url(0, RESET.format("Node0")), auth=AUTH,
                          json={"ResetType": "ForceRestart"}, timeout=10)
        assert r.status_code == 400
    finally:
        assert s.stop() == 0
    bad = subprocess.run([sys.executable, "-m", "pcs.simulator", "--bmcs", "1",
                          "--reset-types", "On,Bogus"], cwd=str(ROOT), capture_output=True,
                         text=True, timeout=30)
    assert bad.returncode == 2 and "Bogus" in bad.stderr


# ------------------------------- PDU controllers and management switches (pure)
def test_device_layout_inventory_and_describe():
    from pcs.simulator.fleet import MgmtSwitch, PDUController
    f = Fleet(9, port_base=5000, chassis_bmcs=True, pdus=2, outlets_per_pdu=3, switches=2,
              power_delay_s=2.0)
    assert [(d.xname, d.port, type(d)) for d in f.all_bmcs()[9:]] == [
        ("x1000c0b0", 5009, type(f.chassis_bmcs[0])), ("x1000c1b0", 5010, type(f.chassis_bmcs[0])),
        ("x3000m0", 5011, PDUController), ("x3000m1", 5012, PDUController),
        ("x3000c0w1", 5013, MgmtSwitch), ("x3000c0w2", 5014, MgmtSwitch)]
    assert list(f.pdus[0].outlets) == ["AA1", "AA2", "AA3"]
    inv = f.inventory("h", "u", "p")
    assert [i["type"] for i in inv[9:]] == ["ChassisBMC"] * 2 + [
        "CabinetPDUController"] * 2 + ["MgmtSwitch"] * 2
    assert inv[11]["nodes"] == [] and inv[13]["address"] == "h:5013"
    d = f.describe(0.0)
    assert d[11]["outlets"] == {"AA1": "On", "AA2": "On", "AA3": "On"}
    assert d[13]["chassis"] == {"Switch": "On"} and d[13]["type"] == "MgmtSwitch"
    flat = Fleet(2, pdus=1, switches=1, port_base=7000)   # no chassis BMCs: right after nodes
    assert [(b.xname, b.port) for b in flat.all_bmcs()[2:]] == [
        ("x3000m0", 7002), ("x3000c0w1", 7003)]
    assert Fleet(1).pdus == [] and Fleet(1).switches == []
    with pytest.raises(FleetError):
        Fleet(1, pdus=1, outlets_per_pdu=0)


def test_outlet_and_switch_power_model():
    f = Fleet(1, pdus=1, switches=1, power_delay_s=2.0)
    assert f.outlet_power_control("x3000m0", "AA2", "Off", 10.0) is True
    assert f.outlet_states(f.pdus[0], 11.0)["AA2"] == "PoweringOff"
    assert f.outlet_states(f.pdus[0], 12.0) == {"AA1": "On", "AA2": "Off", "AA3": "On",
                                                 "AA4": "On"}
    with pytest.raises(FleetError):
        f.outlet_power_control("x3000m0", "AA2", "Cycle", 13.0)
    with pytest.raises(FleetError):
        f.outlet_power_control("x3000m0", "AA9", "On", 13.0)
    assert f.set_outlet_power("x3000m0", "AA2", "on", 13.0) == "On"
    f.set_fault("x3000m0", {"fault": "ignore", "count": 1})
    assert f.outlet_power_control("x3000m0", "AA1", "Off", 14.0) is False
    assert f.outlet_states(f.pdus[0], 20.0)["AA1"] == "On"
    assert f.allowable(f.switches[0]) == ["On", "ForceOff", "GracefulShutdown"]
    assert f.switch_reset("x3000c0w1", "ForceOff", 30.0) is True
    assert f.describe_bmc(f.switches[0], 31.0)["chassis"] == {"Switch": "PoweringOff"}
    assert f.describe_bmc(f.switches[0], 32.0)["chassis"] == {"Switch": "Off"}
    assert f.set_switch_power("x3000c0w1", "On", 33.0) == "On"
    with pytest.raises(FleetError):
        f.set_allowable("x3000c0w1", ["ForceRestart"])
    with pytest.raises(FleetError):
        f.set_allowable("x3000m0", ["On"])
    with pytest.raises(FleetError):
        f.pdu("x3000c0w1")


# ------------------------- PDU controllers and management switches over real HTTP
DBMCS = 2   # node BMCs; then 1 chassis BMC, 2 PDU controllers, 2 switches
PDU0, SW0 = DBMCS + 1, DBMCS + 3   # port offsets of x3000m0 and x3000c0w1
OUTLETS = "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets"
OUTLET_CONTROL = OUTLETS + "/{}/Actions/Outlet.PowerControl"
SWITCH_RESET = "/redfish/v1/Chassis/Switch/Actions/Chassis.Reset"


@pytest.fixture(scope="module")
def dsim(request, tmp_path_factory):
    inv = tmp_path_factory.mktemp("dsim") / "inv.json"
    s = start_sim(DBMCS, ["--chassis-bmcs", "--pdus", "2", "--outlets-per-pdu", "3",
                          "--switches", "2", "--power-delay", "1.0",
                          "--inventory-file", str(inv)], extra_ports=5)
    s.inventory = json.loads(inv.read_text())
    request.addfinalizer(s.stop)
    return s


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
    assert [(d["xname"], d["type"], d["address"]) for d in dsim.inventory[DBMCS + 1:]] == [
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
    assert _admin_bmc(dsim, x)["outlets"]["AA3"] == "PoweringOff"
    wait_for(lambda: state() == "Off", timeout=10, what="the outlet to be off")
    assert _admin_bmc(dsim, x)["outlets"] == {"AA1": "On", "AA2": "On", "AA3": "Off"}
    assert _admin_bmc(dsim, "x3000m0")["outlets"]["AA3"] == "On"   # the other PDU
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
    assert _admin_bmc(dsim, "x3000m0")["outlets"]["AA1"] == "On"
    for auth in (None, ("root", "wrong")):
        for i, path in ((PDU0, OUTLETS), (SW0, "/redfish/v1/Chassis/Switch")):
            r = requests.get(dsim.url(i, path), auth=auth, timeout=10)
            assert r.status_code == 401 and "WWW-Authenticate" in r.headers
        r = requests.post(url, auth=auth, json={"PowerState": "Off"}, timeout=10)
        assert r.status_code == 401
    assert _admin_bmc(dsim, "x3000m0")["outlets"]["AA1"] == "On"


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
    assert _admin_bmc(dsim, "x3000c0w1")["chassis"] == {"Switch": "Off"}
    assert _admin_bmc(dsim, "x3000c0w2")["chassis"] == {"Switch": "On"}
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
        assert _refused(dsim.url(SW0 + 1))
        assert _admin_bmc(dsim, "x3000c0w2")["fault"] == {"fault": "down"}
    finally:
        for x in ("x3000m1", "x3000c0w2"):
            requests.delete(f"{dsim.admin}/admin/bmcs/{x}/fault", timeout=10).raise_for_status()
    wait_for(lambda: not _refused(dsim.url(SW0 + 1)), timeout=10, what="the switch to answer")
    assert _admin_bmc(dsim, "x3000m1")["outlets"]["AA1"] == "On"


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
        s = start_sim(1, ["--pdus", "1", "--switches", "1", "--register",
                          f"http://127.0.0.1:{api.server_address[1]}"], extra_ports=2)
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
        err = s.proc.stderr.read()
        assert "register CabinetPDUController x3000m0 failed: HTTP 422" in err
        assert "register MgmtSwitch x3000c0w1 failed: HTTP 422" in err
    finally:
        api.shutdown()
        api.server_close()


def test_device_flags_validation():
    for argv in (["--pdus", "-1"], ["--pdus", "1", "--outlets-per-pdu", "0"],
                 ["--switches", "-2"]):
        bad = subprocess.run([sys.executable, "-m", "pcs.simulator", "--bmcs", "1", *argv],
                             cwd=str(ROOT), capture_output=True, text=True, timeout=30)
        assert bad.returncode == 2, argv


# ------------------------------------------------------------ faults: pure
from pcs.simulator.faults import normalize_fault, parse_fault_flag


@pytest.mark.parametrize("spec, problem", [
    ({"fault": "explode"}, "fault must be one of"),
    ({"fault": "status", "status": 99}, "status must be an integer 100..599"),
    ({"fault": "status", "status": True}, "status must be an integer"),
    ({"fault": "status", "retry_after": -1}, "retry_after must be an integer >= 0"),
    ({"fault": "status", "requests": "gets"}, "requests must be one of all, actions"),
    ({"fault": "status", "retry-after": 2}, "takes no option 'retry-after'"),
    ({"fault": "close", "count": -1}, "count must be an integer >= 0"),
    ({"fault": "down", "systems": ["Node0"]}, "covers the whole BMC"),
    ({"fault": "down", "count": 1}, "takes no option 'count'"),
    ({"fault": "slow"}, "needs delay"),
    ({"fault": "slow", "delay": "soon"}, "delay must be a number of seconds"),
    ({"fault": "fallback", "after": -2}, "after must be a number of seconds"),
    ({"fault": "task", "outcome": "maybe"}, "outcome must be one of completed, exception"),
    ({"fault": "refuse"}, "needs reset_types"),
    ({"fault": "refuse", "reset_types": ["Explode"]}, "unsupported ResetType 'Explode'"),
    ({"fault": "hang", "systems": "Node0"}, "systems must be a non-empty list"),
    ({"fault": "hang", "systems": ["Node7"]}, "no system 'Node7' on x1000c0s0b0"),
])
def test_fault_specs_are_validated(spec, problem):
    f = Fleet(1)
    with pytest.raises(FleetError, match=problem):
        f.set_fault("x1000c0s0b0", spec)
    assert f.bmcs[0].faults == []


def test_fault_spec_defaults():
    assert normalize_fault({"fault": "status"}) == {
        "fault": "status", "status": 500, "message": "Internal error", "requests": "actions"}
    assert normalize_fault({"fault": "close"}) == {"fault": "close", "requests": "all"}
    assert normalize_fault({"fault": "hang", "count": 2, "requests": "actions"}) == {
        "fault": "hang", "requests": "actions", "count": 2, "remaining": 2, "spent": False}
    assert normalize_fault({"fault": "ignore"}) == {
        "fault": "ignore", "count": 1, "remaining": 1, "spent": False}
    assert normalize_fault({"fault": "fallback"}) == {"fault": "fallback", "after": 1.0}
    assert normalize_fault({"fault": "task"}) == {
        "fault": "task", "duration": 1.0, "outcome": "completed"}
    assert normalize_fault({"fault": "refuse", "reset_types": ["Nmi", "Nmi"],
                            "systems": ["Node1"]}) == {
        "fault": "refuse", "reset_types": ["Nmi"], "systems": ["Node1"]}


def test_fault_flag_syntax():
    assert parse_fault_flag("x1000c0s1b0=status:status=503,retry_after=2,message=Busy") == (
        "x1000c0s1b0", {"fault": "status", "status": 503, "retry_after": 2, "message": "Busy"})
    assert parse_fault_flag("x1000c0s1b0n1=refuse:reset_types=Nmi+GracefulRestart") == (
        "x1000c0s1b0n1", {"fault": "refuse", "reset_types": ["Nmi", "GracefulRestart"]})
    assert parse_fault_flag("all=slow:delay=2.5,systems=Node0+Node1") == (
        "all", {"fault": "slow", "delay": 2.5, "systems": ["Node0", "Node1"]})
    assert parse_fault_flag("x1000c0s0b0=down") == ("x1000c0s0b0", {"fault": "down"})
    for bad, problem in (("x1000c0s0b0", "is not TARGET=KIND"), ("=hang", "is not TARGET"),
                         ("x1000c0s0b0=hang:count", "is not key=value"),
                         ("x1000c0s0b0=slow:delay=fast", "delay must be a number")):
        with pytest.raises(FleetError, match=problem):
            parse_fault_flag(bad)


def test_node_faults_hold_side_by_side_and_a_bmc_fault_replaces_them():
    f = Fleet(2, nodes_per_bmc=3)
    x = bmc_xname(1)
    n0 = f.set_fault(f"{x}n0", {"fault": "slow", "delay": 4})
    n2 = f.set_fault(f"{x}n2", {"fault": "refuse", "reset_types": ["Nmi"]})
    assert n0["systems"] == ["Node0"] and n2["systems"] == ["Node2"]
    assert f.bmcs[1].faults == [n0, n2]
    assert f.shown_fault(f"{x}n2") == {"xname": f"{x}n2", "fault": n2}
    assert f.shown_fault(f"{x}n1") == {"xname": f"{x}n1", "fault": None}
    assert f.shown_fault(x) == {"xname": x, "fault": n2, "faults": [n0, n2]}
    both = f.set_fault(x, {"fault": "hang", "systems": ["Node0", "Node1"]})
    assert f.bmcs[1].faults == [n2, both]                 # it overlapped n0 only
    assert f.clear_fault(f"{x}n1") == [both]             # a node clears what covers it
    whole = f.set_fault(x, {"fault": "close"})
    assert f.bmcs[1].faults == [whole]
    assert f.shown_fault(f"{x}n2")["fault"] is whole      # the whole BMC covers its nodes
    assert f.bmcs[0].faults == []
    with pytest.raises(FleetError, match="unknown node"):
        f.set_fault(f"{x}n3", {"fault": "close"})
    with pytest.raises(FleetError, match="not both"):
        f.set_fault(f"{x}n1", {"fault": "close", "systems": ["Node1"]})
    with pytest.raises(FleetError, match="unknown BMC"):
        f.set_fault("x1000c0s7b0n0", {"fault": "close"})
    f.set_fault_target("all", {"fault": "ignore", "count": 3})
    assert [b.faults[0]["remaining"] for b in f.bmcs] == [3, 3]


def test_request_faults_match_requests_scope_and_count():
    f = Fleet(1, nodes_per_bmc=2)
    b, x = f.bmcs[0], bmc_xname(0)
    f.set_fault(f"{x}n1", {"fault": "status", "status": 409, "count": 2})
    reset1 = RESET.format("Node1")
    assert f.request_fault(b, "GET", "/redfish/v1/Systems/Node1") is None   # actions only
    assert f.request_fault(b, "POST", RESET.format("Node0")) is None        # other node
    assert f.request_fault(b, "POST", reset1)["remaining"] == 1
    assert f.request_fault(b, "POST", reset1)["spent"] is True
    assert f.request_fault(b, "POST", reset1) is None                       # spent
    assert f.shown_fault(x)["fault"]["spent"] is True                       # still shown
    f.set_fault(x, {"fault": "close"})
    assert f.request_fault(b, "GET", "/redfish/v1/")["fault"] == "close"
    assert f.request_fault(b, "GET", "/redfish/v1/Managers/BMC")["fault"] == "close"


def test_slow_and_fallback_with_explicit_times():
    f = Fleet(1, nodes_per_bmc=3, power_delay_s=1.0)
    x = bmc_xname(0)
    f.set_fault(f"{x}n0", {"fault": "slow", "delay": 5})
    f.set_fault(f"{x}n1", {"fault": "fallback", "after": 2})
    for node in ("Node0", "Node1", "Node2"):
        assert f.reset(x, node, "On", 10.0) is True
    assert f.power_states(x, 11.0) == {"Node0": "PoweringOn", "Node1": "On", "Node2": "On"}
    assert f.power_states(x, 12.9) == {"Node0": "PoweringOn", "Node1": "On", "Node2": "On"}
    assert f.power_states(x, 13.0) == {"Node0": "PoweringOn", "Node1": "Off", "Node2": "On"}
    assert f.power_states(x, 15.0) == {"Node0": "On", "Node1": "Off", "Node2": "On"}
    f.reset(x, "Node1", "On", 20.0)          # every power-on falls back while the fault is set
    assert f.power_states(x, 21.0)["Node1"] == "On"
    assert f.power_states(x, 23.0)["Node1"] == "Off"
    f.set_power(x, "Node1", "On", 24.0)     # the admin's On is not a BMC power-on
    f.reset(x, "Node1", "ForceRestart", 30.0)   # the restart's on-phase falls back too
    assert f.power_states(x, 30.5)["Node1"] == "PoweringOn"
    assert f.power_states(x, 32.9)["Node1"] == "On"
    assert f.power_states(x, 33.0)["Node1"] == "Off"
    f.reset(x, "Node1", "On", 40.0)
    f.reset(x, "Node1", "Nmi", 41.5)         # not a power change: the drop stays due
    assert f.power_states(x, 43.0)["Node1"] == "Off"
    f.reset(x, "Node1", "On", 50.0)
    f.clear_fault(f"{x}n1")                  # cleared: the pending drop is cancelled
    assert f.power_states(x, 60.0)["Node1"] == "On"
    f.reset(x, "Node0", "ForceOff", 60.0)
    assert f.power_states(x, 64.9)["Node0"] == "PoweringOff"
    assert f.power_states(x, 65.0)["Node0"] == "Off"


def test_tasks_with_explicit_times():
    f = Fleet(1, nodes_per_bmc=2, power_delay_s=1.0)
    x, b = bmc_xname(0), f.bmcs[0]
    f.set_fault(x, {"fault": "task", "duration": 3, "count": 2})
    t1 = f.start_task(x, "Node0", "On", RESET.format("Node0"), {"ResetType": "On"}, 10.0)
    assert (t1.id, t1.state(12.9), t1.state(13.0)) == ("1", "Running", "Completed")
    assert f.power_states(x, 12.9)["Node0"] == "Off"
    assert f.power_states(x, 13.5)["Node0"] == "PoweringOn"   # applied at 13, then 1 s
    assert f.power_states(x, 14.0)["Node0"] == "On"
    f.set_fault(x, {"fault": "task", "duration": 1, "outcome": "exception",
                    "message": "PSU fault"})
    t2 = f.start_task(x, "Node1", "On", RESET.format("Node1"), {"ResetType": "On"}, 20.0)
    assert (t2.id, t2.state(21.0), t2.message) == ("2", "Exception", "PSU fault")
    assert f.power_states(x, 30.0)["Node1"] == "Off"
    f.clear_fault(x)
    assert f.start_task(x, "Node1", "On", "", {}, 31.0) is None   # no fault: a plain reset
    assert list(b.tasks) == ["1", "2"]


# ------------------------------------------------------- faults over real HTTP
def _put_fault(s, xname, **spec):
    r = requests.put(f"{s.admin}/admin/bmcs/{xname}/fault", json=spec, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["fault"]


def _get_fault(s, xname):
    return requests.get(f"{s.admin}/admin/bmcs/{xname}/fault", timeout=10).json()


def _log(s, xname, since):
    entries = requests.get(f"{s.admin}/admin/log", params={"bmc": xname, "since": since},
                           timeout=10).json()["entries"]
    return [(e["method"], e["path"], e["status"], e["fault"]) for e in entries]


def _reset(s, i, node, rt="On", timeout=10):
    return requests.post(s.url(i, RESET.format(node)), auth=AUTH, json={"ResetType": rt},
                         timeout=timeout)


def _set_power(s, i, node, state):
    requests.put(f"{s.admin}/admin/bmcs/{bmc_xname(i)}/systems/{node}",
                 json={"PowerState": state}, timeout=10).raise_for_status()


SYS0, SYS1 = "/redfish/v1/Systems/Node0", "/redfish/v1/Systems/Node1"


def _task_done(s, i, location):
    """Poll a task monitor until it answers 200 (the task has ended); that answer."""
    def ended():
        r = requests.get(s.url(i, location), auth=AUTH, timeout=10)
        return r if r.status_code == 200 else None
    return wait_for(ended, timeout=10, what=f"task {location} to end")


@pytest.mark.parametrize("spec, get_status, post_status", [
    ({"status": 503, "retry_after": 2, "message": "BMC busy"}, 200, 503),   # actions only
    ({"status": 409, "message": "Operation in progress", "requests": "actions"}, 200, 409),
    ({"status": 401, "message": "Bad credentials", "requests": "all"}, 401, 401),
    ({"status": 500, "message": "Fan controller fault", "requests": "all"}, 500, 500),
])
def test_status_fault_answers_on_actions_or_all(sim, clean_faults, spec, get_status,
                                                post_status):
    x, since = bmc_xname(3), time.time()
    _put_fault(sim, x, fault="status", **spec)
    r = requests.get(sim.url(3, SYS0), auth=AUTH, timeout=10)
    assert r.status_code == get_status
    r = _reset(sim, 3, "Node0", "Nmi")
    assert r.status_code == post_status
    err = r.json()["error"]
    assert err["message"] == spec["message"]
    assert err["@Message.ExtendedInfo"][0]["MessageId"] == "Base.1.8.GeneralError"
    assert r.headers.get("Retry-After") == ("2" if "retry_after" in spec else None)
    assert ("WWW-Authenticate" in r.headers) == (post_status == 401)
    get_fault = "status" if get_status == spec["status"] else None
    assert _log(sim, x, since) == [("GET", SYS0, get_status, get_fault),
                                   ("POST", RESET.format("Node0"), post_status, "status")]


def test_status_fault_count_is_spent_then_bmc_answers(sim, clean_faults):
    x, since = bmc_xname(3), time.time()
    _set_power(sim, 3, "Node1", "Off")
    _put_fault(sim, x, fault="status", status=503, retry_after=1, count=2)
    assert [_reset(sim, 3, "Node1").status_code for _ in range(3)] == [503, 503, 204]
    shown = _get_fault(sim, x)["fault"]
    assert shown == {"fault": "status", "status": 503, "message": "Internal error",
                     "retry_after": 1, "requests": "actions", "count": 2, "remaining": 0,
                     "spent": True}
    assert _admin_bmc(sim, x)["fault"] == shown
    post = ("POST", RESET.format("Node1"))
    assert _log(sim, x, since) == [(*post, 503, "status"), (*post, 503, "status"),
                                   (*post, 204, None)]


def test_close_fault_drops_the_connection(sim, clean_faults):
    x, since = bmc_xname(3), time.time()
    _set_power(sim, 3, "Node0", "Off")
    _put_fault(sim, x, fault="close", requests="actions", count=1)
    assert requests.get(sim.url(3, SYS0), auth=AUTH, timeout=10).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError,
                       match="RemoteDisconnected|Connection aborted|reset"):
        _reset(sim, 3, "Node0")
    assert _power(sim, 3, "Node0") == "Off"
    assert _reset(sim, 3, "Node0").status_code == 204   # count spent
    assert _get_fault(sim, x)["fault"]["spent"] is True
    _put_fault(sim, x, fault="close")                    # default: every request
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(sim.url(3), timeout=10)
    post = ("POST", RESET.format("Node0"))
    assert _log(sim, x, since) == [("GET", SYS0, 200, None), (*post, 0, "close"),
                                   ("GET", SYS0, 200, None), (*post, 204, None),
                                   ("GET", "/redfish/v1/", 0, "close")]


def test_hang_fault_on_actions_is_logged_while_it_hangs(sim, clean_faults):
    x, since = bmc_xname(3), time.time()
    _set_power(sim, 3, "Node1", "On")
    _put_fault(sim, x, fault="hang", requests="actions", count=1)
    assert requests.get(sim.url(3, SYS1), auth=AUTH, timeout=10).status_code == 200
    with pytest.raises(requests.exceptions.Timeout):
        _reset(sim, 3, "Node1", "Nmi", timeout=0.5)
    post = ("POST", RESET.format("Node1"))
    assert _log(sim, x, since) == [("GET", SYS1, 200, None), (*post, 0, "hang")]
    assert _reset(sim, 3, "Node1", "Nmi").status_code == 204   # count spent: answers
    assert _get_fault(sim, x)["fault"] == {"fault": "hang", "requests": "actions",
                                           "count": 1, "remaining": 0, "spent": True}
    assert _log(sim, x, since)[1] == (*post, 0, "hang")          # the first still hangs
    requests.delete(f"{sim.admin}/admin/bmcs/{x}/fault", timeout=10).raise_for_status()
    # released by the DELETE, the hung request gets the BMC's answer (its client is gone)
    wait_for(lambda: _log(sim, x, since)[1] == (*post, 204, "hang"), timeout=10,
             what="the released request's answer in the log")


def test_node_fault_covers_only_that_node(sim, clean_faults):
    x, since = bmc_xname(2), time.time()
    _set_power(sim, 2, "Node0", "Off")
    r = requests.put(f"{sim.admin}/admin/bmcs/{x}n1/fault",
                     json={"fault": "status", "status": 500, "requests": "all"}, timeout=10)
    assert r.json() == {"xname": f"{x}n1", "fault": {
        "fault": "status", "status": 500, "message": "Internal error", "requests": "all",
        "systems": ["Node1"]}}
    refuse = _put_fault(sim, f"{x}n0", fault="refuse", reset_types=["Nmi"])
    assert [f["fault"] for f in _get_fault(sim, x)["faults"]] == ["status", "refuse"]
    assert _get_fault(sim, f"{x}n0") == {"xname": f"{x}n0", "fault": refuse}
    def get(path):
        return requests.get(sim.url(2, path), auth=AUTH, timeout=10)

    assert get(SYS1).status_code == 500
    assert get(SYS1 + "/").status_code == 500
    assert get(SYS0).status_code == 200
    assert get("/redfish/v1/Systems").status_code == 200
    assert _reset(sim, 2, "Node1").status_code == 500
    assert _reset(sim, 2, "Node0").status_code == 204
    assert _reset(sim, 2, "Node0", "Nmi").status_code == 400
    requests.delete(f"{sim.admin}/admin/bmcs/{x}n1/fault", timeout=10).raise_for_status()
    assert get(SYS1).status_code == 200
    assert _get_fault(sim, x)["faults"] == [refuse]
    assert [(m, p, s) for m, p, s, _ in _log(sim, x, since)] == [
        ("GET", SYS1, 500), ("GET", SYS1 + "/", 500), ("GET", SYS0, 200),
        ("GET", "/redfish/v1/Systems", 200), ("POST", RESET.format("Node1"), 500),
        ("POST", RESET.format("Node0"), 204), ("POST", RESET.format("Node0"), 400),
        ("GET", SYS1, 200)]


def test_ignore_fault_per_node(sim, clean_faults):
    x, since = bmc_xname(1), time.time()
    for node in ("Node0", "Node1"):
        _set_power(sim, 1, node, "Off")
    _put_fault(sim, f"{x}n1", fault="ignore", count=1)
    assert _reset(sim, 1, "Node1").status_code == 204     # swallowed
    assert _reset(sim, 1, "Node0").status_code == 204     # the other node is not covered
    assert _wait_power(sim, 1, "Node0", "On")
    assert _power(sim, 1, "Node1") == "Off"
    assert _get_fault(sim, f"{x}n1")["fault"]["spent"] is True
    assert _reset(sim, 1, "Node1").status_code == 204
    assert _wait_power(sim, 1, "Node1", "On")
    posts = [e for e in _log(sim, x, since) if e[0] == "POST"]
    assert posts == [("POST", RESET.format("Node1"), 204, "ignore"),
                     ("POST", RESET.format("Node0"), 204, None),
                     ("POST", RESET.format("Node1"), 204, None)]


def test_slow_fault_per_node(sim, clean_faults):
    x = bmc_xname(1)
    for node in ("Node0", "Node1"):
        _set_power(sim, 1, node, "Off")
    _put_fault(sim, f"{x}n0", fault="slow", delay=4)
    assert _reset(sim, 1, "Node0").status_code == 204
    assert _reset(sim, 1, "Node1").status_code == 204
    assert _wait_power(sim, 1, "Node1", "On")          # the fleet's 0.5 s
    assert _power(sim, 1, "Node0") == "PoweringOn"     # still on its way (4 s)
    assert _wait_power(sim, 1, "Node0", "On")


def test_fallback_fault_drops_to_off_after_on(sim, clean_faults):
    x, since = bmc_xname(0), time.time()
    for node in ("Node0", "Node1"):
        _set_power(sim, 0, node, "Off")
    _put_fault(sim, x, fault="fallback", after=1.5)
    assert _reset(sim, 0, "Node0").status_code == 204
    assert _wait_power(sim, 0, "Node0", "On")
    assert _wait_power(sim, 0, "Node0", "Off")
    assert _reset(sim, 0, "Node0", "ForceRestart").status_code == 204   # on-phase too
    assert _wait_power(sim, 0, "Node0", "On")
    assert _wait_power(sim, 0, "Node0", "Off")
    seen = [e for e in requests.get(f"{sim.admin}/admin/log",
                                    params={"bmc": x, "since": since}, timeout=10
                                    ).json()["entries"] if e["method"] == "GET"]
    assert all(e["status"] == 200 for e in seen)
    requests.delete(f"{sim.admin}/admin/bmcs/{x}/fault", timeout=10).raise_for_status()
    assert _reset(sim, 0, "Node1").status_code == 204
    assert _wait_power(sim, 0, "Node1", "On")
    assert _admin_bmc(sim, x)["systems"]["Node1"] == "On"


def test_task_fault_completes_and_applies_the_reset(sim, clean_faults):
    x, since = bmc_xname(2), time.time()
    _set_power(sim, 2, "Node1", "Off")
    _put_fault(sim, x, fault="task", duration=1.5)
    r = _reset(sim, 2, "Node1")
    assert r.status_code == 202
    location = r.headers["Location"]
    assert location.startswith("/redfish/v1/TaskService/Tasks/")
    task = r.json()
    assert task["@odata.type"] == "#Task.v1_4_3.Task" and task["@odata.id"] == location
    assert (task["TaskState"], task["TaskStatus"], task["Messages"]) == ("Running", "OK", [])
    assert task["TaskMonitor"] == location and task["Id"] == location.rsplit("/", 1)[1]
    assert task["Payload"]["TargetUri"] == RESET.format("Node1")
    monitor = requests.get(sim.url(2, location), auth=AUTH, timeout=10)
    assert monitor.status_code == 202 and monitor.json()["TaskState"] == "Running"
    assert _power(sim, 2, "Node1") == "Off"            # nothing applied while it runs
    done = _task_done(sim, 2, location)
    assert (done.json()["TaskState"], done.json()["TaskStatus"]) == ("Completed", "OK")
    assert _wait_power(sim, 2, "Node1", "On")
    service = requests.get(sim.url(2, "/redfish/v1/TaskService"), auth=AUTH, timeout=10)
    assert service.json()["Tasks"] == {"@odata.id": "/redfish/v1/TaskService/Tasks"}
    tasks = requests.get(sim.url(2, "/redfish/v1/TaskService/Tasks"), auth=AUTH,
                         timeout=10).json()
    assert {"@odata.id": location} in tasks["Members"]
    missing = requests.get(sim.url(2, "/redfish/v1/TaskService/Tasks/999"), auth=AUTH,
                           timeout=10)
    assert missing.status_code == 404
    assert (missing.json()["error"]["@Message.ExtendedInfo"][0]["MessageId"]
            == "Base.1.8.ResourceMissingAtURI")
    log = [e for e in _log(sim, x, since) if e[0] == "POST" or "TaskService" in e[1]]
    assert log[0] == ("POST", RESET.format("Node1"), 202, "task")
    monitors = [e[2] for e in log if e[1] == location]
    assert monitors[0] == 202 and monitors[-1] == 200 and set(monitors) == {200, 202}
    assert monitors == sorted(monitors, reverse=True)   # 202s, then 200s


def test_task_fault_exception_changes_nothing(sim, clean_faults):
    x = bmc_xname(2)
    _set_power(sim, 2, "Node0", "Off")
    _put_fault(sim, f"{x}n0", fault="task", duration=0.5, outcome="exception",
               message="Power supply fault")
    assert _reset(sim, 2, "Node1", "Nmi").status_code == 204   # the other node: no task
    r = _reset(sim, 2, "Node0")
    assert r.status_code == 202
    location = r.headers["Location"]
    done = _task_done(sim, 2, location).json()
    assert (done["TaskState"], done["TaskStatus"]) == ("Exception", "Critical")
    assert done["Messages"][0]["MessageId"] == "Base.1.8.GeneralError"
    assert done["Messages"][0]["Message"] == "Power supply fault"
    # a completed task would have started the On when it ended: PoweringOn (0.5 s) by now
    assert _power(sim, 2, "Node0") == "Off"
    assert _admin_bmc(sim, x)["systems"]["Node0"] == "Off"


def test_refuse_fault_keeps_the_value_advertised(sim, clean_faults):
    x, since = bmc_xname(0), time.time()
    _put_fault(sim, x, fault="refuse", reset_types=["Nmi", "GracefulRestart"])
    node = requests.get(sim.url(0, SYS1), auth=AUTH, timeout=10).json()
    allowed = node["Actions"]["#ComputerSystem.Reset"]["ResetType@Redfish.AllowableValues"]
    assert "Nmi" in allowed and "GracefulRestart" in allowed
    r = _reset(sim, 0, "Node1", "Nmi")
    assert r.status_code == 400
    info = r.json()["error"]["@Message.ExtendedInfo"][0]
    assert info["MessageId"] == "Base.1.8.ActionParameterNotSupported"
    assert info["Message"] == "The parameter ResetType with value 'Nmi' is not supported."
    assert _reset(sim, 0, "Node1", "ForceOff").status_code == 204
    post = ("POST", RESET.format("Node1"))
    assert _log(sim, x, since) == [("GET", SYS1, 200, None), (*post, 400, "refuse"),
                                   (*post, 204, None)]


def test_fault_admin_errors_name_the_problem(sim):
    url = f"{sim.admin}/admin/bmcs/{bmc_xname(0)}"
    cases = [(f"{url}/fault", {"fault": "slow"}, 400, "needs delay"),
             (f"{url}/fault", {"fault": "status", "retry_after": "x"}, 400, "retry_after"),
             (f"{url}/fault", {"fault": "hang", "systems": ["Node5"]}, 400, "no system"),
             (f"{url}n0/fault", {"fault": "close", "systems": ["Node0"]}, 400, "not both"),
             (f"{url}n0/fault", {"fault": "down"}, 400, "whole BMC"),
             (f"{url}n7/fault", {"fault": "close"}, 404, "unknown node")]
    for target, spec, status, problem in cases:
        r = requests.put(target, json=spec, timeout=10)
        assert r.status_code == status and problem in r.json()["error"], (spec, r.text)
    assert requests.get(f"{url}/fault", timeout=10).json()["faults"] == []


def test_fault_flags_install_faults_at_start():
    s = start_sim(2, ["--power-delay", "0.2",
                      "--fault", "all=slow:delay=3,systems=Node1",
                      "--fault", "x1000c0s0b0n0=refuse:reset_types=Nmi+GracefulRestart",
                      "--fault", ("x1000c0s1b0=status:status=503,retry_after=2,count=1,"
                                  "message=Busy")])
    try:
        b0 = _get_fault(s, "x1000c0s0b0")["faults"]
        assert b0 == [{"fault": "slow", "delay": 3.0, "systems": ["Node1"]},
                      {"fault": "refuse", "reset_types": ["Nmi", "GracefulRestart"],
                       "systems": ["Node0"]}]
        # the BMC-wide status fault replaced the slow fault it overlaps
        assert _get_fault(s, "x1000c0s1b0")["faults"] == [{
            "fault": "status", "status": 503, "message": "Busy", "retry_after": 2,
            "requests": "actions", "count": 1, "remaining": 1, "spent": False}]
        assert _reset(s, 0, "Node0", "GracefulRestart").status_code == 400
        assert _reset(s, 0, "Node1").status_code == 204
        assert _power(s, 0, "Node1") == "PoweringOn"
        r = _reset(s, 1, "Node0")
        assert (r.status_code, r.headers["Retry-After"]) == (503, "2")
        assert _reset(s, 1, "Node0").status_code == 204
    finally:
        assert s.stop() == 0


@pytest.mark.parametrize("flag, problem", [
    ("x1000c0s0b0", "is not TARGET=KIND"),
    ("x1000c0s0b0=melt", "fault must be one of"),
    ("x1000c0s0b0=status:status=700", "status must be an integer 100..599"),
    ("x1000c0s0b0=refuse:reset_types=Bogus", "unsupported ResetType 'Bogus'"),
    ("x1000c0s9b0=hang", "unknown BMC 'x1000c0s9b0'"),
    ("x1000c0s0b0n4=hang", "unknown node"),
    ("x1000c0s0b0=slow:delay=1,systems=Node3", "no system 'Node3'"),
])
def test_bad_fault_flags_are_usage_errors(flag, problem):
    bad = subprocess.run([sys.executable, "-m", "pcs.simulator", "--bmcs", "1",
                          "--fault", flag], cwd=str(ROOT), capture_output=True, text=True,
                         timeout=30, check=False)
    assert bad.returncode == 2
    assert "argument --fault" in bad.stderr and problem in bad.stderr


def test_help_documents_fault_flag():
    out = subprocess.run([sys.executable, "-m", "pcs.simulator", "--help"], cwd=str(ROOT),
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert "--fault TARGET=KIND[:key=value,...]" in out
    for kind in ("status:", "close:", "hang:", "down", "ignore:", "slow:", "fallback:",
                 "task:", "refuse:"):
        assert kind in out
