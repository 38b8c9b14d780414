"""One BMC exchange, timed and described; reads retried with care, actions never blindly.

HTTP goes through urllib3 directly: a keep-alive connection pool per BMC and a shared SSLContext
(pcs.redfish.tls). Nothing is taken from the environment: no proxy, no CA bundle, no key log."""
from __future__ import annotations

import base64
import codecs
import http.client
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from typing import Callable, NamedTuple
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import (ConnectTimeoutError, HTTPError, NewConnectionError,
                                ReadTimeoutError, SSLError)

from pcs import metrics
from pcs.redfish import tls
from pcs.redfish.messages import describe_http_error

RESPONSE_KEEP_BYTES = 4096
# A Redfish resource is a few kilobytes; a BMC that sends more is not read further.
RESPONSE_MAX_BYTES = 2 * 1024 * 1024
RESPONSE_CHUNK_BYTES = 64 * 1024   # read size of a body whose length is not known up front
REDIRECTS_FOLLOWED = 3     # by path, on the BMC's own address only
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
READ_ATTEMPTS = 3          # a GET is retried on transport errors and 5xx, never a POST
READ_RETRY_PAUSE_S = 0.2
CONNECTIONS_PER_BMC = 16   # kept open for reuse; more at once are opened and then closed
# urllib3 itself neither retries nor follows redirects: this module decides both.
NO_RETRIES = urllib3.Retry(total=False, redirect=False)

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
    """Talks to one BMC over a pool of keep-alive connections. Thread-safe for concurrent
    calls."""

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
        # Built once: a Timeout per call and the header per request would cost CPU each time.
        self._timeouts = {t: urllib3.Timeout(connect=connect_timeout_s, read=t)
                          for t in (read_timeout_s, action_timeout_s)}
        login = f"{address.username}:{address.password}".encode()   # UTF-8, not Latin-1
        self._headers = {"Accept": "application/json", "User-Agent": "pcs",
                         "Authorization": "Basic " + base64.b64encode(login).decode()}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self._tls_failure: Exception | None = None   # a trust store that cannot be loaded
        self._pool = self._open_pool()

    def _open_pool(self) -> urllib3.HTTPConnectionPool:
        url = urllib3.util.parse_url(self.address.base_url)
        options = {"maxsize": CONNECTIONS_PER_BMC, "block": False, "retries": NO_RETRIES}
        if self.address.scheme != "https":
            return urllib3.HTTPConnectionPool(url.host, url.port, **options)
        try:
            context = tls.context_for(self.address.verify_tls, self.address.ca_bundle,
                                      self.address.ca_pem)
        except (OSError, ValueError) as exc:   # ssl.SSLError is an OSError
            # Reported by every call, as a TLS failure of its exchange.
            self._tls_failure = exc
            return urllib3.HTTPSConnectionPool(url.host, url.port, **options)
        return urllib3.HTTPSConnectionPool(url.host, url.port, ssl_context=context, **options)

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
        """Close the idle connections; one in use is closed when its call ends."""
        self._pool.close()

    def _send(self, method: str, path: str, body: dict | None, read_timeout: float) -> Exchange:
        path = bmc_path(path)
        exchange = Exchange(method, urlsplit(path).path, body, datetime.now(timezone.utc))
        started = time.monotonic()
        failure = None   # the metrics' finer name of a connection error
        try:
            answer = self._request(method, path, body, read_timeout)
        except SSLError as exc:
            exchange.error_class, exchange.error = "tls", f"TLS error talking to BMC: {exc}"
        except NewConnectionError as exc:   # before ConnectTimeoutError, of which it is a kind
            exchange.error_class = "connection"
            failure = connection_failure(exc)
            exchange.error = _connection_error(self.address.host_port, failure, exc)
        except ConnectTimeoutError:
            exchange.error_class = "timeout"
            exchange.error = (f"No connection to BMC at {self.address.host_port} within "
                              f"{self.connect_timeout_s:g} s")
        except (ReadTimeoutError, TimeoutError):
            exchange.error_class, exchange.maybe_delivered = "timeout", True
            exchange.error = f"No response from BMC within {read_timeout:g} s"
        except (HTTPError, http.client.HTTPException, OSError) as exc:
            exchange.error_class = "connection"
            failure = connection_failure(exc)
            exchange.error = _connection_error(self.address.host_port, failure, exc)
            # Closed or reset: the BMC may have read the request.
            exchange.maybe_delivered = True
        else:
            _fill_from_answer(exchange, answer)
            if answer.status == 401 and self.on_unauthorized is not None:
                self.on_unauthorized()
        elapsed_s = time.monotonic() - started
        exchange.latency_ms = round(elapsed_s * 1000, 3)
        metrics.bmc_request_done(method, exchange.status_code, failure or exchange.error_class,
                                 elapsed_s)
        return exchange

    def _request(self, method: str, path: str, body: dict | None,
                 read_timeout: float) -> _Answer:
        """The BMC's answer, its body read (at most RESPONSE_MAX_BYTES). Redirects of a read
        are followed by their path on this BMC, never to wherever the BMC points; a write's
        redirect is the answer."""
        if self._tls_failure is not None:
            raise SSLError(self._tls_failure)
        payload = json.dumps(body).encode() if body is not None else None
        headers = self._json_headers if body is not None else self._headers
        timeout = self._timeouts.get(read_timeout) or urllib3.Timeout(
            connect=self.connect_timeout_s, read=read_timeout)
        for _ in range(REDIRECTS_FOLLOWED + 1):
            response = self._pool.urlopen(
                method, path, body=payload, headers=headers, timeout=timeout,
                retries=NO_RETRIES, redirect=False, preload_content=False)
            answer = _Answer(response.status, response.headers, _read_capped(response), path)
            location = answer.headers.get("Location")
            if method != "GET" or answer.status not in REDIRECT_STATUSES or not location:
                break
            path = bmc_path(location)
        return answer


