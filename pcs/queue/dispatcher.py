"""The dispatcher loop: a thread in each worker process that hands due tasks to the broker."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import psycopg

from pcs.queue import scheduler
from pcs.broker import RUN_CAP_STEPS, Publisher
from pcs.capping import queue as cap_queue
from pcs.config import Settings
from pcs.db import Database

log = logging.getLogger(__name__)

MIN_PASS_GAP_S = 0.02


@dataclass(frozen=True)
class Pass:
    sent: int
    next_due: datetime | None   # the earliest next check of a deferred task, if any


def dispatch_once(settings: Settings, db: Database, publisher: Publisher) -> int:
    """One bounded pass: ready and due deferred tasks, then ready power-cap tasks, become
    messages. Returns how many."""
    return dispatch_pass(settings, db, publisher).sent


def dispatch_pass(settings: Settings, db: Database, publisher: Publisher) -> Pass:
    """dispatch_once, also telling when the next deferred task falls due."""
    with db.transaction() as session:
        budget = (settings.max_dispatched - scheduler.dispatched_count(session)
                  - cap_queue.dispatched_count(session))
        picked = scheduler.dispatch(session, scheduler.utcnow(), budget,
                                    settings.bmc_max_inflight)
        # Same transaction, so under the same dispatch lock: the per-BMC counts hold for both.
        capping = cap_queue.dispatch(session, scheduler.utcnow(), budget - len(picked),
                                     settings.bmc_max_inflight)
        next_due = scheduler.next_due(session, scheduler.utcnow())
    sent = publisher.publish(picked) + publisher.publish(capping, task_name=RUN_CAP_STEPS)
    return Pass(sent, next_due)


class Wakeup:
    """Waits for the dispatch channel's NOTIFY (scheduler.wake_dispatchers) or a timeout, on a
    LISTEN connection of its own; without one (the database is away), it just sleeps."""

    def __init__(self, database_url: str, stop: threading.Event):
        self.url = database_url.replace("postgresql+psycopg://", "postgresql://")
        self.stop = stop
        self.connection: psycopg.Connection | None = None

    def wait(self, seconds: float) -> None:
        if self.connection is None:
            self._listen()
        if self.connection is None:
            self.stop.wait(seconds)
            return
        try:
            for _ in self.connection.notifies(timeout=seconds, stop_after=1):
                pass
        except psycopg.Error as exc:
            log.info("dispatch wake-ups lost (polling until they are back): %s", exc)
            self.close()

    def _listen(self) -> None:
        try:
            self.connection = psycopg.connect(self.url, autocommit=True, connect_timeout=5,
                                              application_name="pcs-dispatcher")
            self.connection.execute(f"LISTEN {scheduler.DISPATCH_CHANNEL}")
        except psycopg.Error:
            self.close()

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except psycopg.Error:
                pass
        self.connection = None


class Dispatcher(threading.Thread):
    def __init__(self, settings: Settings, db: Database, publisher: Publisher):
        super().__init__(name="pcs-dispatcher", daemon=True)
        self.settings, self.db, self.publisher = settings, db, publisher
        self._stop = threading.Event()
        self._wakeup = Wakeup(settings.database_url, self._stop)

    def run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                done = dispatch_pass(self.settings, self.db, self.publisher)
            except Exception as exc:  # keep the loop alive through database outages
                log.warning("dispatch pass failed: %s", exc)
                done = Pass(0, None)
            # A full batch means more is due: go again at once. Otherwise wake when a step
            # frees a slot or a task becomes ready (NOTIFY), when the next deferred task falls
            # due, or at the poll interval, the safety net.
            if done.sent < self.settings.max_dispatched // 2:
                wait = self.settings.dispatch_interval_s
                if done.next_due is not None:
                    until_due = (done.next_due - scheduler.utcnow()).total_seconds()
                    wait = min(wait, max(0.0, until_due))
                self._wakeup.wait(wait)
                # Under load every step's commit wakes the loop: passes come at most this often.
                self._stop.wait(max(0.0, MIN_PASS_GAP_S - (time.monotonic() - started)))
        self._wakeup.close()

    def stop(self) -> None:
        self._stop.set()
