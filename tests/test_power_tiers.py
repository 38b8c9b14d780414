"""Power sequencing across component types, against a simulated cabinet (chassis BMC, slots,
node BMCs, nodes): API.md "Power sequencing" and the dependency rules."""
from __future__ import annotations

import time
from contextlib import contextmanager

import pytest

from harness import Simulator, Worker, post_transition, wait_for, wait_transition

pytestmark = pytest.mark.integration

NODES = ["x1000c0s0b0n0", "x1000c0s0b0n1", "x1000c0s1b0n0", "x1000c0s1b0n1"]
SLOTS = ["x1000c0s0", "x1000c0s1"]
CHASSIS = "x1000c0"


@contextmanager
def _stack_with_worker(private_stack_factory, scratch_dir, sim, name: str, **overrides):
    """(settings, simulator, client) of a private stack, with a worker of its own."""
    settings, sim, client = private_stack_factory(sim, **overrides)
    worker = Worker(settings.as_env(), scratch_dir / f"{name}-worker.log", concurrency=8,
                    name=name)
    try:
        yield settings, sim, client
    finally:
        worker.stop()


@pytest.fixture
def cabinet(private_stack_factory, scratch_dir):
    with _stack_with_worker(private_stack_factory, scratch_dir, Simulator(
            bmcs=2, nodes_per_bmc=2, power_delay_s=0.3, chassis_bmcs=True,
            bmc_boot_delay_s=1.0), "tiers") as stack:
        yield stack


def _first_reset_time(sim, path_end: str, bmc: str, reset_type: str, since: float) -> float:
    times = [e["time"] for e in sim.log(bmc, since) if e["method"] == "POST"
             and e["path"].endswith(path_end) and (e["body"] or {}).get("ResetType") == reset_type
             and 200 <= e["status"] < 300]
    assert times, f"no {reset_type} to {bmc}{path_end}"
    return min(times)


def _posts_by_type(client, transition_id) -> dict[str, list]:
    """sent_at of the power actions stored for a transition, by component type."""
    from sqlalchemy import select

    from pcs.models import BmcExchange, Component, TransitionTask
    db = client.application.extensions["pcs"].db
    with db.transaction() as s:
        rows = s.execute(select(Component.type, BmcExchange.sent_at)
                         .join(TransitionTask, TransitionTask.id == BmcExchange.task_id)
                         .join(Component, Component.id == TransitionTask.component_id)
                         .where(TransitionTask.transition_id == transition_id,
                                BmcExchange.method == "POST")).all()
    out: dict[str, list] = {}
    for type_, sent_at in rows:
        out.setdefault(type_, []).append(sent_at)
    return out


def test_cabinet_components_are_registered_with_their_types(cabinet):
    _, _, client = cabinet
    types = {c["xname"]: c["type"] for c in
             client.get("/v1/inventory/components").get_json()["components"]}
    assert types[CHASSIS] == "Chassis" and types["x1000c0b0"] == "ChassisBMC"
    assert [types[s] for s in SLOTS] == ["ComputeModule", "ComputeModule"]
    assert all(types[n] == "Node" for n in NODES) and types["x1000c0s0b0"] == "NodeBMC"


