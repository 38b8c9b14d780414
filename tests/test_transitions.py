"""Transitions end to end: API, PostgreSQL, Redis, a celery worker and simulated BMCs over HTTP."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from harness import post_transition, wait_transition
from pcs.models import BmcExchange, TransitionTask

pytestmark = pytest.mark.integration


@pytest.fixture
def run(client, fleet, worker):
    """post + wait: the body of the finished transition and a task lookup by xname."""
    def _run(operation, xnames, timeout=30.0, **extra):
        body = wait_transition(client, post_transition(client, operation, xnames, **extra),
                               timeout=timeout)
        return body, {t["xname"]: t for t in body["tasks"]}
    return _run


def exchanges_of(db, transition_id, xname):
    with db.transaction() as s:
        return s.scalars(select(BmcExchange).join(TransitionTask,
                                                  TransitionTask.id == BmcExchange.task_id)
                         .where(TransitionTask.transition_id == transition_id,
                                TransitionTask.xname == xname)
                         .order_by(BmcExchange.id)).all()


def test_power_on_is_confirmed_by_the_bmc_and_its_exchanges_are_stored(run, fleet, db):
    fleet.set_power("x1000c0s0b0", "Node0", "Off")
    body, tasks = run("on", ["x1000c0s0b0n0"])
    assert body["transitionStatus"] == "completed"
    assert tasks["x1000c0s0b0n0"] == {"xname": "x1000c0s0b0n0", "taskStatus": "succeeded",
                                      "taskStatusDescription": "Transition confirmed, on"}
    rows = exchanges_of(db, body["transitionID"], "x1000c0s0b0n0")
    posts = [r for r in rows if r.method == "POST"]
    assert len(posts) == 1 and posts[0].request_body == {"ResetType": "On"}
    assert posts[0].status_code == 204 and posts[0].state == "done"
    assert rows[0].purpose == "gather" and rows[-1].purpose == "confirm"
    assert all(r.latency_ms is not None for r in rows)
    # The BMC itself saw exactly one reset.
    resets = [e for e in fleet.log("x1000c0s0b0") if e["method"] == "POST"
              and e["path"].endswith("Node0/Actions/ComputerSystem.Reset")]
    assert resets[-1]["body"] == {"ResetType": "On"}


def test_component_already_on_is_not_touched(run, fleet):
    fleet.set_power("x1000c0s0b0", "Node1", "On")
    _, tasks = run("on", ["x1000c0s0b0n1"])
    assert tasks["x1000c0s0b0n1"]["taskStatus"] == "succeeded"
    assert tasks["x1000c0s0b0n1"]["taskStatusDescription"] == "Component already in desired state"


def test_bmc_refusing_the_reset_fails_the_task_quoting_the_bmc(run, fleet):
    fleet.set_power("x1000c0s1b0", "Node0", "Off")
    fleet.set_fault("x1000c0s1b0", fault="status", status=500, message="Fan controller fault")
    try:
        body, tasks = run("on", ["x1000c0s1b0n0"])
    finally:
        fleet.clear_fault("x1000c0s1b0")
    task = tasks["x1000c0s1b0n0"]
    assert task["taskStatus"] == "failed"
    assert task["taskStatusDescription"] == "Failed to apply transition, on"
    assert task["error"].startswith("BMC answered 500 Internal Server Error")
    assert "Fan controller fault" in task["error"]
    assert body["taskCounts"]["failed"] == 1 and body["taskCounts"]["succeeded"] == 0


def test_bmc_answering_4xx_fails_the_task_with_its_status(run, fleet):
    fleet.set_power("x1000c0s1b0", "Node1", "Off")
    fleet.set_fault("x1000c0s1b0", fault="status", status=400, message="Reset not allowed now")
    try:
        _, tasks = run("on", ["x1000c0s1b0n1"])
    finally:
        fleet.clear_fault("x1000c0s1b0")
    assert tasks["x1000c0s1b0n1"]["taskStatus"] == "failed"
    assert tasks["x1000c0s1b0n1"]["error"].startswith("BMC answered 400 Bad Request")
    assert "Reset not allowed now" in tasks["x1000c0s1b0n1"]["error"]


def test_hanging_bmc_fails_the_task_with_a_timeout(run, fleet):
    fleet.set_fault("x1000c0s2b0", fault="hang")
    try:
        _, tasks = run("on", ["x1000c0s2b0n0"], timeout=60)
    finally:
        fleet.clear_fault("x1000c0s2b0")
    assert tasks["x1000c0s2b0n0"]["taskStatus"] == "failed"
    assert tasks["x1000c0s2b0n0"]["error"] == "No response from BMC within 2 s"


def test_bmc_that_is_down_fails_the_task_with_connection_refused(run, fleet):
    fleet.set_fault("x1000c0s3b0", fault="down")
    try:
        _, tasks = run("force-off", ["x1000c0s3b0n0"], timeout=60)
    finally:
        fleet.clear_fault("x1000c0s3b0")
    assert tasks["x1000c0s3b0n0"]["taskStatus"] == "failed"
    assert tasks["x1000c0s3b0n0"]["error"] == (
        f"Connection refused by BMC at {fleet.address(3)}")


def test_unparsable_uncontrollable_and_unknown_xnames_end_at_once(run):
    body, tasks = run("on", ["not-an-xname", "x1000c0s0b0n0p0", "x9999c0s0b0n0"])
    assert tasks["not-an-xname"] == {"xname": "not-an-xname", "taskStatus": "failed",
                                     "taskStatusDescription": "Failed to achieve transition",
                                     "error": "Invalid xname"}
    assert tasks["x1000c0s0b0n0p0"]["taskStatus"] == "unsupported"
    assert tasks["x1000c0s0b0n0p0"]["error"] == "No power control for component type Processor"
    assert tasks["x9999c0s0b0n0"]["error"] == "Missing xname"
    assert body["taskCounts"] == {"total": 3, "new": 0, "in-progress": 0, "failed": 2,
                                  "succeeded": 0, "un-supported": 1}


# Types of the hardware naming that have no power control, and names outside its ranges.
NO_POWER_CONTROL = {"x1000c0r0a0": "HSNAsic", "x3000b0": "CabinetBMC", "x1000c0t0": "CMMRectifier",
                    "x1000c0s0b0n0i0": "NodeNic", "x1000c0r0t0": "RouterTOR",
                    "x3000c0h1": "MgmtHLSwitchEnclosure", "x3000m0": "CabinetPDUController"}


def test_valid_names_without_power_control_are_unsupported_and_out_of_range_invalid(run):
    body, tasks = run("off", [*NO_POWER_CONTROL, "x1000c8s0b0n0", "x10000c0s0b0n0"])
    for xname, type_ in NO_POWER_CONTROL.items():
        assert tasks[xname] == {"xname": xname, "taskStatus": "unsupported",
                                "taskStatusDescription": "Failed to achieve transition",
                                "error": f"No power control for component type {type_}"}
    for xname in ("x1000c8s0b0n0", "x10000c0s0b0n0"):
        assert (tasks[xname]["taskStatus"], tasks[xname]["error"]) == ("failed", "Invalid xname")
    assert body["taskCounts"]["un-supported"] == len(NO_POWER_CONTROL)


def test_duplicate_locations_fold_into_one_task(run, fleet):
    fleet.set_power("x1000c0s4b0", "Node0", "Off")
    body, _ = run("on", ["x1000c0s4b0n0", "X1000C0S4B0N0", "x1000c0s4b0n0"])
    assert [t["xname"] for t in body["tasks"]] == ["x1000c0s4b0n0"]


def test_off_escalates_to_forceoff_when_graceful_shutdown_is_ignored(run, fleet, db):
    fleet.set_power("x1000c0s5b0", "Node0", "On")
    fleet.set_fault("x1000c0s5b0", fault="ignore", count=1)   # the GracefulShutdown
    try:
        body, tasks = run("off", ["x1000c0s5b0n0"], taskDeadlineMinutes=1)
    finally:
        fleet.clear_fault("x1000c0s5b0")
    assert tasks["x1000c0s5b0n0"]["taskStatus"] == "succeeded"
    assert tasks["x1000c0s5b0n0"]["taskStatusDescription"] == "Transition confirmed, forceoff"
    posts = [r.request_body["ResetType"] for r in exchanges_of(db, body["transitionID"],
                                                              "x1000c0s5b0n0")
             if r.method == "POST"]
    assert posts == ["GracefulShutdown", "ForceOff"]


def test_soft_off_times_out_without_escalating(run, fleet, db):
    fleet.set_power("x1000c0s5b0", "Node1", "On")
    fleet.set_fault("x1000c0s5b0", fault="ignore", count=1)
    try:
        body, tasks = run("soft-off", ["x1000c0s5b0n1"], taskDeadlineMinutes=1)
    finally:
        fleet.clear_fault("x1000c0s5b0")
    assert tasks["x1000c0s5b0n1"]["taskStatus"] == "failed"
    assert tasks["x1000c0s5b0n1"]["error"] == (
        "Timeout waiting for transition, gracefulshutdown. At the deadline the power state was "
        "still On; GracefulShutdown was sent once, the BMC's last answer: 204 (accepted)")
    posts = [r for r in exchanges_of(db, body["transitionID"], "x1000c0s5b0n1")
             if r.method == "POST"]
    assert len(posts) == 1


def test_hard_restart_powers_off_then_on(run, fleet, db):
    fleet.set_power("x1000c0s6b0", "Node0", "On")
    body, tasks = run("hard-restart", ["x1000c0s6b0n0"])
    assert tasks["x1000c0s6b0n0"]["taskStatusDescription"] == "Transition confirmed, on"
    posts = [r.request_body["ResetType"] for r in exchanges_of(db, body["transitionID"],
                                                              "x1000c0s6b0n0")
             if r.method == "POST"]
    assert posts == ["GracefulShutdown", "On"]


def test_restart_of_a_component_that_is_off_fails_with_wrong_state(run, fleet):
    fleet.set_power("x1000c0s6b0", "Node1", "Off")
    _, tasks = run("soft-restart", ["x1000c0s6b0n1"])
    assert tasks["x1000c0s6b0n1"] == {
        "xname": "x1000c0s6b0n1", "taskStatus": "failed",
        "taskStatusDescription": "Component must be in the On state for Soft-Restart",
        "error": "Component is in the wrong power state"}


def test_init_of_an_off_component_powers_it_on(run, fleet):
    fleet.set_power("x1000c0s7b0", "Node0", "Off")
    _, tasks = run("init", ["x1000c0s7b0n0"])
    assert tasks["x1000c0s7b0n0"]["taskStatusDescription"] == "Transition confirmed, on"


def test_deadline_zero_applies_without_confirming(run, fleet, db):
    fleet.set_power("x1000c0s7b0", "Node1", "On")
    body, tasks = run("force-off", ["x1000c0s7b0n1"], taskDeadlineMinutes=0)
    assert tasks["x1000c0s7b0n1"]["taskStatusDescription"] == (
        "Transition applied, forceoff. Not confirming.")
    methods = [r.purpose for r in exchanges_of(db, body["transitionID"], "x1000c0s7b0n1")]
    assert methods == ["gather", "apply"]


def test_state_not_reached_by_the_deadline_fails_with_timeout(run, fleet):
    fleet.set_power("x1000c1s0b0", "Node0", "Off")
    fleet.set_fault("x1000c1s0b0", fault="ignore", count=10)
    try:
        _, tasks = run("on", ["x1000c1s0b0n0"], taskDeadlineMinutes=3)
    finally:
        fleet.clear_fault("x1000c1s0b0")
    assert tasks["x1000c1s0b0n0"]["taskStatus"] == "failed"
    assert tasks["x1000c1s0b0n0"]["taskStatusDescription"] == "Failed to achieve transition"
    assert tasks["x1000c1s0b0n0"]["error"] == (
        "Timeout waiting for transition, on. At the deadline the power state was still Off; "
        "On was sent 3 times, the BMC's last answer: 204 (accepted)")


def test_many_nodes_in_one_transition_all_succeed(run, fleet):
    xnames = [f"x1000c1s{s}b0n{n}" for s in range(4, 8) for n in range(2)]   # BMCs 12..15
    for s in range(4, 8):
        for n in range(2):
            fleet.set_power(f"x1000c1s{s}b0", f"Node{n}", "Off")
    body, tasks = run("on", xnames)
    assert body["taskCounts"]["succeeded"] == len(xnames)
    assert {t["taskStatusDescription"] for t in tasks.values()} == {"Transition confirmed, on"}


def test_task_endpoint_shows_every_exchange_with_the_bmcs_answer(run, fleet, client):
    fleet.set_power("x1000c0s4b0", "Node1", "Off")
    fleet.set_fault("x1000c0s4b0", fault="status", status=500, message="Try later")
    try:
        body, _ = run("on", ["x1000c0s4b0n1"])
    finally:
        fleet.clear_fault("x1000c0s4b0")
    tid = body["transitionID"]
    detail = client.get(f"/v1/transitions/{tid}/tasks/x1000c0s4b0n1").get_json()
    assert detail["task"]["taskStatus"] == "failed"
    assert detail["task"]["attempts"] == 1
    post = [e for e in detail["exchanges"] if e["method"] == "POST"][0]
    assert post["requestBody"] == {"ResetType": "On"}
    assert post["statusCode"] == 500 and post["errorClass"] == "http"
    assert "Try later" in post["responseBody"] and "Try later" in post["error"]
    assert post["latencyMs"] >= 0 and post["sentAt"].endswith("Z")
    assert detail["page"] == {"offset": 0, "limit": 100, "total": len(detail["exchanges"])}
    paged = client.get(f"/v1/transitions/{tid}/tasks/x1000c0s4b0n1?limit=1&offset=1").get_json()
    assert len(paged["exchanges"]) == 1 and paged["exchanges"][0] == detail["exchanges"][1]
    assert client.get(f"/v1/transitions/{tid}/tasks/x1000c0s4b0n0").status_code == 404
    assert client.get(f"/v1/transitions/{tid}/tasks/x1000c0s4b0n1?limit=0").status_code == 400


def test_busy_bmc_is_asked_again_until_it_accepts(run, fleet, db):
    """409/503 mean the action was not applied: it is sent again, each refusal recorded."""
    import threading
    fleet.set_power("x1000c0s3b0", "Node1", "Off")
    fleet.set_fault("x1000c0s3b0", fault="status", status=503, message="BMC busy")
    threading.Timer(1.5, fleet.clear_fault, args=("x1000c0s3b0",)).start()
    body, tasks = run("on", ["x1000c0s3b0n1"])
    assert tasks["x1000c0s3b0n1"]["taskStatusDescription"] == "Transition confirmed, on"
    posts = [r.status_code for r in exchanges_of(db, body["transitionID"], "x1000c0s3b0n1")
             if r.method == "POST"]
    assert posts[0] == 503 and posts[-1] == 204 and len(posts) >= 2


def test_bmc_busy_past_the_deadline_fails_with_its_answer(run, fleet, db):
    fleet.set_power("x1000c0s3b0", "Node0", "Off")
    fleet.set_fault("x1000c0s3b0", fault="status", status=409, message="Operation in progress")
    try:
        body, tasks = run("on", ["x1000c0s3b0n0"], taskDeadlineMinutes=2)
    finally:
        fleet.clear_fault("x1000c0s3b0")
    task = tasks["x1000c0s3b0n0"]
    assert task["taskStatus"] == "failed"
    assert task["taskStatusDescription"] == "Failed to apply transition, on"
    assert task["error"].startswith("BMC answered 409 Conflict")
    posts = [r for r in exchanges_of(db, body["transitionID"], "x1000c0s3b0n0")
             if r.method == "POST"]
    # A pause of 2 x PCS_CONFIRM_INTERVAL_S (0.4 s here) within 2 s: a handful, not a flood.
    assert 2 <= len(posts) <= 8
