"""Per-process objects of a worker: database, publisher, credential source, executor,
dispatcher (built once)."""
from __future__ import annotations

import threading
from functools import cached_property

from pcs import events
from pcs.broker import Publisher
from pcs.config import Settings
from pcs.db import Database
from pcs.dispatcher import Dispatcher
from pcs.execution import Executor
from pcs.sources.credentials import CredentialSource, credential_source


class WorkerRuntime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._dispatcher: Dispatcher | None = None

    @cached_property
    def db(self) -> Database:
        # One connection per pool thread plus the dispatcher's.
        db = Database(self.settings.database_url, pool_size=self.settings.worker_concurrency + 2,
                      pre_ping=False)
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
        return Executor(self.settings, self.db, self.credentials, self.publisher)

    def start_dispatcher(self) -> None:
        if self._dispatcher is None:
            self._dispatcher = Dispatcher(self.settings, self.db, self.publisher)
            self._dispatcher.start()

    def stop_dispatcher(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.stop()


_runtime: WorkerRuntime | None = None
_lock = threading.Lock()


def runtime() -> WorkerRuntime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = WorkerRuntime(Settings.from_env())
        return _runtime