def test_off_goes_children_first_and_on_goes_parents_first(cabinet):
    _, sim, client = cabinet
    for bmc in ("x1000c0s0b0", "x1000c0s1b0"):
        for node in ("Node0", "Node1"):
            sim.set_power(bmc, node, "On")
    start = time.time()
    off = wait_transition(client, post_transition(client, "force-off",
                                                  NODES + SLOTS + [CHASSIS]),
                          timeout=60)
    assert off["taskCounts"]["succeeded"] == 7, off["tasks"]
    node_off = max(_first_reset_time(sim, f"Node{n}/Actions/ComputerSystem.Reset",
                                     f"x1000c0s{s}b0", "ForceOff", start)
                   for s in (0, 1) for n in (0, 1))
    slot_off = [_first_reset_time(sim, f"Blade{s}/Actions/Chassis.Reset", "x1000c0b0",
                                  "ForceOff", start) for s in (0, 1)]
    chassis_off = _first_reset_time(sim, "Enclosure/Actions/Chassis.Reset", "x1000c0b0",
                                    "ForceOff", start)
    assert node_off < min(slot_off) and max(slot_off) < chassis_off
    # Our own record of the exchanges shows the same order.
    posts = _posts_by_type(client, off["transitionID"])
    assert max(posts["Node"]) < min(posts["ComputeModule"])
    assert max(posts["ComputeModule"]) < min(posts["Chassis"])

    start = time.time()
    on = wait_transition(client, post_transition(client, "on", NODES + SLOTS + [CHASSIS]),
                         timeout=90)
    assert on["taskCounts"]["succeeded"] == 7, on["tasks"]
    chassis_on = _first_reset_time(sim, "Enclosure/Actions/Chassis.Reset", "x1000c0b0", "On",
                                   start)
    slot_on = [_first_reset_time(sim, f"Blade{s}/Actions/Chassis.Reset", "x1000c0b0", "On",
                                 start) for s in (0, 1)]
    node_on = min(_first_reset_time(sim, f"Node{n}/Actions/ComputerSystem.Reset",
                                    f"x1000c0s{s}b0", "On", start)
                  for s in (0, 1) for n in (0, 1))
    assert chassis_on < min(slot_on) and max(slot_on) < node_on


def test_parent_whose_child_failed_to_shut_down_fails_naming_the_child(cabinet):
    _, sim, client = cabinet
    sim.set_power("x1000c0s1b0", "Node0", "On")
    sim.set_fault("x1000c0s1b0", fault="status", status=500, message="BMC busy")
    try:
        body = wait_transition(client, post_transition(client, "force-off",
                                                       ["x1000c0s1b0n0", "x1000c0s1"]),
                               timeout=60)
    finally:
        sim.clear_fault("x1000c0s1b0")
    tasks = {t["xname"]: t for t in body["tasks"]}
    assert tasks["x1000c0s1b0n0"]["taskStatus"] == "failed"
    # The node's BMC refused the action: upstream's text for that dependency, in both fields.
    expected = "Failed to apply transition, forceoff, to dependency, x1000c0s1b0n0."
    assert tasks["x1000c0s1"] == {"xname": "x1000c0s1", "taskStatus": "failed",
                                  "taskStatusDescription": expected, "error": expected}


def test_controller_restart_is_confirmed_when_the_bmc_answers_again(cabinet):
    _, _, client = cabinet
    body = wait_transition(client, post_transition(client, "soft-restart", ["x1000c0s0b0"]),
                           timeout=60)
    assert body["tasks"][0]["taskStatusDescription"] == "Transition confirmed, gracefulrestart"


def test_operation_outside_the_allowable_values_is_unsupported(cabinet):
    _, _, client = cabinet
    # The chassis offers On and ForceOff only: no graceful Off.
    body = wait_transition(client, post_transition(client, "off", [CHASSIS]), timeout=30)
    assert body["tasks"] == [{
        "xname": CHASSIS, "taskStatus": "unsupported",
        "taskStatusDescription": "Component does not support the specified transition "
                                 "operation, Off",
        "error": "Unsupported for transition operation"}]
    assert body["taskCounts"]["un-supported"] == 1
    listed = {t["transitionID"]: t for t in client.get("/transitions").get_json()["transitions"]}
    assert listed[body["transitionID"]]["taskCounts"] == body["taskCounts"]


@pytest.fixture
def rack(private_stack_factory, scratch_dir):
    """A node BMC, a PDU controller with two outlets and a management switch."""
    with _stack_with_worker(private_stack_factory, scratch_dir, Simulator(
            bmcs=1, nodes_per_bmc=2, power_delay_s=0.3, pdus=1, outlets_per_pdu=2,
            switches=1), "rack") as stack:
        yield stack


