"""What a request handler may use: settings, database, publisher, credential store."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app

from pcs.broker import Publisher
from pcs.config import Settings
from pcs.db import Database
from pcs.dispatcher import dispatch_once
from pcs.inventory.credentials import CredentialStore, credential_store
from pcs.sources.reservations import ReservationSource
from pcs.sources.inventory import InventorySource

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    publisher: Publisher
    reservations: ReservationSource
    inventory: InventorySource
    _credentials: CredentialStore | None = None

    @property
    def credentials(self) -> CredentialStore:
        if self._credentials is None:
            self._credentials = credential_store(self.settings)
        return self._credentials

    def dispatch_after_commit(self) -> None:
        """Hand runnable tasks to the broker now; the workers' dispatcher covers any failure."""
        try:
            dispatch_once(self.settings, self.db, self.publisher)
        except Exception as exc:
            log.warning("dispatch after commit failed (the dispatcher will retry): %s", exc)


def services() -> Services:
    return current_app.extensions["pcs"]
