"""Per-process objects of a worker: database, publisher, credential source, executor,
dispatcher (built once)."""
from __future__ import annotations

import threading
from functools import cached_property

from pcs import events
from pcs.queue import scheduler
from pcs.broker import Publisher
from pcs.capping.steps import CapExecutor
from pcs.config import Settings
from pcs.db import Database
from pcs.queue.dispatcher import Dispatcher
from pcs.queue.steps import Executor
from pcs.sources.credentials import CredentialSource, credential_source
from pcs.sources.inventory import InventorySource, inventory_source
from pcs.sources.reservations import ReservationSource, reservation_source
from pcs.sources.state_push import StatePush, state_push
from pcs.queue.task_reservations import Renewer


class WorkerRuntime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._dispatcher: Dispatcher | None = None
        self._renewer: Renewer | None = None

    @cached_property
    def db(self) -> Database:
        # One connection per pool thread plus the dispatcher's.
        db = Database(self.settings.database_url, pool_size=self.settings.worker_concurrency + 2,
                      pre_ping=False, role="worker")
        # Events of steps, the dispatcher and the reaper reach Redis after their commit.
        events.publish_after_commit(db, self.settings)
        return db

    @cached_property
    def publisher(self) -> Publisher:
        from workers.celery_app import app
        return Publisher(self.settings, app)

    @cached_property
    def credentials(self) -> CredentialSource:
        """Where BMC credentials come from; one per process, so Vault's cache is shared."""
        return credential_source(self.settings)

    @cached_property
    def executor(self) -> Executor:
        return Executor(self.settings, self.db, self.credentials, self.publisher,
                        self.reservations, self.state_push)

    @cached_property
    def cap_executor(self) -> CapExecutor:
        return CapExecutor(self.settings, self.db, self.executor.client_for)

    @cached_property
    def state_push(self) -> StatePush:
        return state_push(self.settings)

    @cached_property
    def reservations(self) -> ReservationSource:
        return reservation_source(self.settings)

    @cached_property
    def inventory(self) -> InventorySource:
        return inventory_source(self.settings)

    def start_dispatcher(self) -> None:
        if self._dispatcher is None:
            self._dispatcher = Dispatcher(self.settings, self.db, self.publisher)
            self._dispatcher.start()
        if self._renewer is None and self.reservations.enabled:
            executor = self.executor
            self._renewer = Renewer(self.db, self.reservations, self.settings.minute_s,
                                    lambda: executor.running_reservations, scheduler.utcnow)
            self._renewer.start()

    def stop_dispatcher(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.stop()
        if self._renewer is not None:
            self._renewer.stop()


_runtime: WorkerRuntime | None = None
_lock = threading.Lock()


def runtime() -> WorkerRuntime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = WorkerRuntime(Settings.from_env())
        return _runtime
