"""One BMC exchange, timed and described; reads retried with care, actions never blindly."""
from __future__ import annotations

import hashlib
import http.client
import json
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import urlsplit

import requests
import urllib3

from pcs import metrics
from pcs.redfish.messages import describe_http_error

RESPONSE_KEEP_BYTES = 4096
# A Redfish resource is a few kilobytes; a BMC that sends more is not read further.
RESPONSE_MAX_BYTES = 2 * 1024 * 1024
REDIRECTS_FOLLOWED = 3     # by path, on the BMC's own address only
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
READ_ATTEMPTS = 3          # a GET is retried on transport errors and 5xx, never a POST
READ_RETRY_PAUSE_S = 0.2

# Redfish PowerState -> the PCS powerState of a component (a state in motion has not arrived).
POWER_STATE_FOR = {"on": "on", "off": "off", "poweringon": "off", "poweringoff": "on",
                   "paused": "on"}


def bmc_path(url: str) -> str:
    """The path (and query) of a URL a BMC gave, in an action target, a Members link, a
    Location header or anywhere else. Scheme, host and port always come from the registered
    address: a BMC that names another host must not receive our credentials there."""
    parts = urlsplit(url)
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    return path + (f"?{parts.query}" if parts.query else "")


def in_motion(exchange: "Exchange") -> bool:
    """Whether a power-state read shows a change under way (PoweringOn / PoweringOff)."""
    raw = str((exchange.json or {}).get("PowerState") or "").lower()
    return raw in ("poweringon", "poweringoff")


@dataclass(frozen=True)
class BmcAddress:
    """Where a BMC answers and how to authenticate. repr() never shows the password."""
    host_port: str
    scheme: str
    username: str
    password: str = field(repr=False)
    verify_tls: bool = True
    ca_bundle: str | None = None       # path of a CA bundle (PCS_CA_BUNDLE)
    ca_pem: str | None = None          # this BMC's own CA certificates, PEM; before ca_bundle

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host_port}"

    @property
    def verify(self) -> bool | str:
        """requests' verify: False only by the BMC's explicit opt-out; else the BMC's own CA,
        the configured bundle, or the default trust store."""
        if not self.verify_tls:
            return False
        if self.ca_pem:
            return ca_file(self.ca_pem)
        return self.ca_bundle or True


_ca_dir: Path | None = None
_ca_lock = threading.Lock()


def ca_file(pem: str) -> str:
    """A file holding these PEM certificates (requests verifies against a path), one per
    distinct content for the life of the process."""
    global _ca_dir
    with _ca_lock:
        if _ca_dir is None:
            _ca_dir = Path(tempfile.mkdtemp(prefix="pcs-ca-"))
        path = _ca_dir / (hashlib.sha256(pem.encode()).hexdigest()[:32] + ".pem")
        if not path.exists():
            path.write_text(pem)
        return str(path)


@dataclass
class Exchange:
    """One HTTP request to a BMC and what came back. Holds no secrets."""
    method: str
    path: str
    request_body: dict | None
    sent_at: datetime
    status_code: int | None = None
    response_body: str | None = None
    error_class: str | None = None     # timeout | connection | tls | auth | http
    error: str | None = None           # operator-facing text quoting the BMC
    latency_ms: float | None = None
    json: dict | None = field(default=None, repr=False)
    final_url: str | None = None       # path answered at, after redirects on this BMC
    retry_after_s: float | None = None  # a busy BMC's Retry-After, in seconds
    location: str | None = None        # path of the task monitor of a 202 Accepted
    earlier: list["Exchange"] = field(default_factory=list, repr=False)  # retried attempts
    maybe_delivered: bool = False      # failed after the request may have reached the BMC

    @property
    def ok(self) -> bool:
        return self.error_class is None


