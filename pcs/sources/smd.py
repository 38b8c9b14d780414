"""HTTP to SMD (the Hardware State Manager, HSM v2): the calls pcs makes and nothing else.

Reads are retried on connection errors and 5xx like upstream (up to 5 times); a non-2xx answer
is an error (upstream ignores SMD's status codes). Reservation calls are never retried: a create
that may have reached SMD is not sent twice. Every failure is an SmdUnavailable whose text says
what SMD did; callers turn it into upstream's outcome strings (domain/outcomes.py).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field as dataclass_field

import requests

from pcs.errors import ConfigurationError
from pcs.domain.json_fields import field

log = logging.getLogger(__name__)

ENDPOINT_BATCH = 2000          # ids per ComponentEndpoints call (upstream's batch)
READ_ATTEMPTS = 5
RETRY_PAUSE_S = 0.2
LIVENESS_TIMEOUT_S = 5.0


class SmdUnavailable(Exception):
    """SMD could not be reached or answered with an error; str() says which."""


class SmdRefused(SmdUnavailable):
    """SMD answered a 4xx; `detail` is its problem+json detail (or body text)."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"SMD answered {status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class OAuthClient:
    """OAuth2 client credentials (INTEGRATION.md §5): id and secret as HTTP Basic to the token
    URL; the bearer it returns goes on every SMD call. repr() never shows the secret."""
    client_id: str
    client_secret: str = dataclass_field(repr=False)
    token_url: str = ""
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SmdConfig:
    base_url: str              # SMS_SERVER, e.g. https://api-gw-service-nmn/apis/smd
    timeout_s: float = 40.0
    verify: bool | str = True  # False, True, or a CA bundle path
    oauth: OAuthClient | None = None


OAUTH_SETTINGS = ("oauth2_client_id", "oauth2_client_secret", "oauth2_token_url",
                  "oauth2_scopes")


def oauth_client(settings) -> OAuthClient | None:
    """The OAuth2 client when all four OAUTH2_* settings are set, None when none is. Raises
    ConfigurationError naming the missing ones for a partial set (upstream refuses to start)."""
    given = {name: getattr(settings, name) for name in OAUTH_SETTINGS}
    if not any(given.values()):
        return None
    missing = [f"OAUTH2_{name[len('oauth2_'):].upper()}" for name, v in given.items() if not v]
    if missing:
        raise ConfigurationError("OAuth2 for SMD needs all four OAUTH2_* settings; missing: "
                                 + ", ".join(missing))
    scopes = tuple(s.strip() for s in settings.oauth2_scopes.split(",") if s.strip())
    return OAuthClient(settings.oauth2_client_id, settings.oauth2_client_secret,
                       settings.oauth2_token_url, scopes)


def smd_client(settings) -> "SmdClient":
    """The process's client for SMS_SERVER (settings: pcs.config.Settings). Raises
    ConfigurationError for a partial OAuth2 configuration."""
    return SmdClient(SmdConfig(settings.sms_server, timeout_s=settings.smd_timeout_s,
                               verify=settings.ca_bundle or True,
                               oauth=oauth_client(settings)))


class SmdClient:
    """One SMD; thread-safe (a requests.Session per client, used for short calls)."""

    def __init__(self, config: SmdConfig):
        self.config = config
        self._http = requests.Session()
        self._http.trust_env = False   # no proxies or CA bundles from the environment
        self._http.headers["Accept"] = "application/json"
        self._token: tuple[str, float] | None = None   # (bearer, monotonic expiry)
        self._token_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    # -- reads --------------------------------------------------------------------------------
    def alive(self) -> bool:
        """Any HTTP answer within 5 s counts as responsive (upstream's rule)."""
        try:
            self._http.get(self._url("/hsm/v2/service/liveness"), timeout=LIVENESS_TIMEOUT_S,
                           verify=self.config.verify)
            return True
        except requests.RequestException:
            return False

    def components(self, ids: list[str] | None = None) -> list[dict]:
        """State/Components/Query for these IDs (None: every component)."""
        body = self._read("POST", "/hsm/v2/State/Components/Query",
                          json={"ComponentIDs": ids if ids is not None else ["all"]})
        return list(field(body, "Components") or [])

    def component_endpoints(self, ids: Iterable[str]) -> list[dict]:
        """ComponentEndpoints of these IDs, read in batches of at most 2,000 IDs."""
        found: list[dict] = []
        for batch in _batches(sorted(set(ids)), ENDPOINT_BATCH):
            body = self._read("GET", "/hsm/v2/Inventory/ComponentEndpoints",
                              params=[("id", i) for i in batch])
            found += list(field(body, "ComponentEndpoints") or [])
        return found

    def power_maps(self) -> list[dict]:
        body = self._read("GET", "/hsm/v2/sysinfo/powermaps")
        return body if isinstance(body, list) else []

    # -- writes -------------------------------------------------------------------------------
    def push_state(self, ids: list[str], state: str, timeout_s: float) -> None:
        """BulkStateData: these components are now `state` (on | off)."""
        self._call("PATCH", "/hsm/v2/State/Components/BulkStateData", attempts=1,
                   timeout_s=timeout_s, json={"ComponentIDs": ids, "State": state})

    def reservations(self, action: str, body: dict) -> dict:
        """A service-reservation call (`create`, `check`, `renew`, `release`); never retried."""
        path = "/hsm/v2/locks/service/reservations" + ("" if action == "create" else
                                                       f"/{action}")
        return self._call("POST", path, attempts=1, json=body)

    # -- plumbing -----------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return self.config.base_url.rstrip("/") + path

    def _read(self, method: str, path: str, **kwargs):
        return self._call(method, path, attempts=READ_ATTEMPTS, **kwargs)

    def _call(self, method: str, path: str, attempts: int, timeout_s: float | None = None,
              **kwargs):
        """The decoded JSON answer (None for 204). Raises SmdRefused for a 4xx, SmdUnavailable
        for anything else that is not a 2xx."""
        timeout = timeout_s or self.config.timeout_s
        last = "no attempt"
        for attempt in range(attempts):
            if attempt:
                time.sleep(RETRY_PAUSE_S * attempt)
            try:
                response = self._http.request(method, self._url(path), timeout=timeout,
                                              verify=self.config.verify,
                                              headers=self._bearer(), **kwargs)
                if response.status_code == 401 and self.config.oauth is not None:
                    self._token = None   # expired or revoked early: one more, with a new one
                    response = self._http.request(method, self._url(path), timeout=timeout,
                                                  verify=self.config.verify,
                                                  headers=self._bearer(), **kwargs)
            except requests.RequestException as exc:
                last = f"SMD at {self.config.base_url} could not be reached: {type(exc).__name__}"
                continue
            if 200 <= response.status_code < 300:
                return _decode(response)
            if response.status_code < 500:
                raise SmdRefused(response.status_code, _detail(response))
            last = f"SMD answered {response.status_code}: {_detail(response)}"
        log.warning("SMD %s %s failed: %s", method, path, last)
        raise SmdUnavailable(last)


    def _bearer(self) -> dict[str, str]:
        """The Authorization header of an SMD call: none without OAuth2, else a bearer token
        kept until shortly before it expires. Raises SmdUnavailable when none can be had."""
        oauth = self.config.oauth
        if oauth is None:
            return {}
        with self._token_lock:
            if self._token is None or time.monotonic() >= self._token[1]:
                self._token = self._fetch_token(oauth)
            return {"Authorization": f"Bearer {self._token[0]}"}

    def _fetch_token(self, oauth: OAuthClient) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if oauth.scopes:
            form["scope"] = " ".join(oauth.scopes)
        try:
            response = self._http.post(oauth.token_url, data=form, timeout=self.config.timeout_s,
                                       auth=(oauth.client_id, oauth.client_secret),
                                       verify=self.config.verify)
        except requests.RequestException as exc:
            raise SmdUnavailable(f"no OAuth2 token from {oauth.token_url}: "
                                 f"{type(exc).__name__}") from None
        body = _decode(response) if response.ok else None
        token = field(body, "access_token") if isinstance(body, dict) else None
        if not token:
            raise SmdUnavailable(f"no OAuth2 token from {oauth.token_url}: answered "
                                 f"{response.status_code}")
        lifetime = float(field(body, "expires_in") or 300)
        # Renewed a little early, so that a call never carries a token expiring in flight.
        return str(token), time.monotonic() + max(1.0, lifetime - min(30.0, lifetime / 4))


def _decode(response: requests.Response):
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise SmdUnavailable(f"SMD answered {response.status_code} with a body that is not "
                             f"JSON") from None


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = field(body, "detail") if isinstance(body, dict) else None
    return str(detail or " ".join(response.text.split())[:200] or response.reason)


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
