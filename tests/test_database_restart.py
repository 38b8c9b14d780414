"""Restarting PostgreSQL during a transition delays it but fails no task (a private embedded
PostgreSQL, never the machine's). Workers do not ping pooled connections before each
transaction: a step that meets a lost connection gives its task back and it runs again from what
was committed (pcs.queue.steps.Executor.run_step); a claim that meets one is tried once more."""
from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from harness import (Simulator, Worker, answers, free_port_block, post_transition,
                     wait_completed_reaping, wait_for)

pytestmark = pytest.mark.integration


@pytest.fixture
def private_postgres():
    from pcs.runtime.embedded import start_postgres
    # As root the server runs as its own account, which must reach the data directory.
    state_dir = Path(tempfile.mkdtemp(prefix="pcs-pg-restart-"))
    state_dir.chmod(0o711)
    port = free_port_block(1)
    server = start_postgres(state_dir, port)
    try:
        yield state_dir, port, server
    finally:
        server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def test_postgres_restart_mid_transition_fails_no_task(private_postgres, settings, scratch_dir):
    from pcs.api import create_app
    from pcs.runtime.embedded import start_postgres
    from pcs.runtime.migrate import upgrade
    state_dir, port, server = private_postgres
    upgrade(server.url)
    private = dataclasses.replace(settings, database_url=server.url,
                                  queue_name=f"pcs-pg-restart-{os.getpid()}",
                                  redispatch_after_s=3.0)
    sim = Simulator(bmcs=10, nodes_per_bmc=2, power_delay_s=1.0)
    worker = None
    try:
        client = create_app(private).test_client()
        for i in range(sim.bmcs):
            assert client.post("/v1/inventory/bmcs", json=sim.bmc_body(i)).status_code == 201
        worker = Worker(private.as_env(), scratch_dir / "pg-restart-worker.log", concurrency=8,
                        name="pgrestart")
        xnames = [f"{sim.bmc_body(i)['xname']}n{n}" for i in range(sim.bmcs) for n in range(2)]
        tid = post_transition(client, "on", xnames)
        wait_for(lambda: client.get(f"/transitions/{tid}").get_json()["taskCounts"][
            "in-progress"] >= 5, timeout=30, interval=0.05, what="tasks in progress")

        server.stop()
        assert not answers("127.0.0.1", port)
        time.sleep(2.0)
        server = start_postgres(state_dir, port)   # the fixture's stop() is idempotent
        assert worker.process.poll() is None, "the worker exited while the database was down"

        # The reaper takes back the tasks a lost connection stranded.
        body = wait_completed_reaping(client, private, tid, timeout=120)
    finally:
        if worker is not None:
            worker.stop()
        sim.stop()
        server.stop()
    assert body["taskCounts"]["succeeded"] == len(xnames), [
        (t["xname"], t["taskStatus"], t.get("error")) for t in body["tasks"]
        if t["taskStatus"] != "succeeded"]
    log = worker.log_path.read_text(errors="replace")
    assert "Internal error" not in log
