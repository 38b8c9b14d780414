"""The simulator's faults (pure): specs, the --fault flag, scopes, counts, explicit times."""
from __future__ import annotations

import pytest

from pcs.simulator import bmc_xname
from pcs.simulator.faults import normalize_fault, parse_fault_flag
from pcs.simulator.fleet import Fleet, FleetError

RESET = "/redfish/v1/Systems/{}/Actions/ComputerSystem.Reset"


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
