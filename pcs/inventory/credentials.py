"""The credential store: BMC passwords encrypted at rest with a key from PCS_SECRET_KEY.

The ciphertext lives in the bmcs table; pcs/sources/credentials.py reads it back for the steps
(the local credential source), beside Vault and the fake store.

Several keys may be given (PCS_SECRET_KEY "new,old", or one per line in the key file): the
first encrypts, every one decrypts. `rotate_keys` re-encrypts every stored password under a new
first key while the old one keeps working, and only then drops it.
"""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select, text

from pcs.config import Settings
from pcs.errors import ConfigurationError
from pcs.runtime.secret_files import read_or_create, write_private

KEY_FILE = "secret.key"


def split_keys(secret: str) -> list[str]:
    return [k for k in re.split(r"[\s,]+", secret) if k]


def _fernet(key: str) -> Fernet:
    # Any operator-chosen string becomes a Fernet key (32 bytes, urlsafe base64).
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


class CredentialStore:
    """Encrypts under the first key, decrypts under any. With a key file, a rotation done by
    another process is picked up: the file is read again when it changed."""

    def __init__(self, secret: str, key_file: Path | None = None):
        self._key_file = key_file
        self._read_at = key_file.stat().st_mtime if key_file else None
        self._load(secret)

    def _load(self, secret: str) -> None:
        keys = split_keys(secret)
        if not keys:
            raise ConfigurationError("the secret key is empty (PCS_SECRET_KEY or the key file)")
        self._fernet = MultiFernet([_fernet(k) for k in keys])

    def _reload_if_changed(self) -> bool:
        if self._key_file is None:
            return False
        changed_at = self._key_file.stat().st_mtime
        if changed_at == self._read_at:
            return False
        self._read_at = changed_at
        self._load(self._key_file.read_text())
        return True

    def encrypt(self, password: str) -> bytes:
        self._reload_if_changed()
        return self._fernet.encrypt(password.encode())

    def decrypt(self, token: bytes) -> str:
        """Raises ConfigurationError when no key is the one the password was stored with."""
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken:
            if self._reload_if_changed():
                return self.decrypt(token)
            raise ConfigurationError(
                "stored BMC password cannot be decrypted: PCS_SECRET_KEY changed?") from None

    def reencrypt(self, token: bytes) -> bytes:
        """The same password under the first key. Raises InvalidToken."""
        return self._fernet.rotate(bytes(token))


def load_secret(settings: Settings, create: bool = False) -> str:
    """PCS_SECRET_KEY, else the key file in the state directory (created when asked).

    Raises ConfigurationError when there is neither and create is False.
    """
    if settings.secret_key:
        return settings.secret_key
    path = settings.state_path / KEY_FILE
    if path.exists() or create:
        return read_or_create(path)
    raise ConfigurationError(
        f"no PCS_SECRET_KEY and no key file at {path}: set PCS_SECRET_KEY or run 'pcs up'")


def credential_store(settings: Settings) -> CredentialStore:
    secret = load_secret(settings)
    return CredentialStore(secret, None if settings.secret_key else settings.state_path / KEY_FILE)


def rotate_keys(settings: Settings, database) -> int:
    """Re-encrypt every stored BMC password under a new key; returns how many.

    With the key file: a new key is put first, the passwords are re-encrypted (the old key
    still decrypting meanwhile), then the old key is dropped. With PCS_SECRET_KEY the operator
    gives "NEW,OLD" to every process first, and drops OLD after. Raises ConfigurationError.
    """
    from pcs.models import Bmc   # the one function here that touches the database

    if settings.secret_key:
        keys = split_keys(settings.secret_key)
        if len(keys) < 2:
            raise ConfigurationError(
                "PCS_SECRET_KEY holds one key: give every pcs process PCS_SECRET_KEY=NEW,OLD "
                "(the new key first), run this again, then remove OLD")
        store = CredentialStore(settings.secret_key)
    else:
        path = settings.state_path / KEY_FILE
        keys = split_keys(load_secret(settings))
        new = secrets.token_urlsafe(32)
        write_private(path, "\n".join([new] + keys) + "\n")   # old passwords still decrypt
        store = CredentialStore(path.read_text())
    with database.transaction() as session:
        # Writers wait: no password is stored under a key about to be dropped meanwhile.
        session.execute(text("LOCK TABLE bmcs IN SHARE ROW EXCLUSIVE MODE"))
        rows = session.execute(select(Bmc.id, Bmc.password_encrypted)).all()
        for bmc_id, token in rows:
            try:
                rotated = store.reencrypt(token)
            except InvalidToken:
                raise ConfigurationError(
                    f"the password of BMC id {bmc_id} decrypts under none of the keys; "
                    "nothing was changed") from None
            session.execute(Bmc.__table__.update().where(Bmc.id == bmc_id)
                            .values(password_encrypted=rotated))
    if not settings.secret_key:
        write_private(settings.state_path / KEY_FILE, new + "\n")   # rotation finished
    return len(rows)
