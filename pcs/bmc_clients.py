"""The process's Redfish client of each BMC. Task steps, power-cap steps and power-status
sweeps in one process share it, so that a BMC's keep-alive connections outlive a step or a
sweep; it is rebuilt when what it was built from changes (the BMC's row or its login)."""
from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from pcs.config import Settings
from pcs.redfish.client import BmcAddress, RedfishClient
from pcs.sources.credentials import CredentialSource, StoredLogin

_clients: dict[int, tuple[tuple, RedfishClient]] = {}   # BMC id -> (built from, client)
_lock = threading.Lock()


def client_for(settings: Settings, credentials: CredentialSource,
               bmc: Mapping) -> RedfishClient:
    """The client of a BMC, given these columns of its row: id, updated_at, xname, address,
    scheme, username, password_encrypted, verify_tls and ca_pem (its ca_bundle column).
    Raises CredentialsUnavailable from the credential source."""
    login = credentials.credentials_for(
        StoredLogin(bmc["xname"], bmc["username"], bmc["password_encrypted"]))
    # updated_at changes with every column of the row; the rest are this process's own.
    built_from = (bmc["updated_at"], login, credentials, settings.ca_bundle,
                  settings.connect_timeout_s, settings.status_timeout_s,
                  settings.action_timeout_s)
    with _lock:
        known, client = _clients.get(bmc["id"], (None, None))
        if known == built_from:
            return client
        if client is not None:
            client.close()   # a call still under way on it finishes; its connection then closes
        address = BmcAddress(bmc["address"], bmc["scheme"], login.username, login.password,
                             bmc["verify_tls"], settings.ca_bundle, bmc["ca_pem"])
        xname = bmc["xname"]
        client = RedfishClient(address, connect_timeout_s=settings.connect_timeout_s,
                               read_timeout_s=settings.status_timeout_s,
                               action_timeout_s=settings.action_timeout_s,
                               on_unauthorized=lambda: credentials.forget(xname))
        _clients[bmc["id"]] = (built_from, client)
        return client


def _forget_inherited() -> None:
    # A forked child must not use (or close) the sockets of its parent's connections.
    global _lock
    _clients.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_inherited)