def test_outlets_and_switches_are_controlled_in_their_tiers(rack):
    _, sim, client = rack
    types = {c["xname"]: c["type"] for c in
             client.get("/v1/inventory/components").get_json()["components"]}
    assert types["x3000m0p0v1"] == types["x3000m0p0v2"] == "CabinetPDUPowerConnector"
    assert types["x3000c0w1"] == "MgmtSwitch"
    sim.set_power("x1000c0s0b0", "Node0", "On")
    targets = ["x1000c0s0b0n0", "x3000c0w1", "x3000m0p0v1"]
    start = time.time()
    off = wait_transition(client, post_transition(client, "off", targets), timeout=60)
    assert off["taskCounts"]["succeeded"] == 3, off["tasks"]
    node = _first_reset_time(sim, "Node0/Actions/ComputerSystem.Reset", "x1000c0s0b0",
                             "GracefulShutdown", start)
    switch = _first_reset_time(sim, "Switch/Actions/Chassis.Reset", "x3000c0w1",
                               "GracefulShutdown", start)
    outlets = [e for e in sim.log("x3000m0", start) if e["method"] == "POST"]
    assert [e["body"] for e in outlets] == [{"PowerState": "Off"}]
    assert node < switch < outlets[0]["time"]

    start = time.time()
    on = wait_transition(client, post_transition(client, "on", targets), timeout=60)
    assert on["taskCounts"]["succeeded"] == 3, on["tasks"]
    outlet_on = [e["time"] for e in sim.log("x3000m0", start) if e["method"] == "POST"]
    switch_on = _first_reset_time(sim, "Switch/Actions/Chassis.Reset", "x3000c0w1", "On", start)
    node_on = _first_reset_time(sim, "Node0/Actions/ComputerSystem.Reset", "x1000c0s0b0", "On",
                                start)
    assert outlet_on[0] < switch_on < node_on


def test_soft_restart_of_a_node_with_its_slot_terminates(cabinet):
    """Upstream looped forever here; the tiers make the slot's off/on and the node's restart
    one ordered sequence that ends."""
    _, sim, client = cabinet
    sim.set_power("x1000c0s0b0", "Node1", "On")
    body = wait_transition(client, post_transition(client, "soft-restart",
                                                   ["x1000c0s0b0n1", "x1000c0s0"]), timeout=90)
    assert body["transitionStatus"] == "completed"
    assert body["taskCounts"]["new"] == body["taskCounts"]["in-progress"] == 0


@pytest.fixture
def slow_cabinet(private_stack_factory, scratch_dir):
    """Nodes taking 2 s, and a confirm interval of 30 s: a task waiting for an earlier tier
    would check again only after 150 s, so a transition that ends within a minute shows that
    the end of each tier woke the next."""
    with _stack_with_worker(private_stack_factory, scratch_dir, Simulator(
            bmcs=2, nodes_per_bmc=2, power_delay_s=2.0, chassis_bmcs=True), "slow-tiers",
            confirm_interval_s=30.0) as stack:
        yield stack


def test_the_end_of_a_tier_wakes_the_tasks_waiting_for_it(slow_cabinet):
    _, sim, client = slow_cabinet
    for bmc in ("x1000c0s0b0", "x1000c0s1b0"):
        for node in ("Node0", "Node1"):
            sim.set_power(bmc, node, "On")
    transition_id = post_transition(client, "force-off", NODES + SLOTS + [CHASSIS])
    seen: dict[str, set[str]] = {}

    def done():
        body = client.get(f"/transitions/{transition_id}").get_json()
        for task in body["tasks"]:
            seen.setdefault(task["xname"], set()).add(task["taskStatusDescription"])
        return body if body["transitionStatus"] == "completed" else None

    body = wait_for(done, timeout=60, interval=0.1, what="the transition")
    assert body["taskCounts"]["succeeded"] == 7, body["tasks"]
    # While the nodes turned off, the slots and the chassis said what they waited for.
    for xname in SLOTS + [CHASSIS]:
        assert "Waiting for an earlier power tier to finish" in seen[xname], seen[xname]
