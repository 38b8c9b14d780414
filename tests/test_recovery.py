"""A worker killed mid-transition: another worker finishes its tasks, none lost, none applied
twice (DESIGN.md invariant 3: the reaper takes back tasks whose lease expired)."""
from __future__ import annotations

import collections
import dataclasses
import signal
import uuid

import pytest

from harness import Simulator, Worker, admin_execute, post_transition, wait_for, with_database

pytestmark = pytest.mark.integration


@pytest.fixture
def private_stack(server_urls, settings, scratch_dir):
    """Its own database, queue and simulator, so that no other worker takes its tasks."""
    from pcs.api import create_app
    from pcs.migrate import upgrade
    name = f"pcs_recovery_{uuid.uuid4().hex[:8]}"
    admin_execute(server_urls[0], f'CREATE DATABASE "{name}"')
    url = with_database(server_urls[0], name)
    upgrade(url)
    private = dataclasses.replace(settings, database_url=url, lease_s=4.0,
                                  queue_name=f"pcs-recovery-{uuid.uuid4().hex[:6]}")
    sim = Simulator(bmcs=20, nodes_per_bmc=2, power_delay_s=1.0)
    app = create_app(private)
    client = app.test_client()
    for i in range(sim.bmcs):
        assert client.post("/v1/inventory/bmcs", json=sim.bmc_body(i)).status_code == 201
    yield private, sim, client
    app.extensions["pcs"].db.dispose()
    sim.stop()
    admin_execute(server_urls[0], f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
        from pcs.broker import Publisher
        publisher = Publisher(settings)

        def finished():
            # Beat's job in production: run the reaper until everything has ended.
            publisher.celery.send_task("pcs.reap", queue=settings.queue_name)
            body = client.get(f"/transitions/{tid}").get_json()
            return body if body["transitionStatus"] == "completed" else None
        body = wait_for(finished, timeout=90, interval=1.0, what="the transition to complete")
    finally:
        victim.stop()
        if survivor:
            survivor.stop()
    assert body["taskCounts"]["succeeded"] == len(xnames)
    assert {t["taskStatusDescription"] for t in body["tasks"]} == {"Transition confirmed, on"}
    resets = collections.Counter(
        (e["bmc"], e["path"]) for e in sim.log() if e["method"] == "POST")
    assert len(resets) == len(xnames)
    assert max(resets.values()) == 1, [k for k, v in resets.items() if v > 1]