class _Answer(NamedTuple):
    status: int
    headers: urllib3.HTTPHeaderDict
    body: bytes | None   # None: larger than RESPONSE_MAX_BYTES, not read
    path: str            # where it answered, as a path of this BMC


def _read_capped(response: urllib3.BaseHTTPResponse) -> bytes | None:
    """The whole body, or None past RESPONSE_MAX_BYTES. The connection goes back to the pool
    when the body was read to its end, and is closed otherwise."""
    try:
        length = response.length_remaining   # from Content-Length
        if length is not None and length > RESPONSE_MAX_BYTES:
            return None
        if length is not None and not response.headers.get("Content-Encoding"):
            return response.read()   # exactly the announced length, in one call
        data = bytearray()   # chunked or compressed: its size is known only as it comes
        for chunk in response.stream(RESPONSE_CHUNK_BYTES):
            data += chunk
            if len(data) > RESPONSE_MAX_BYTES:
                return None
        return bytes(data)
    finally:
        if not response.closed:
            response.close()   # unread bytes remain: the connection cannot be reused
        response.release_conn()


def _fill_from_answer(exchange: Exchange, answer: _Answer) -> None:
    exchange.status_code = answer.status
    exchange.final_url = answer.path
    if answer.body is None:
        exchange.error_class = "http"
        exchange.error = (f"BMC answer larger than {RESPONSE_MAX_BYTES} bytes "
                          f"(HTTP {answer.status}); not read further")
        return
    text = _text(answer.body, answer.headers.get("Content-Type", ""))
    exchange.response_body = text[:RESPONSE_KEEP_BYTES]
    try:
        exchange.json = json.loads(text) if text.strip() else None
    except ValueError:
        exchange.json = None
    retry_after = answer.headers.get("Retry-After", "")
    if retry_after.strip().isdigit():
        exchange.retry_after_s = float(retry_after)
    if answer.status == 202:
        location = answer.headers.get("Location", "")
        exchange.location = urlsplit(bmc_path(location)).path if location else None
    if answer.status in (401, 403):
        exchange.error_class = "auth"
        exchange.error = ("Authentication with the BMC failed (check its username and password): "
                          + describe_http_error(answer.status, exchange.json, text))
    elif answer.status >= 400:
        exchange.error_class = "http"
        exchange.error = describe_http_error(answer.status, exchange.json, text)


def _text(body: bytes, content_type: str) -> str:
    """The body as text: in the charset its Content-Type names, else UTF-8 (JSON's encoding);
    bytes that do not decode are replaced, not fatal."""
    charset = "utf-8"
    if "charset" in content_type:
        header = Message()
        header["Content-Type"] = content_type
        named = header.get_content_charset()
        try:
            charset = codecs.lookup(named).name if named else charset
        except LookupError:
            pass
    return body.decode(charset, errors="replace")


def connection_failure(exc: BaseException) -> str:
    """'refused' (the request never reached the BMC), 'closed' (the BMC dropped the
    connection, perhaps after reading the request) or 'connection' (anything else), by the
    exception types that urllib3 wraps."""
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
        # urllib3 keeps the cause in args or `reason` as well as in the chain.
        pending += [c for c in (cause.__cause__, cause.__context__, getattr(cause, "reason", None),
                                *cause.args) if isinstance(c, BaseException)]
    return "connection"


def _connection_error(host_port: str, failure: str, exc: BaseException) -> str:
    """The operator's line for a connection that failed: refused, closed, or the reason."""
    text = _reason(exc)
    if failure == "refused" or "refused" in text.lower():
        return f"Connection refused by BMC at {host_port}"
    if failure == "closed" or any(w in text.lower() for w in ("reset", "aborted", "closed")):
        return f"BMC at {host_port} closed the connection without answering"
    return f"Cannot reach BMC at {host_port}: {text}"


def _reason(exc: BaseException) -> str:
    """The words of the error under urllib3's wrapper ('[Errno -2] Name or service not
    known'), without the wrapper's object repr."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc)
