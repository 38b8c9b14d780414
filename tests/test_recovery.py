"""A worker killed mid-transition: another worker finishes its tasks, none lost, none applied
twice (DESIGN.md invariant 3: the reaper takes back tasks whose lease expired)."""
from __future__ import annotations

import collections
import signal

import pytest

from harness import Simulator, Worker, post_transition, wait_completed_reaping, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def private_stack(private_stack_factory):
    # Short timeouts make a short lease possible (a lease never ends before a step could).
    return private_stack_factory(Simulator(bmcs=20, nodes_per_bmc=2, power_delay_s=1.0),
                                 lease_s=1.0, status_timeout_s=1.0, action_timeout_s=1.0)


def test_sigkilled_worker_loses_no_task_and_applies_nothing_twice(private_stack, scratch_dir):
    settings, sim, client = private_stack
    victim = Worker(settings.as_env(), scratch_dir / "victim.log", concurrency=8, name="victim")
    survivor = None
    try:
        xnames = [f"{sim.bmc_body(i)['xname']}n{n}" for i in range(sim.bmcs) for n in range(2)]
        tid = post_transition(client, "on", xnames)

        def some_started():
            body = client.get(f"/transitions/{tid}").get_json()
            return body["taskCounts"]["in-progress"] + body["taskCounts"]["succeeded"] >= 5
        wait_for(some_started, timeout=30, what="work to start on the victim")
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        survivor = Worker(settings.as_env(), scratch_dir / "survivor.log", concurrency=8,
                          name="survivor")
        body = wait_completed_reaping(client, settings, tid)
    finally:
        victim.stop()
        if survivor:
            survivor.stop()
    assert body["taskCounts"]["succeeded"] == len(xnames), [
        t for t in body["tasks"] if t["taskStatus"] != "succeeded"]
    assert {t["taskStatusDescription"] for t in body["tasks"]} == {"Transition confirmed, on"}
    # Resets the BMCs applied (a request cut off by the kill never reached the reset handler).
    resets = collections.Counter(
        (e["bmc"], e["path"]) for e in sim.log()
        if e["method"] == "POST" and 200 <= e["status"] < 300)
    assert len(resets) == len(xnames)
    twice = [k for k, v in resets.items() if v > 1]
    assert not twice, [e for e in sim.log() if (e["bmc"], e["path"]) in twice]
