"""The dispatcher loop: a thread in each worker process that hands due tasks to the broker."""
from __future__ import annotations

import logging
import threading

from pcs import scheduler
from pcs.broker import RUN_CAP_STEPS, Publisher
from pcs.capping import queue as cap_queue
from pcs.config import Settings
from pcs.db import Database

log = logging.getLogger(__name__)


def dispatch_once(settings: Settings, db: Database, publisher: Publisher) -> int:
    """One bounded pass: ready and due deferred tasks, then ready power-cap tasks, become
    messages. Returns how many."""
    with db.transaction() as session:
        budget = (settings.max_dispatched - scheduler.dispatched_count(session)
                  - cap_queue.dispatched_count(session))
        picked = scheduler.dispatch(session, scheduler.utcnow(), budget,
                                    settings.bmc_max_inflight)
        # Same transaction, so under the same dispatch lock: the per-BMC counts hold for both.
        capping = cap_queue.dispatch(session, scheduler.utcnow(), budget - len(picked),
                                     settings.bmc_max_inflight)
    return (publisher.publish(picked)
            + publisher.publish(capping, task_name=RUN_CAP_STEPS))


class Dispatcher(threading.Thread):
    def __init__(self, settings: Settings, db: Database, publisher: Publisher):
        super().__init__(name="pcs-dispatcher", daemon=True)
        self.settings, self.db, self.publisher = settings, db, publisher
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = dispatch_once(self.settings, self.db, self.publisher)
            except Exception as exc:  # keep the loop alive through database outages
                log.warning("dispatch pass failed: %s", exc)
                sent = 0
            # A full batch means more is due: go again at once.
            if sent < self.settings.max_dispatched // 2:
                self._stop.wait(self.settings.dispatch_interval_s)

    def stop(self) -> None:
        self._stop.set()
