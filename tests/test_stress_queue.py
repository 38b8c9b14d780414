"""Many clients, overlapping transitions, a worker killed: the per-component queue holds
(issue: conflicting requests wait their turn). Runs PCS_STRESS_SECONDS (default 60)."""
from __future__ import annotations

import collections
import os
import random
import signal
import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import select

from harness import Simulator, Worker, wait_for
from pcs.models import Component, TransitionTask

pytestmark = pytest.mark.integration

CLIENTS = 20
SECONDS = float(os.environ.get("PCS_STRESS_SECONDS", "60"))
OPERATIONS = ["on", "off", "force-off", "soft-restart", "hard-restart", "init", "on", "force-off"]


@pytest.fixture
def stack(private_stack_factory, scratch_dir):
    settings, sim, client = private_stack_factory(
        Simulator(bmcs=100, nodes_per_bmc=2, power_delay_s=0.2))
    workers = [Worker(settings.as_env(), scratch_dir / f"stress-{i}.log", concurrency=16,
                      name=f"stress{i}") for i in range(2)]
    yield settings, sim, client, workers
    for worker in workers:
        worker.stop()


def test_overlapping_clients_never_interleave_on_a_component(stack, scratch_dir):
    settings, sim, client, workers = stack
    app = client.application
    nodes = [c["xname"] for c in client.get("/v1/inventory/components").get_json()["components"]
             if c["type"] == "Node"]
    assert len(nodes) == 200
    stop_at = time.monotonic() + SECONDS
    posted, errors = [], []

    def patiently(request, *args, **kwargs):
        """A well-behaved client: a 503 (the database's connections all taken, say) is asked
        again after its Retry-After; anything else is returned."""
        for _ in range(20):
            response = request(*args, **kwargs)
            if response.status_code != 503:
                break
            assert response.headers["Retry-After"]
            time.sleep(1.0)
        return response

    def one_client(seed: int) -> None:
        rng = random.Random(seed)
        own = app.test_client()
        while time.monotonic() < stop_at:
            body = {"operation": rng.choice(OPERATIONS), "taskDeadlineMinutes": 20,
                    "location": [{"xname": x} for x in rng.sample(nodes, rng.randint(3, 12))]}
            response = patiently(own.post, "/transitions", json=body)
            if response.status_code != 200:
                errors.append(response.get_json())
                return
            tid = response.get_json()["transitionID"]
            posted.append(tid)
            # Like a script that waits for its own work, while 19 others keep coming.
            while time.monotonic() < stop_at + 120:
                status = patiently(own.get, f"/transitions/{tid}").get_json()
                if "transitionStatus" not in status:
                    errors.append(status)
                    return
                if status["transitionStatus"] == "completed":
                    break
                time.sleep(0.3)

    from pcs.broker import Publisher
    publisher = Publisher(settings)
    reaping = threading.Event()

    def beat() -> None:   # what celery beat does in production
        while not reaping.wait(2.0):
            publisher.celery.send_task("pcs.reap", queue=settings.queue_name)

    threads = [threading.Thread(target=one_client, args=(i,)) for i in range(CLIENTS)]
    threads.append(threading.Thread(target=beat))
    for t in threads:
        t.start()
    time.sleep(min(20.0, SECONDS / 3))
    workers[0].process.send_signal(signal.SIGKILL)   # mid-run, once
    for t in threads[:-1]:
        t.join(SECONDS + 240)
    db = app.extensions["pcs"].db
    try:
        wait_for(lambda: _unfinished(db) == 0, timeout=180, interval=1.0,
                 what="every task to end")
    finally:
        reaping.set()
        threads[-1].join(10)
    assert not errors, errors[:3]
    assert len(posted) >= CLIENTS
    assert client.get("/v1/queue").get_json() == {"queues": []}
    _assert_bmc_saw_queue_order(db, sim)


def _unfinished(db) -> int:
    with db.transaction() as s:
        return len(s.scalars(select(TransitionTask.id).where(
            TransitionTask.state.in_(("queued", "ready", "dispatched", "running",
                                      "deferred")))).all())


def _assert_bmc_saw_queue_order(db, sim) -> None:
    """Each reset the BMC applied falls inside exactly one task's claim-to-finish window on its
    component, and those tasks follow the queue order (sequence numbers never go back)."""
    with db.transaction() as s:
        rows = s.execute(select(TransitionTask.xname, TransitionTask.seq,
                                TransitionTask.started_at, TransitionTask.finished_at,
                                Component.redfish_path)
                         .join(Component, Component.id == TransitionTask.component_id)
                         .where(TransitionTask.started_at.is_not(None))).all()
    windows = collections.defaultdict(list)
    for r in rows:
        windows[(r.xname[:r.xname.rindex("n")], r.redfish_path)].append(
            (r.seq, r.started_at.timestamp(), r.finished_at.timestamp()))
    resets = collections.defaultdict(list)
    for e in sim.log():
        if e["method"] == "POST" and 200 <= e["status"] < 300 and "Systems" in e["path"]:
            resets[(e["bmc"], e["path"].split("/Actions/")[0])].append(e["time"])
    assert sum(len(t) for t in resets.values()) >= 100, "too little work reached the BMCs"
    for key, times in resets.items():
        spans = windows[key]
        order = []
        for t in sorted(times):
            owners = [seq for seq, start, end in spans if start <= t <= end]
            assert len(owners) == 1, (key, datetime.fromtimestamp(t), owners)
            order.append(owners[0])
        assert order == sorted(order), (key, order)
