"""BMC credentials behind one interface: the local encrypted store, Vault, or upstream's fake
store. One source is built per process from Settings (`credential_source`); steps and the
power-status sweep ask it for each BMC's username and password, which live only in the process's
memory (DESIGN.md invariant 6)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from pcs.config import Settings
from pcs.domain import outcomes
from pcs.errors import ConfigurationError, CredentialsUnavailable
from pcs.inventory.credentials import CredentialStore, credential_store

# The /health `Vault` values (upstream's words); DISABLED when the source is not Vault.
CONNECTED, NOT_RESPONSIVE, NOT_CONNECTED, DISABLED = (
    "connected, responsive", "connected, not responsive", "not connected", "disabled")


@dataclass(frozen=True)
class Credentials:
    """A BMC's login. repr() never shows the password."""
    username: str
    password: str = field(repr=False)


class BmcRecord(Protocol):
    """What a source needs of a BMC: a `bmcs` row, or a query row with these columns."""
    xname: str
    username: str
    password_encrypted: bytes | None


@dataclass(frozen=True)
class StoredLogin:
    """The columns of a `bmcs` row a source reads, when the row itself is not at hand."""
    xname: str
    username: str
    password_encrypted: bytes | None = field(repr=False)


class CredentialSource(Protocol):
    name: str   # local | vault | fake

    def start(self) -> None:
        """Get ready before the process takes work (Vault: log in; waits until it can)."""

    def credentials_for(self, bmc: BmcRecord) -> Credentials:
        """The BMC's login. Raises CredentialsUnavailable with the task's error text."""

    def forget(self, bmc_xname: str) -> None:
        """The BMC refused what credentials_for gave (401): read them afresh next time."""

    def health(self) -> str:
        """The /health `Vault` value."""


class LocalCredentials:
    """The password encrypted in `bmcs.password_encrypted`, the username in `bmcs.username`."""
    name = "local"

    def __init__(self, store: CredentialStore):
        self._store = store
        # Decrypting costs CPU on every step: keep the clear text per ciphertext, which
        # changes whenever the password does.
        self._clear: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        pass

    def credentials_for(self, bmc: BmcRecord) -> Credentials:
        if bmc.password_encrypted is None:
            raise CredentialsUnavailable(outcomes.no_stored_password(bmc.xname))
        ciphertext = bytes(bmc.password_encrypted)
        with self._lock:
            known = self._clear.get(bmc.xname)
        if known is None or known[0] != ciphertext:
            known = (ciphertext, self._store.decrypt(ciphertext))
            with self._lock:
                self._clear[bmc.xname] = known
        return Credentials(bmc.username, known[1])

    def forget(self, bmc_xname: str) -> None:
        pass   # the stored password is all there is; PATCH changes it

    def health(self) -> str:
        return DISABLED


class FakeCredentials:
    """Upstream's fake store: every BMC has the one configured username and password."""
    name = "fake"

    def __init__(self, username: str, password: str):
        self._credentials = Credentials(username, password)

    def start(self) -> None:
        pass

    def credentials_for(self, bmc: BmcRecord) -> Credentials:
        return self._credentials

    def forget(self, bmc_xname: str) -> None:
        pass

    def health(self) -> str:
        return DISABLED


def credential_source(settings: Settings) -> CredentialSource:
    """The source the settings choose (Settings.credential_source). Raises ConfigurationError,
    naming the settings, when the choice is incomplete."""
    kind = settings.credential_source
    if kind == "fake":
        missing = [name for name, value in (
            ("PCS_FAKE_VAULT_REDFISH_USER", settings.fake_vault_user),
            ("PCS_FAKE_VAULT_REDFISH_PASSWORD", settings.fake_vault_password)) if not value]
        if missing:
            raise ConfigurationError(
                f"FAKE_VAULT_ENABLED=true needs {' and '.join(missing)}")
        return FakeCredentials(settings.fake_vault_user, settings.fake_vault_password)
    if kind == "vault":
        from pcs.sources.vault import VaultCredentials   # hvac only where Vault is used
        return VaultCredentials(settings)
    if settings.inventory_source == "smd":
        # SMD's BMC records carry no passwords: the local store would have none to give.
        raise ConfigurationError(
            "components come from SMD (SMS_SERVER) but VAULT_ENABLED=false: set VAULT_ENABLED="
            "true, or FAKE_VAULT_ENABLED=true with PCS_FAKE_VAULT_REDFISH_USER and "
            "PCS_FAKE_VAULT_REDFISH_PASSWORD")
    return LocalCredentials(credential_store(settings))
