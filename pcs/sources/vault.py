"""BMC credentials from Vault, as upstream PCS reads them (INTEGRATION.md §4): KV version 1 at
<VAULT_KEYPATH>/<BMC xname>, logged in with a JWT (Kubernetes style) or a plain token, cached
per BMC for CRED_CACHE_DURATION seconds."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

import hvac
import hvac.exceptions
import requests

from pcs.config import Settings
from pcs.domain import outcomes, xnames
from pcs.errors import ConfigurationError, CredentialsUnavailable
from pcs.sources.credentials import (CONNECTED, NOT_CONNECTED, NOT_RESPONSIVE, BmcRecord,
                                     Credentials)

log = logging.getLogger(__name__)

# SMD writes one secret per Redfish endpoint: a component's is its nearest ancestor of these.
BMC_TYPES = frozenset({"NodeBMC", "RouterBMC", "ChassisBMC", "CabinetPDUController"})
# sys/health answers these when Vault serves reads (active, standby, DR or performance standby).
SERVING = (200, 429, 472, 473)
HEALTH_TIMEOUT_S = 3.0
LOGIN_RETRY_S = 5.0
MISSING = None   # a cached "Vault has no secret here"


def secret_xname(xname: str) -> str:
    """The xname Vault keeps the credentials of `xname` under: itself or its nearest ancestor
    of a BMC type (x0c0s0b0n0 -> x0c0s0b0; x0c0 -> x0c0)."""
    parsed = xnames.parse(xname)
    if parsed is None:
        return xname
    for candidate in (parsed, *xnames.ancestors(parsed)):
        if candidate.type in BMC_TYPES:
            return candidate.name
    return parsed.name


def credentials_from_secret(data: dict) -> Credentials | None:
    """Username and Password of a secret as SMD writes it (lower-case keys accepted); None when
    it holds neither."""
    def pick(key: str):
        return data.get(key, data.get(key.lower()))
    username, password = pick("Username"), pick("Password")
    if username is None and password is None:
        return None
    return Credentials(str(username or ""), str(password or ""))


class VaultCredentials:
    """Reads BMC credentials from Vault. Thread-safe: a worker's step threads share one."""
    name = "vault"

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic):
        if settings.cred_cache_duration_s < 0:
            raise ConfigurationError(
                f"CRED_CACHE_DURATION={settings.cred_cache_duration_s} must be 0 or more")
        self.settings = settings
        self._clock = clock
        session = requests.Session()
        session.trust_env = False   # no proxy or CA bundle from the environment, as for BMCs
        verify: bool | str = True
        if settings.vault_skip_verify:
            verify = False
        elif settings.vault_cacert:
            verify = settings.vault_cacert
        # token="" keeps hvac from taking one from the environment or ~/.vault-token.
        self._client = hvac.Client(url=settings.vault_addr, token="", verify=verify,
                                   timeout=settings.vault_timeout_s, session=session)
        self._cache: dict[str, tuple[float, Credentials | None]] = {}
        self._lock = threading.Lock()
        self._login_lock = threading.Lock()
        self._logged_in = False

    # -- CredentialSource ------------------------------------------------------------------------
    def start(self) -> None:
        """Log in, trying again every few seconds until Vault accepts (upstream waits too)."""
        while True:
            try:
                self.login()
                return
            except CredentialsUnavailable as exc:
                log.warning("Vault login failed, trying again in %g s: %s", LOGIN_RETRY_S, exc)
                time.sleep(LOGIN_RETRY_S)

    def credentials_for(self, bmc: BmcRecord) -> Credentials:
        key = secret_xname(bmc.xname)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is None or cached[0] <= now:
            found = self._read(key)
            cached = (now + self.settings.cred_cache_duration_s, found)
            with self._lock:
                self._cache[key] = cached
        if cached[1] is MISSING:
            raise CredentialsUnavailable(outcomes.no_credentials_in_vault(self.path_of(key)))
        return cached[1]

    def forget(self, bmc_xname: str) -> None:
        with self._lock:
            self._cache.pop(secret_xname(bmc_xname), None)

    def health(self) -> str:
        try:
            response = self._client.adapter.get(
                "/v1/sys/health", raise_exception=False, timeout=HEALTH_TIMEOUT_S)
        except requests.RequestException:
            return NOT_CONNECTED
        status = response.get("_status", 200) if isinstance(response, dict) else (
            response.status_code)
        return CONNECTED if status in SERVING else NOT_RESPONSIVE

    # -- Vault -----------------------------------------------------------------------------------
    def path_of(self, key: str) -> str:
        return f"{self.settings.vault_keypath.strip('/')}/{key}"

    def login(self) -> None:
        """With the JWT file: send role and JWT to the auth path and use the token it returns;
        without it: use VAULT_TOKEN as it is, once Vault has accepted it. Raises
        CredentialsUnavailable (Vault refused or did not answer) or ConfigurationError."""
        with self._login_lock:
            jwt_file = Path(self.settings.vault_jwt_file)
            try:
                if jwt_file.is_file():
                    self._client.token = self.settings.vault_token or ""
                    answer = self._client.adapter.put(
                        f"/v1/{self.settings.vault_auth_path.strip('/')}",
                        json={"role": _read_trimmed(Path(self.settings.vault_role_file)),
                              "jwt": _read_trimmed(jwt_file)})
                    self._client.token = answer["auth"]["client_token"]
                    how = f"with the JWT in {jwt_file} at {self.settings.vault_auth_path}"
                elif self.settings.vault_token:
                    self._client.token = self.settings.vault_token
                    self._client.adapter.get("/v1/auth/token/lookup-self")
                    how = "with VAULT_TOKEN"
                else:
                    raise ConfigurationError(
                        f"Vault login needs a JWT file ({jwt_file}, CRAY_VAULT_JWT_FILE) or "
                        f"VAULT_TOKEN")
            except (requests.RequestException, hvac.exceptions.VaultError, KeyError,
                    TypeError) as exc:
                raise CredentialsUnavailable(
                    outcomes.vault_unavailable(f"login failed: {_describe(exc)}")) from None
            self._logged_in = True
        log.info("logged in to Vault at %s %s", self.settings.vault_addr, how)

    def _read(self, key: str) -> Credentials | None:
        """The secret at the key's path; None when Vault has none. A refused token logs in
        again and reads once more. Raises CredentialsUnavailable when Vault cannot answer."""
        if not self._logged_in:
            self._login_for_read()
        path = self.path_of(key)
        for attempt in (1, 2):
            try:
                answer = self._client.adapter.get(f"/v1/{path}")
            except hvac.exceptions.InvalidPath:
                return MISSING
            except (hvac.exceptions.Forbidden, hvac.exceptions.InvalidRequest) as exc:
                # 403, or 400 "missing client token" (a GET has no body to be wrong): the
                # token expired or was revoked.
                if attempt == 1:
                    self._login_for_read()
                    continue
                raise CredentialsUnavailable(outcomes.vault_unavailable(_describe(exc))) from None
            except (requests.RequestException, hvac.exceptions.VaultError) as exc:
                raise CredentialsUnavailable(outcomes.vault_unavailable(_describe(exc))) from None
            data = answer.get("data") if isinstance(answer, dict) else None
            return credentials_from_secret(data) if isinstance(data, dict) else MISSING
        return MISSING   # not reached: the loop returns or raises

    def _login_for_read(self) -> None:
        try:
            self.login()
        except ConfigurationError as exc:   # e.g. the JWT file went away: this task fails
            raise CredentialsUnavailable(outcomes.vault_unavailable(str(exc))) from None


def _read_trimmed(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigurationError(f"Vault login: cannot read {path}: {exc.strerror}") from None


def _describe(exc: Exception) -> str:
    """A short text of what went wrong (requests' own nests the cause in a long repr)."""
    if isinstance(exc, requests.ConnectionError):
        root = exc
        while root.__context__ is not None or root.__cause__ is not None:
            root = root.__cause__ or root.__context__
        reason = str(root).split(": ", 1)[-1] if ": " in str(root) else str(root)
        return f"cannot connect to {_address(exc)}: {reason}"
    if isinstance(exc, requests.Timeout):
        return f"no answer from {_address(exc)} in time"
    if isinstance(exc, hvac.exceptions.VaultError):
        errors = "; ".join(str(e) for e in (exc.errors or [])) or str(exc)
        return f"{type(exc).__name__.lower()}: {errors}"
    return str(exc) or type(exc).__name__


def _address(exc: requests.RequestException) -> str:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None) or ""
    return url.split("/v1/", 1)[0] or "Vault"