class RedfishClient:
    """Talks to one BMC with one keep-alive session. Thread-safe for concurrent calls."""

    def __init__(self, address: BmcAddress, connect_timeout_s: float = 5.0,
                 read_timeout_s: float = 30.0, action_timeout_s: float = 40.0,
                 on_unauthorized: Callable[[], None] | None = None):
        """on_unauthorized: called after the BMC answers 401 (its credentials may have
        changed at their source)."""
        self.address = address
        self.on_unauthorized = on_unauthorized
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.action_timeout_s = action_timeout_s
        self.session = requests.Session()
        # Environment variables (proxies, REQUESTS_CA_BUNDLE) must not change how BMCs are reached.
        self.session.trust_env = False
        # As UTF-8: requests would encode str credentials as Latin-1 and fail on others.
        self.session.auth = (address.username.encode(), address.password.encode())
        self.session.headers.update({"Accept": "application/json"})
        if address.scheme == "https":
            self.session.verify = address.verify
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=16, max_retries=0)
        self.session.mount(address.base_url, adapter)

    def get(self, path: str) -> Exchange:
        """GET a resource; transport errors and 5xx are retried a few times. The last attempt
        is returned, the ones before it in its `earlier`."""
        exchange = self._send("GET", path, None, self.read_timeout_s)
        earlier = []
        for _ in range(READ_ATTEMPTS - 1):
            retryable = exchange.error_class in ("timeout", "connection") or (
                exchange.status_code is not None and exchange.status_code >= 500)
            if not retryable:
                break
            earlier.append(exchange)
            time.sleep(READ_RETRY_PAUSE_S)
            exchange = self._send("GET", path, None, self.read_timeout_s)
        exchange.earlier = earlier
        return exchange

    def get_power_state(self, system_path: str) -> tuple[str | None, Exchange]:
        """('on' | 'off' | 'undefined' or None on error, the exchange)."""
        exchange = self.get(system_path)
        if not exchange.ok:
            return None, exchange
        resource = exchange.json or {}
        if "PowerState" not in resource and "ManagerType" in resource:
            return "on", exchange   # a manager (BMC) has no PowerState: answering means on
        raw = str(resource.get("PowerState") or "").lower()
        return POWER_STATE_FOR.get(raw, "undefined"), exchange

    def reset(self, target: str, reset_type: str, parameter: str = "ResetType") -> Exchange:
        """POST a power action (Reset, or an outlet's PowerControl with parameter PowerState).
        Never retried here: the caller decides after reading the state."""
        return self._send("POST", target, {parameter: reset_type}, self.action_timeout_s)

    def send(self, method: str, path: str, body: dict) -> Exchange:
        """A write with a JSON body (a capping PATCH or POST). Never retried here."""
        return self._send(method, path, body, self.action_timeout_s)

    def close(self) -> None:
        self.session.close()

    def _send(self, method: str, path: str, body: dict | None, read_timeout: float) -> Exchange:
        path = bmc_path(path)
        exchange = Exchange(method, urlsplit(path).path, body, datetime.now(timezone.utc))
        started = time.monotonic()
        failure = None   # the metrics' finer name of a connection error
        try:
            response = self._request(method, path, body, read_timeout)
        except requests.exceptions.SSLError as exc:
            exchange.error_class, exchange.error = "tls", f"TLS error talking to BMC: {_root(exc)}"
        except (requests.exceptions.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError):
            exchange.error_class = "timeout"
            exchange.error = (f"No connection to BMC at {self.address.host_port} within "
                              f"{self.connect_timeout_s:g} s")
        except requests.exceptions.Timeout:
            exchange.error_class, exchange.maybe_delivered = "timeout", True
            exchange.error = f"No response from BMC within {read_timeout:g} s"
        except requests.exceptions.ConnectionError as exc:
            exchange.error_class = "connection"
            exchange.error = _connection_error(self.address.host_port, exc)
            failure = connection_failure(exc)
            # Refused: never reached the BMC. Closed or reset: it may have been read.
            exchange.maybe_delivered = "refused" not in exchange.error
        except requests.exceptions.RequestException as exc:
            exchange.error_class, exchange.error = "connection", f"Request to BMC failed: {exc}"
        else:
            _fill_from_response(exchange, response)
            if response.status_code == 401 and self.on_unauthorized is not None:
                self.on_unauthorized()
        elapsed_s = time.monotonic() - started
        exchange.latency_ms = round(elapsed_s * 1000, 3)
        metrics.bmc_request_done(method, exchange.status_code, failure or exchange.error_class,
                                 elapsed_s)
        return exchange

    def _request(self, method: str, path: str, body: dict | None,
                 read_timeout: float) -> requests.Response:
        """The BMC's answer, its body read (at most RESPONSE_MAX_BYTES). Redirects of a read
        are followed by their path on this BMC; requests never follows one with our
        credentials to wherever the BMC points."""
        for _ in range(REDIRECTS_FOLLOWED + 1):
            response = self.session.request(
                method, self.address.base_url + path, json=body, stream=True,
                timeout=(self.connect_timeout_s, read_timeout), allow_redirects=False)
            location = response.headers.get("Location")
            if method != "GET" or response.status_code not in REDIRECT_STATUSES or not location:
                break
            response.close()
            path = bmc_path(location)
        _read_capped(response)
        response.url = path   # where it answered, as a path of this BMC
        return response


