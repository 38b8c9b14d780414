"""Restarting Redis during a transition delays it but loses nothing (DESIGN.md invariant 3: the
reaper re-sends for runnable tasks whose message was lost with a broker restart; "Bounded broker
depth": what is not yet dispatched waits in PostgreSQL, not in Redis).

The broker is a private `redis-server` without persistence, so a restart loses every queued and
unacknowledged message: the worst case. The worker must reconnect by itself.
"""
from __future__ import annotations

import collections
import shutil
import signal
import subprocess
import time

import pytest
import redis

from harness import Simulator, Worker, answers, free_port_block, post_transition, wait_for

pytestmark = pytest.mark.integration


class PrivateRedis:
    """A throw-away `redis-server` on 127.0.0.1:<port>: no RDB, no AOF, so a restart is empty."""

    def __init__(self, port: int, workdir, log_path):
        self.port, self.workdir, self.log_path = port, workdir, log_path
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None
        self._log = open(log_path, "ab")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)
        wait_for(lambda: self._answers_ping() or self.process.poll() is not None, timeout=10,
                 what=f"redis-server on port {self.port}")
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited: {self.log_path.read_text()[-2000:]}")

    def _answers_ping(self) -> bool:
        try:
            return redis.Redis(port=self.port, socket_timeout=1,
                               socket_connect_timeout=1).ping()
        except redis.RedisError:
            return False

    def keys(self) -> int:
        return redis.Redis(port=self.port, socket_timeout=2).dbsize()

    def stop(self) -> None:
        """SIGTERM: with `--save ""` nothing is written; everything in memory is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def close(self) -> None:
        self.stop()
        self._log.close()


@pytest.fixture
def private_redis(scratch_dir):
    port = free_port_block(1)
    assert port != 6379
    server = PrivateRedis(port, scratch_dir / f"redis-{port}", scratch_dir / f"redis-{port}.log")
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def private_stack(private_stack_factory, private_redis):
    return private_stack_factory(Simulator(bmcs=10, nodes_per_bmc=2, power_delay_s=1.0),
                                 broker_url=private_redis.url, redispatch_after_s=3.0)


def test_redis_restart_mid_transition_delays_but_loses_nothing(private_stack, private_redis,
                                                               scratch_dir):
    settings, sim, client = private_stack
    assert settings.broker_url == private_redis.url
    log_path = scratch_dir / f"broker-restart-worker-{private_redis.port}.log"
    worker = Worker(settings.as_env(), log_path, concurrency=8, name="restart")
    try:
        xnames = [f"{sim.bmc_body(i)['xname']}n{n}" for i in range(sim.bmcs) for n in range(2)]
        tid = post_transition(client, "on", xnames)

        def some_in_progress():
            body = client.get(f"/transitions/{tid}").get_json()
            return body if body["taskCounts"]["in-progress"] >= 5 else None
        body = wait_for(some_in_progress, timeout=30, interval=0.05,
                        what="tasks to be in progress")

        # The broker goes away with every message in it, and comes back empty.
        private_redis.stop()
        assert not answers("127.0.0.1", private_redis.port)
        at_stop = client.get(f"/transitions/{tid}").get_json()
        assert at_stop["transitionStatus"] != "completed", "the restart came too late to matter"
        time.sleep(2.0)
        private_redis.start()
        assert worker.process.poll() is None, (
            "the worker exited while the broker was down; its log ends:\n"
            + log_path.read_text(errors="replace")[-4000:])

        from pcs.broker import Publisher
        publisher = Publisher(settings)
        sends = collections.Counter()

        def finished():
            # Beat's job in production: run the reaper until everything has ended.
            try:
                publisher.celery.send_task("pcs.reap", queue=settings.queue_name)
                sends["ok"] += 1
            except Exception:  # the broker may still be coming back: beat would try again
                sends["failed"] += 1
            body = client.get(f"/transitions/{tid}").get_json()
            return body if body["transitionStatus"] == "completed" else None
        try:
            body = wait_for(finished, timeout=90, interval=1.0, what="the transition to complete")
        except AssertionError as exc:
            now = client.get(f"/transitions/{tid}").get_json()
            raise AssertionError(
                f"{exc}: taskCounts={now['taskCounts']}, reap sends={dict(sends)}, "
                f"worker alive={worker.process.poll() is None}; worker log tail:\n"
                f"{log_path.read_text(errors='replace')[-3000:]}") from None
    finally:
        worker.stop()

    assert body["taskCounts"]["succeeded"] == len(xnames), [
        t for t in body["tasks"] if t["taskStatus"] != "succeeded"]
    assert {t["taskStatusDescription"] for t in body["tasks"]} == {"Transition confirmed, on"}
    # Exactly one applied reset per node: nothing lost, nothing applied twice.
    entries = sim.log()
    resets = collections.Counter(
        (e["bmc"], e["path"]) for e in entries
        if e["method"] == "POST" and 200 <= e["status"] < 300)
    assert len(resets) == len(xnames), resets
    twice = [k for k, v in resets.items() if v > 1]
    assert not twice, [e for e in entries if (e["bmc"], e["path"]) in twice]
