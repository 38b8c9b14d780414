"""Scale out: a second worker process started while a transition runs takes part of the load
with nothing changed but starting it (a second host in production: same broker, same database)."""
from __future__ import annotations

import re

from harness import Simulator, Worker, post_transition, wait_transition

STEP_DONE = re.compile(rb"Task pcs\.run_steps\[[0-9a-f-]+\] succeeded")


def test_a_worker_started_mid_transition_shares_the_work(private_stack_factory, scratch_dir):
    # BMCs taking 5 s: the confirmation reads go on well after the second worker is up (with
    # 1 s ones the first worker could finish all 200 nodes before the second one started).
    settings, sim, client = private_stack_factory(
        Simulator(bmcs=100, nodes_per_bmc=2, power_delay_s=5.0))
    first = Worker(settings.as_env(), scratch_dir / "scale-first.log", concurrency=4,
                   name="first")
    second = None
    try:
        xnames = [f"{sim.bmc_body(i)['xname']}n{n}" for i in range(sim.bmcs) for n in range(2)]
        # Tests count a minute as a second: 30 leaves the 5 s BMCs time to be confirmed.
        tid = post_transition(client, "on", xnames, taskDeadlineMinutes=30)
        second = Worker(settings.as_env(), scratch_dir / "scale-second.log", concurrency=4,
                        name="second")
        body = wait_transition(client, tid, timeout=240)
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert body["taskCounts"]["succeeded"] == 200, body["taskCounts"]
    steps_first = len(STEP_DONE.findall(first.log_path.read_bytes()))
    steps_second = len(STEP_DONE.findall(second.log_path.read_bytes()))
    # Every task takes at least one step, a message carries PCS_STEP_BATCH steps at most; both
    # processes ran a share of the messages.
    assert steps_first > 0 and steps_second > 0, (steps_first, steps_second)
    assert steps_first + steps_second >= 200 / settings.step_batch
