"""Each BMC fault the simulator can inject, through the whole service: the task ends with the
right status, its error names the fault, and its exchanges show every request made, bounded as
configured (tests' settings: PCS_RESEND_LIMIT 2, PCS_RESEND_AFTER_S 0.6, action timeout 2 s,
a one-second minute)."""
from __future__ import annotations

import pytest

from harness import post_transition, wait_transition

BMC = "x1000c1s4b0"          # used by no other test file
NODE0, NODE1 = f"{BMC}n0", f"{BMC}n1"


@pytest.fixture
def sim(fleet, worker):
    fleet.set_power(BMC, "Node0", "Off")
    fleet.set_power(BMC, "Node1", "Off")
    yield fleet
    fleet.clear_fault(BMC)


def run(client, operation, xnames, deadline_minutes=5, timeout=60.0):
    transition_id = post_transition(client, operation, xnames,
                                    taskDeadlineMinutes=deadline_minutes)
    body = wait_transition(client, transition_id, timeout=timeout)
    return transition_id, {t["xname"]: t for t in body["tasks"]}


def detail(client, transition_id, xname) -> dict:
    response = client.get(f"/v1/transitions/{transition_id}/tasks/{xname}?limit=500")
    assert response.status_code == 200
    return response.get_json()


def sent(body: dict, method: str = "POST") -> list[dict]:
    return [e for e in body["exchanges"] if e["method"] == method]


def test_ignored_on_is_sent_again_and_succeeds(client, sim):
    sim.set_fault(BMC, fault="ignore", count=1)
    tid, tasks = run(client, "on", [NODE0])
    assert tasks[NODE0]["taskStatus"] == "succeeded"
    body = detail(client, tid, NODE0)
    assert [(e["purpose"], e["statusCode"]) for e in sent(body)] == [("apply", 204),
                                                                      ("resend", 204)]
    assert body["task"]["resends"] == 1


def test_500_fails_at_once_quoting_the_bmc(client, sim):
    sim.set_fault(BMC, fault="status", status=500, message="Fan controller fault")
    tid, tasks = run(client, "on", [NODE0])
    assert tasks[NODE0]["taskStatus"] == "failed"
    assert tasks[NODE0]["taskStatusDescription"] == "Failed to apply transition, on"
    assert tasks[NODE0]["error"] == (
        "BMC answered 500 Internal Server Error: GeneralError: Fan controller fault")
    assert len(sent(detail(client, tid, NODE0))) == 1     # an action is never retried blindly


def test_503_with_retry_after_is_sent_again_after_it(client, sim):
    sim.set_fault(BMC, fault="status", status=503, retry_after=1, count=2,
                  message="BMC busy")
    tid, tasks = run(client, "on", [NODE0])
    assert tasks[NODE0]["taskStatus"] == "succeeded"
    posts = sent(detail(client, tid, NODE0))
    assert [e["statusCode"] for e in posts] == [503, 503, 204]


def test_409_is_sent_again_after_a_pause(client, sim):
    sim.set_fault(BMC, fault="status", status=409, count=1, message="Reset in progress")
    tid, tasks = run(client, "on", [NODE0])
    assert tasks[NODE0]["taskStatus"] == "succeeded"
    assert [e["statusCode"] for e in sent(detail(client, tid, NODE0))] == [409, 204]


def test_a_bmc_busy_beyond_the_deadline_fails_quoting_it_after_bounded_tries(client, sim):
    sim.set_fault(BMC, fault="status", status=503, message="BMC busy")
    tid, tasks = run(client, "on", [NODE0], deadline_minutes=3)
    assert tasks[NODE0]["taskStatus"] == "failed"
    assert tasks[NODE0]["error"] == (
        "BMC answered 503 Service Unavailable: GeneralError: BMC busy")
    posts = sent(detail(client, tid, NODE0))
    assert 2 <= len(posts) <= 8 and {e["statusCode"] for e in posts} == {503}


def test_401_fails_at_once_as_an_authentication_error(client, sim):
    sim.set_fault(BMC, fault="status", status=401, requests="all", message="Bad credentials")
    tid, tasks = run(client, "on", [NODE0])
    assert tasks[NODE0]["taskStatus"] == "failed"
    assert tasks[NODE0]["error"].startswith(
        "Authentication with the BMC failed (check its username and password): "
        "BMC answered 401 Unauthorized")
    body = detail(client, tid, NODE0)
    assert [(e["method"], e["statusCode"], e["errorClass"]) for e in body["exchanges"]] == [
        ("GET", 401, "auth")]


def test_a_refused_reset_type_fails_with_the_bmcs_reason(client, sim):
    sim.set_fault(BMC, fault="refuse", reset_types=["On"])
    tid, tasks = run(client, "on", [NODE0])
    assert tasks[NODE0]["taskStatus"] == "failed"
    assert tasks[NODE0]["error"].startswith(
        "BMC answered 400 Bad Request: ActionParameterNotSupported:")
    assert "'On'" in tasks[NODE0]["error"]
    assert len(sent(detail(client, tid, NODE0))) == 1


