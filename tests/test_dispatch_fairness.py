"""A transition larger than the dispatch budget whose tasks wait for an earlier tier still
finishes: waiting tasks re-checked every interval must not take every message slot from the
tasks that have to finish that tier."""
from __future__ import annotations

from harness import Simulator, Worker, post_transition, wait_transition


def test_hard_restart_larger_than_the_dispatch_budget_completes(private_stack_factory,
                                                                scratch_dir):
    settings, sim, client = private_stack_factory(
        Simulator(bmcs=30, nodes_per_bmc=2, power_delay_s=0.5), max_dispatched=8)
    xnames = [f"{sim.bmc_body(i)['xname']}n{n}" for i in range(sim.bmcs) for n in range(2)]
    for i in range(sim.bmcs):
        for n in range(2):
            sim.set_power(sim.bmc_body(i)["xname"], f"Node{n}", "On")
    worker = Worker(settings.as_env(), scratch_dir / "fairness-worker.log", concurrency=8,
                    name="fairness")
    try:
        body = wait_transition(client, post_transition(client, "hard-restart", xnames),
                               timeout=180)
    finally:
        worker.stop()
    assert body["transitionStatus"] == "completed"
    assert body["taskCounts"]["succeeded"] == 60, body["taskCounts"]
