"""How steps reach the workers: several task IDs per message (PCS_STEP_BATCH), run in lockstep;
the bound on what one slow BMC can hold up (the batch's other tasks store and send without
waiting for it: pcs.queue.steps.SLOW_BMC_S); and the bound on what one BMC is sent at once (PCS_BMC_MAX_INFLIGHT: pcs.queue.scheduler.dispatch)."""
from __future__ import annotations

import time

import pytest

from harness import Simulator, Worker, post_transition, wait_transition

pytestmark = pytest.mark.integration


def run_with_worker(settings, client, xnames, log_path, concurrency=4, timeout=90.0):
    """One private worker runs an On of `xnames` to its end: (transition id, body, worker log)."""
    worker = Worker(settings.as_env(), log_path, concurrency=concurrency, name=log_path.stem)
    try:
        tid = post_transition(client, "on", xnames)
        body = wait_transition(client, tid, timeout=timeout)
    finally:
        worker.stop()
    return tid, body, log_path.read_text(errors="replace")


def test_a_silent_bmc_does_not_hold_up_the_rest_of_its_batch(private_stack_factory,
                                                              scratch_dir):
    settings, sim, client = private_stack_factory(
        Simulator(bmcs=4, nodes_per_bmc=2, power_delay_s=0.0), step_batch=8)
    xnames = [f"{sim.bmc_body(i)['xname']}n{n}" for i in range(4) for n in range(2)]
    silent = [x for x in xnames if x.startswith(sim.bmc_body(0)["xname"] + "n")]
    # Every read of the first BMC waits out the client's timeout (2 s, three tries).
    sim.set_fault(sim.bmc_body(0)["xname"], fault="hang", requests="all")
    tid, body, log = run_with_worker(settings, client, xnames, scratch_dir / "silent.log")
    # The batch's six healthy tasks went on without them and ended first; the silent ones
    # ran once each and quote their BMC's silence. Nothing is lost or doubled.
    ends = {t["xname"]: (t["taskStatus"], t.get("error", "")) for t in body["tasks"]}
    assert {x: ends[x][0] for x in xnames} == {
        x: "failed" if x in silent else "succeeded" for x in xnames}, ends
    assert {ends[x][1] for x in silent} == {"No response from BMC within 2 s"}
    finished = {x: client.get(f"/v1/transitions/{tid}/tasks/{x}").get_json() for x in xnames}
    for xname in silent:
        assert [e["errorClass"] for e in finished[xname]["exchanges"]] == ["timeout"] * 3
    assert max(finished[x]["task"]["finishedAt"] for x in xnames if x not in silent) < min(
        finished[x]["task"]["finishedAt"] for x in silent)
    assert "failed unexpectedly" not in log, log[-3000:]


def test_a_healthy_batch_runs_whole_in_one_message(private_stack_factory, scratch_dir):
    settings, sim, client = private_stack_factory(
        Simulator(bmcs=4, nodes_per_bmc=2, power_delay_s=0.0), step_batch=8)
    xnames = [f"{sim.bmc_body(i)['xname']}n{n}" for i in range(4) for n in range(2)]
    _, body, log = run_with_worker(settings, client, xnames, scratch_dir / "whole.log",
                                   timeout=60)
    assert body["taskCounts"]["succeeded"] == 8, body["taskCounts"]
    # Instant BMCs: each task ends in its first step. Eight tasks dispatched together travel in
    # one message (two if a dispatcher pass raced the API's), not eight.
    received = log.count("] received")   # the worker logs each message it receives
    assert 1 <= received <= 2, received


def test_a_bmc_is_never_sent_more_than_its_share_of_steps_at_once(private_stack_factory,
                                                                   scratch_dir):
    """PCS_BMC_MAX_INFLIGHT: four components behind one silent BMC, one task per message and
    threads to spare, yet never more than two requests outstanding at that BMC."""
    settings, sim, client = private_stack_factory(Simulator(bmcs=1, nodes_per_bmc=4),
                                                  step_batch=1, bmc_max_inflight=2)
    bmc = sim.bmc_body(0)["xname"]
    xnames = [f"{bmc}n{n}" for n in range(4)]
    # Each read waits out the client's 2 s timeout, so every request stays outstanding 2 s.
    sim.set_fault(bmc, fault="hang", requests="all")
    posted = time.time()   # the registration's discovery reads came before
    _, body, _ = run_with_worker(settings, client, xnames, scratch_dir / "inflight.log",
                                 concurrency=8)
    assert body["taskCounts"]["failed"] == 4, body["taskCounts"]
    arrivals = sorted(e["time"] for e in sim.log(bmc, since=posted) if e["method"] == "GET")
    assert len(arrivals) == 12, len(arrivals)   # three tries of one read per task
    # A task's own tries are 2.2 s apart: more than two arrivals within 1.5 s would mean
    # more than two tasks' requests outstanding at once.
    most = max(sum(1 for t in arrivals if first <= t < first + 1.5) for first in arrivals)
    assert most <= 2, arrivals
