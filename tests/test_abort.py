"""DELETE /transitions/{id}: abort as PCS does it (API.md, Transitions)."""
from __future__ import annotations

import pytest

from harness import post_transition, wait_for, wait_transition

pytestmark = pytest.mark.integration


def test_abort_fails_unfinished_tasks_and_frees_their_components(client, fleet, worker):
    fleet.set_power("x1000c1s1b0", "Node0", "Off")
    # The On never shows: every send (and re-send) is answered and ignored until cleared.
    fleet.set_fault("x1000c1s1b0", fault="ignore", count=10)
    try:
        first = post_transition(client, "on", ["x1000c1s1b0n0"], taskDeadlineMinutes=-1)
        queued = post_transition(client, "on", ["x1000c1s1b0n0"])

        def confirming():
            task = client.get(f"/transitions/{first}").get_json()["tasks"][0]
            return task["taskStatusDescription"] == "Confirming successful transition, on"
        wait_for(confirming, timeout=20, what="the first On to be confirming")
        response = client.delete(f"/transitions/{first}")
        assert response.status_code == 202
        assert response.get_json() == {"abortStatus": "Accepted - abort initiated"}
        body = wait_transition(client, first, timeout=20)
        fleet.clear_fault("x1000c1s1b0")   # the queued On may now take effect
        assert body["transitionStatus"] == "aborted"
        assert body["tasks"][0] == {
            "xname": "x1000c1s1b0n0", "taskStatus": "failed", "error": "Transition aborted",
            "taskStatusDescription": "Aborted. Last status - Confirming successful transition, on"}
        # Aborting again is accepted; the next transition of the component runs.
        assert client.delete(f"/transitions/{first}").status_code == 202
        after = wait_transition(client, queued, timeout=30)
        assert after["tasks"][0]["taskStatusDescription"] == "Transition confirmed, on"
    finally:
        fleet.clear_fault("x1000c1s1b0")


def test_abort_of_a_completed_transition_is_a_400(client, fleet, worker):
    fleet.set_power("x1000c1s1b0", "Node1", "On")
    tid = post_transition(client, "on", ["x1000c1s1b0n1"])
    wait_transition(client, tid)
    response = client.delete(f"/transitions/{tid}")
    assert response.status_code == 400
    assert response.get_json()["detail"] == "Transition is already finished and cannot be aborted."


def test_abort_of_an_unknown_transition_is_a_404(client):
    response = client.delete("/transitions/6f0c3e0e-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert client.delete("/transitions/not-a-uuid").status_code == 400