def _read_capped(response: requests.Response) -> None:
    """Read the body into response.content, or stop at RESPONSE_MAX_BYTES (marking the
    response `oversize` and closing its connection)."""
    data, response.oversize = bytearray(), False
    try:
        for chunk in response.iter_content(64 * 1024):
            data += chunk
            if len(data) > RESPONSE_MAX_BYTES:
                response.oversize = True
                del data[RESPONSE_MAX_BYTES:]
                break
    finally:
        response.close()
    response._content = bytes(data)   # what .text and .json() read


def _fill_from_response(exchange: Exchange, response: requests.Response) -> None:
    exchange.status_code = response.status_code
    exchange.final_url = response.url
    if response.oversize:
        exchange.error_class = "http"
        exchange.error = (f"BMC answer larger than {RESPONSE_MAX_BYTES} bytes "
                          f"(HTTP {response.status_code}); not read further")
        return
    text = response.text or ""
    exchange.response_body = text[:RESPONSE_KEEP_BYTES]
    try:
        exchange.json = json.loads(text) if text.strip() else None
    except ValueError:
        exchange.json = None
    retry_after = response.headers.get("Retry-After", "")
    if retry_after.strip().isdigit():
        exchange.retry_after_s = float(retry_after)
    if response.status_code == 202:
        location = response.headers.get("Location", "")
        exchange.location = urlsplit(bmc_path(location)).path if location else None
    if response.status_code in (401, 403):
        exchange.error_class = "auth"
        exchange.error = ("Authentication with the BMC failed (check its username and password): "
                          + describe_http_error(response.status_code, exchange.json, text))
    elif response.status_code >= 400:
        exchange.error_class = "http"
        exchange.error = describe_http_error(response.status_code, exchange.json, text)


def connection_failure(exc: BaseException) -> str:
    """'refused' (the request never reached the BMC), 'closed' (the BMC dropped the
    connection, perhaps after reading the request) or 'connection' (anything else), by the
    exception types that requests and urllib3 wrap."""
    seen, pending = set(), [exc]
    while pending:
        cause = pending.pop()
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError):
            return "refused"
        if isinstance(cause, (ConnectionResetError, BrokenPipeError,
                              http.client.RemoteDisconnected)):
            return "closed"
        # requests and urllib3 keep the cause in args or `reason` as well as in the chain.
        pending += [c for c in (cause.__cause__, cause.__context__, getattr(cause, "reason", None),
                                *cause.args) if isinstance(c, BaseException)]
    return "connection"


def _connection_error(host_port: str, exc: Exception) -> str:
    text = str(_root(exc))
    if "refused" in text.lower():
        return f"Connection refused by BMC at {host_port}"
    if "reset" in text.lower() or "aborted" in text.lower() or "closed" in text.lower():
        return f"BMC at {host_port} closed the connection without answering"
    return f"Cannot reach BMC at {host_port}: {text}"


def _root(exc: BaseException) -> BaseException:
    while exc.__context__ is not None and exc.__context__ is not exc:
        if isinstance(exc, OSError) and exc.args:
            break
        exc = exc.__context__
    return exc