def test_a_hung_action_is_not_repeated_blindly_and_the_state_decides(client, sim):
    sim.set_fault(BMC, fault="hang", requests="actions")
    tid, tasks = run(client, "on", [NODE0], deadline_minutes=12)
    assert tasks[NODE0]["taskStatus"] == "failed"
    error = tasks[NODE0]["error"]
    assert error.startswith("Timeout waiting for transition, on. At the deadline the power "
                            "state was still Off; On was sent 3 times")
    assert error.endswith("the BMC's last answer: No response from BMC within 2 s")
    posts = sent(detail(client, tid, NODE0))
    assert [e["errorClass"] for e in posts] == ["timeout"] * 3     # 1 + PCS_RESEND_LIMIT


def test_a_bmc_that_never_answers_fails_with_the_transport_error(client, sim):
    sim.set_fault(BMC, fault="hang", requests="all")
    tid, tasks = run(client, "on", [NODE0])
    assert tasks[NODE0]["taskStatus"] == "failed"
    assert tasks[NODE0]["error"] == "No response from BMC within 2 s"
    gets = sent(detail(client, tid, NODE0), "GET")
    assert [e["errorClass"] for e in gets] == ["timeout"] * 3      # a read is retried twice
    assert sent(detail(client, tid, NODE0)) == []


def test_a_closed_connection_on_the_action_is_judged_by_the_state(client, sim):
    sim.set_fault(BMC, fault="close", requests="actions")
    tid, tasks = run(client, "on", [NODE0], deadline_minutes=4)
    assert tasks[NODE0]["taskStatus"] == "failed"
    assert "closed the connection without answering" in tasks[NODE0]["error"]
    assert "On was sent 3 times" in tasks[NODE0]["error"]
    posts = sent(detail(client, tid, NODE0))
    assert [e["errorClass"] for e in posts] == ["connection"] * 3


def test_a_slow_bmc_in_motion_is_waited_for_not_sent_again(client, sim):
    sim.set_fault(BMC, fault="slow", delay=3)
    tid, tasks = run(client, "on", [NODE0])
    assert tasks[NODE0]["taskStatus"] == "succeeded"
    body = detail(client, tid, NODE0)
    assert len(sent(body)) == 1         # PoweringOn for 3 s, far past PCS_RESEND_AFTER_S
    states = [e["responseBody"] for e in sent(body, "GET") if e["purpose"] == "confirm"]
    assert any('"PoweringOn"' in s for s in states)


def test_a_power_on_that_falls_back_to_off_fails_naming_it(client, sim):
    sim.set_fault(BMC, fault="fallback", after=0)
    tid, tasks = run(client, "on", [NODE0])
    assert tasks[NODE0]["taskStatus"] == "failed"
    # Said at once when a read caught the fall, else at the deadline after upstream's words.
    assert tasks[NODE0]["error"].endswith(
        "The power state began to change after On and went back to Off (On was sent 3 times)")
    assert len(sent(detail(client, tid, NODE0))) == 3


def test_a_202_task_monitor_is_followed_until_the_task_completes(client, sim):
    sim.set_fault(BMC, fault="task", duration=1)
    tid, tasks = run(client, "on", [NODE0])
    assert tasks[NODE0]["taskStatus"] == "succeeded"
    assert tasks[NODE0]["taskStatusDescription"] == "Transition confirmed, on"
    body = detail(client, tid, NODE0)
    assert [e["statusCode"] for e in sent(body)] == [202]
    monitor = [e for e in body["exchanges"] if e["purpose"] == "monitor"]
    assert monitor and monitor[0]["path"].startswith("/redfish/v1/TaskService/Tasks/")
    assert [e["statusCode"] for e in monitor][-1] == 200
    assert set(e["statusCode"] for e in monitor[:-1]) <= {202}


def test_a_202_task_that_ends_in_exception_fails_quoting_it(client, sim):
    sim.set_fault(BMC, fault="task", duration=0.5, outcome="exception",
                  message="Power supply fault during power-on")
    tid, tasks = run(client, "on", [NODE0])
    assert tasks[NODE0]["taskStatus"] == "failed"
    assert tasks[NODE0]["taskStatusDescription"] == "Failed to apply transition, on"
    assert tasks[NODE0]["error"].startswith("BMC task ")
    assert "ended Exception" in tasks[NODE0]["error"]
    assert "Power supply fault during power-on" in tasks[NODE0]["error"]
    assert len(sent(detail(client, tid, NODE0))) == 1


def test_a_fault_on_one_node_leaves_its_sibling_alone(client, sim):
    sim.set_fault(NODE1, fault="status", status=500, message="Node1 fault")
    tid, tasks = run(client, "on", [NODE0, NODE1])
    assert tasks[NODE0]["taskStatus"] == "succeeded"
    assert tasks[NODE1]["taskStatus"] == "failed"
    assert tasks[NODE1]["error"] == "BMC answered 500 Internal Server Error: GeneralError: Node1 fault"
