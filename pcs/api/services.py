"""What a request handler may use: settings, database, publisher, credential store and
source."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app

from pcs.broker import Publisher
from pcs.config import Settings
from pcs.db import Database
from pcs.queue.dispatcher import dispatch_once
from pcs.inventory.credentials import CredentialStore, credential_store
from pcs.sources.credentials import CredentialSource, credential_source
from pcs.sources.inventory import InventorySource
from pcs.sources.reservations import ReservationSource

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    publisher: Publisher
    reservations: ReservationSource
    inventory: InventorySource
    _credentials: CredentialStore | None = None
    _credential_source: CredentialSource | None = None

    @property
    def credentials(self) -> CredentialStore:
        """The local store that registration encrypts passwords with."""
        if self._credentials is None:
            self._credentials = credential_store(self.settings)
        return self._credentials

    @property
    def credential_source(self) -> CredentialSource:
        """Where the workers take BMC credentials from (the API reports its health)."""
        if self._credential_source is None:
            self._credential_source = credential_source(self.settings)
        return self._credential_source

    def dispatch_after_commit(self) -> None:
        """Hand runnable tasks to the broker now; the workers' dispatcher covers any failure."""
        try:
            dispatch_once(self.settings, self.db, self.publisher)
        except Exception as exc:
            log.warning("dispatch after commit failed (the dispatcher will retry): %s", exc)


def services() -> Services:
    return current_app.extensions["pcs"]
