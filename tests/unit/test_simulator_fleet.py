"""The simulator's pure fleet model: layout, power over explicit times, the request log."""
from __future__ import annotations

import pytest

from pcs.simulator import bmc_xname
from pcs.simulator.fleet import Fleet, FleetError, System


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
