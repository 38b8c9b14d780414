"""The credential store: BMC passwords encrypted at rest with a key from PCS_SECRET_KEY.

The ciphertext lives in the bmcs table; pcs/sources/credentials.py reads it back for the steps
(the local credential source), beside Vault and the fake store.
"""
from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from pcs.config import Settings
from pcs.errors import ConfigurationError

KEY_FILE = "secret.key"


class CredentialStore:
    def __init__(self, secret: str):
        # Any operator-chosen string becomes a Fernet key (32 bytes, urlsafe base64).
        digest = hashlib.sha256(secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, password: str) -> bytes:
        return self._fernet.encrypt(password.encode())

    def decrypt(self, token: bytes) -> str:
        """Raises ConfigurationError when the key is not the one the password was stored with."""
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken:
            raise ConfigurationError(
                "stored BMC password cannot be decrypted: PCS_SECRET_KEY changed?") from None


def load_secret(settings: Settings, create: bool = False) -> str:
    """PCS_SECRET_KEY, else the key file in the state directory (created when asked).

    Raises ConfigurationError when there is neither and create is False.
    """
    if settings.secret_key:
        return settings.secret_key
    path = settings.state_path / KEY_FILE
    if path.exists():
        return path.read_text().strip()
    if not create:
        raise ConfigurationError(
            f"no PCS_SECRET_KEY and no key file at {path}: set PCS_SECRET_KEY or run 'pcs up'")
    return _create_key_file(path)


def _create_key_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def credential_store(settings: Settings) -> CredentialStore:
    return CredentialStore(load_secret(settings))
