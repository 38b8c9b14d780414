"""The Celery app as a publisher of task IDs. pcs never imports workers: tasks go by name."""
from __future__ import annotations

import logging

import redis
from celery import Celery

from pcs.config import Settings
from pcs.errors import BrokerUnavailable

log = logging.getLogger(__name__)

RUN_STEPS = "pcs.run_steps"
RUN_CAP_STEPS = "pcs.run_cap_steps"
REAP = "pcs.reap"
SWEEP = "pcs.sweep"


def make_celery(settings: Settings) -> Celery:
    """The one Celery configuration, shared by publishers, workers, beat and Flower."""
    app = Celery("pcs", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json", accept_content=["json"], result_backend=None,
        task_ignore_result=True, task_acks_late=True, worker_prefetch_multiplier=1,
        # Task events cost about 1 ms per message; Flower turns them on in the workers it
        # watches (`pcs up` also starts the worker with -E).
        task_default_queue=settings.queue_name, broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 300, "socket_timeout": 5,
                                  "socket_connect_timeout": 5},
        broker_pool_limit=16, worker_hijack_root_logger=False,
        # A step whose broker connection drops finishes its database writes; its message is
        # redelivered or re-sent by the reaper, and the claim makes a second run harmless.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        beat_schedule={
            "reap": {"task": REAP, "schedule": settings.reap_interval_s,
                     "options": {"queue": settings.queue_name, "expires": 60}},
            # A sweep that outlasts the interval is not doubled: the sweeper holds a lock.
            "sweep": {"task": SWEEP, "schedule": settings.power_sample_interval_s,
                      "options": {"queue": settings.queue_name,
                                  "expires": settings.power_sample_interval_s}}},
    )
    return app


class Publisher:
    """Sends task IDs after the commit that made them runnable (DESIGN.md invariant 3)."""

    def __init__(self, settings: Settings, celery: Celery | None = None):
        self.settings = settings
        self.celery = celery or make_celery(settings)
        self._redis = redis.Redis.from_url(settings.broker_url, socket_timeout=3,
                                           socket_connect_timeout=3)

    def ping(self) -> None:
        """Raises BrokerUnavailable unless the broker answers."""
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise BrokerUnavailable(f"broker unreachable: {exc}") from exc

    def worker_count(self, timeout_s: float = 1.0) -> int:
        """How many worker processes answer a ping (0 when none or the broker is down)."""
        try:
            replies = self.celery.control.ping(timeout=timeout_s) or []
        except Exception as exc:
            log.warning("worker ping failed: %s", exc)
            return 0
        return len(replies)

    def publish(self, tasks: list[tuple[int, str]], batch: int | None = None,
                task_name: str = RUN_STEPS) -> int:
        """Send the (task id, xname) pairs as `task_name` messages (run_steps, or run_cap_steps
        for power-cap tasks) of up to `batch` (PCS_STEP_BATCH) IDs each. Returns how many tasks
        were sent.

        A broker failure is logged, not raised: the tasks stay dispatched in the database and the
        reaper sends them again.
        """
        sent = 0
        if not tasks:
            return 0
        try:
            with self.celery.producer_or_acquire() as producer:
                for message in step_batches(tasks, batch or self.settings.step_batch):
                    ids, xnames = [t[0] for t in message], [t[1] for t in message]
                    self.celery.send_task(task_name, args=[ids], producer=producer,
                                          queue=self.settings.queue_name,
                                          argsrepr=f"({ids}, {xnames})")
                    sent += len(message)
        except Exception as exc:  # kombu raises many kinds; all mean "not sent"
            log.warning("publishing %d tasks failed after %d: %s", len(tasks), sent, exc)
        return sent


def step_batches(tasks: list[tuple[int, str]], size: int) -> list[list[tuple[int, str]]]:
    """(task id, xname) pairs in xname order, cut into batches of at most `size`.

    A message's steps run one after another in one worker thread: one message instead of many
    saves the broker round trips and Celery's per-message work. Xname order keeps a BMC's
    components (and its neighbours') together; a batch that turns out slow hands the rest of its
    tasks on (Executor.run_steps).
    """
    ordered = sorted(tasks, key=lambda t: t[1])
    size = max(1, size)
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]
