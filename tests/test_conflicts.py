"""onConflict, administrator locks, queue inspection and the queue timeout (API.md part 2)."""
from __future__ import annotations


import pytest

from harness import post_transition, wait_for, wait_transition

pytestmark = pytest.mark.integration

HOLD = "x1000c1s0b0"   # tests here hold its Node1 with an On the BMC ignores


@pytest.fixture
def held(client, fleet, worker):
    """A transition that holds x1000c1s0b0n1 (the BMC ignores its On; no deadline)."""
    fleet.set_power(HOLD, "Node1", "Off")
    fleet.set_fault(HOLD, fault="ignore", count=1)
    tid = post_transition(client, "on", [f"{HOLD}n1"], taskDeadlineMinutes=-1)

    def confirming():
        task = client.get(f"/transitions/{tid}").get_json()["tasks"][0]
        return task["taskStatus"] == "in-progress"
    wait_for(confirming, timeout=20, what="the holder to run")
    yield tid
    client.delete(f"/transitions/{tid}")
    fleet.clear_fault(HOLD)
    wait_transition(client, tid)


def test_on_conflict_fail_refuses_a_busy_component(client, held):
    tid = post_transition(client, "off", [f"{HOLD}n1"], onConflict="fail")
    task = wait_transition(client, tid)["tasks"][0]
    assert task == {"xname": f"{HOLD}n1", "taskStatus": "failed",
                    "taskStatusDescription": "Failed to achieve transition",
                    "error": "Unable to reserve component"}


def test_queued_task_names_its_holder_and_position(client, held):
    second = post_transition(client, "force-off", [f"{HOLD}n1"])
    third = post_transition(client, "on", [f"{HOLD}n1"])
    for tid, position in ((second, 1), (third, 2)):
        task = client.get(f"/transitions/{tid}").get_json()["tasks"][0]
        assert task["taskStatus"] == "new"
        assert task["taskStatusDescription"] == (
            f"Queued behind transition {held} (position {position})")
    queue = client.get(f"/v1/queue/{HOLD}n1").get_json()
    assert queue["active"]["transitionID"] == held
    assert queue["active"]["taskStatus"] == "in-progress"
    assert queue["active"]["runningSeconds"] >= 0
    assert [(q["transitionID"], q["position"], q["operation"]) for q in queue["queued"]] == [
        (second, 1, "Force-Off"), (third, 2, "On")]
    listed = client.get("/v1/queue", query_string={"xname": "x1000c1s0b0n[0-1]"}).get_json()
    assert [q["xname"] for q in listed["queues"]] == [f"{HOLD}n1"]
    for tid in (second, third):
        client.delete(f"/transitions/{tid}")


def test_queue_of_an_idle_component_is_empty_and_unknown_is_404(client, fleet):
    assert client.get("/v1/queue/x1000c0s7b0n1").get_json() == {
        "xname": "x1000c0s7b0n1", "active": None, "queued": []}
    assert client.get("/v1/queue/x1000c7s9b0n0").status_code == 404
    assert client.get("/v1/queue/garbage").status_code == 400


def test_locked_component_fails_at_once_until_unlocked(client, fleet, worker):
    fleet.set_power("x1000c0s7b0", "Node1", "Off")
    response = client.post("/v1/locks", json={"xnames": ["x1000c0s7b0n1"],
                                              "reason": "fan replacement"})
    assert response.status_code == 200
    assert response.get_json()["locks"][0]["reason"] == "fan replacement"
    try:
        assert [lk["xname"] for lk in client.get("/v1/locks").get_json()["locks"]] == [
            "x1000c0s7b0n1"]
        task = wait_transition(client, post_transition(client, "on", ["x1000c0s7b0n1"]))[
            "tasks"][0]
        assert task["error"] == "Unable to reserve component"
    finally:
        assert client.delete("/v1/locks/x1000c0s7b0n1").status_code == 204
    assert client.delete("/v1/locks/x1000c0s7b0n1").status_code == 404
    task = wait_transition(client, post_transition(client, "on", ["x1000c0s7b0n1"]))["tasks"][0]
    assert task["taskStatusDescription"] == "Transition confirmed, on"


def test_lock_request_with_bad_xnames_is_a_400(client):
    response = client.post("/v1/locks", json={"xnames": ["x1000c0s7b0n1", "junk"]})
    assert response.status_code == 400
    assert response.get_json()["detail"] == "invalid xnames detected: junk"
    assert client.post("/v1/locks", json={"xnames": []}).status_code == 400


def test_task_queued_too_long_fails_naming_the_holder(client, held, db, settings):
    from pcs.queue import scheduler
    waiting = post_transition(client, "force-off", [f"{HOLD}n1"])
    with db.transaction() as s:
        ended = scheduler.time_out_queued(s, scheduler.utcnow())
    assert ended == 1
    task = wait_transition(client, waiting)["tasks"][0]
    assert task["taskStatus"] == "failed"
    assert task["error"] == f"Timed out in queue behind transition {held}"


def test_deputy_key_is_kept_on_the_task(client, fleet, worker, db):
    from sqlalchemy import select

    from pcs.models import TransitionTask
    key = "3b1c1f1e-6a4e-4f3a-9d62-0d7a4b9e2c11"
    fleet.set_power("x1000c0s7b0", "Node0", "On")
    response = client.post("/transitions", json={
        "operation": "on", "location": [{"xname": "x1000c0s7b0n0", "deputyKey": key}]})
    tid = response.get_json()["transitionID"]
    wait_transition(client, tid)
    with db.transaction() as s:
        stored = s.scalar(select(TransitionTask.deputy_key)
                          .where(TransitionTask.transition_id == tid))
    assert stored == key
