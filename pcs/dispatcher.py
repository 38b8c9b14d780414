"""The dispatcher loop: a thread in each worker process that hands due tasks to the broker."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from pcs import scheduler
from pcs.broker import RUN_CAP_STEPS, Publisher
from pcs.capping import queue as cap_queue
from pcs.config import Settings
from pcs.db import Database

log = logging.getLogger(__name__)


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


class Dispatcher(threading.Thread):
    def __init__(self, settings: Settings, db: Database, publisher: Publisher):
        super().__init__(name="pcs-dispatcher", daemon=True)
        self.settings, self.db, self.publisher = settings, db, publisher
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                done = dispatch_pass(self.settings, self.db, self.publisher)
            except Exception as exc:  # keep the loop alive through database outages
                log.warning("dispatch pass failed: %s", exc)
                done = Pass(0, None)
            # A full batch means more is due: go again at once. Otherwise wake when the next
            # deferred task falls due (a confirmation read is not held back by the poll), or
            # at the poll interval, which catches tasks that other processes made ready.
            if done.sent < self.settings.max_dispatched // 2:
                wait = self.settings.dispatch_interval_s
                if done.next_due is not None:
                    until_due = (done.next_due - scheduler.utcnow()).total_seconds()
                    wait = min(wait, max(0.0, until_due))
                self._stop.wait(wait)

    def stop(self) -> None:
        self._stop.set()
