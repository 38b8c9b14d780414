"""Who may call the API: bearer tokens checked against a JWKS, roles per route, an audit line
per state-changing request, and the rule that an unauthenticated API stays on loopback.

As upstream (INTEGRATION.md §5): a token comes from `Authorization: Bearer` or the cookie `jwt`,
its signature is checked against the JWKS at JWKS_URL, exp/nbf/iat when present, and `sub`,
`iss` and `aud` must exist; the probes and the OpenAPI document are exempt. Unlike upstream,
pcs fails closed (503 until the keys are fetched), refreshes the keys, can check aud and iss,
and, when PCS_ROLES_CLAIM is set, tells a read role from an operator role (403).
"""
from __future__ import annotations

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass

import jwt
from flask import Flask, g, request

from pcs.config import Settings
from pcs.errors import (AuthenticationUnavailable, ConfigurationError, NotAuthenticated,
                        NotPermitted)

log = logging.getLogger(__name__)

# Upstream's failure texts, exactly (clients and operators grep for them).
NO_TOKEN = "no token found"
EXPIRED = "token is expired"
NBF_FAILED = "token nbf validation failed"
IAT_FAILED = "token iat validation failed"
UNAUTHORIZED = "token is unauthorized"
MISSING_CLAIM = "missing required claim"

REQUIRED_CLAIMS = ("sub", "iss", "aud")
LEEWAY_S = 10                # clock skew tolerated on exp, nbf and iat
UNKNOWN_KID_COOLDOWN_S = 10  # a flood of made-up key IDs costs one JWKS fetch per cooldown
RETRY_FETCH_S = 2.0          # until the first fetch succeeds

PREFIXES = ("/apis/power-control/v1", "/v1")
EXEMPT = {"/liveness", "/readiness", "/health", "/openapi.json"}
# Requests that only read, though they are POSTs (upstream's query-by-body routes).
READING_POSTS = {"/power-status", "/power-cap/snapshot"}
READ, OPERATOR = "read", "operator"


def route_path(path: str) -> str:
    """The path without the /v1 or gateway prefix and without a trailing slash."""
    for prefix in PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            path = path[len(prefix):]
            break
    return path.rstrip("/") or "/"


def required_role(method: str, path: str) -> str | None:
    """READ, OPERATOR, or None for a route anyone may call."""
    route = route_path(path)
    if route in EXEMPT:
        return None
    if route == "/inventory" or route.startswith("/inventory/"):
        return OPERATOR   # BMC addresses and user names are for operators only
    if method in ("GET", "HEAD", "OPTIONS") or (method == "POST" and route in READING_POSTS):
        return READ
    return OPERATOR


def changes_state(method: str, path: str) -> bool:
    return method not in ("GET", "HEAD", "OPTIONS") and not (
        method == "POST" and route_path(path) in READING_POSTS)


@dataclass(frozen=True)
class Identity:
    subject: str
    roles: frozenset[str]


class KeySet:
    """The JWKS, fetched by PyJWT's client: in the background until the first success, then
    every `refresh_s`, and on a token whose `kid` is unknown (at most once per cooldown). A
    failed refresh keeps the keys already known."""

    def __init__(self, url: str, refresh_s: float):
        self._client = jwt.PyJWKClient(url, cache_jwk_set=False, timeout=5)
        self._refresh_s = refresh_s
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._last_try = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()

    @property
    def ready(self) -> bool:
        return self._keys is not None

    def start(self) -> None:
        threading.Thread(target=self._keep_fresh, name="jwks-refresh", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _keep_fresh(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self._refresh_s if self.ready else RETRY_FETCH_S)

    def refresh(self) -> bool:
        """Fetch the keys now; False (logged) when the endpoint fails."""
        with self._lock:
            self._last_try = time.monotonic()
            try:
                jwk_set = self._client.get_jwk_set(refresh=True)
            except (jwt.PyJWKClientError, jwt.PyJWKSetError) as exc:
                log.warning("cannot fetch the signing keys from %s: %s", self._client.uri, exc)
                return False
            self._keys = {k.key_id: k for k in jwk_set.keys
                          if k.key_id and k.public_key_use in ("sig", None)}
            return True

    def key_for(self, kid: str | None) -> jwt.PyJWK | None:
        """The key with this ID, fetching the set again if it is unknown and the last fetch
        is older than the cooldown. Raises AuthenticationUnavailable before the first fetch."""
        keys = self._keys
        if keys is None:
            raise AuthenticationUnavailable(
                "authentication is configured but the signing keys (JWKS) are not fetched yet")
        if kid in keys or not isinstance(kid, str):
            return keys.get(kid)
        if time.monotonic() - self._last_try >= UNKNOWN_KID_COOLDOWN_S:
            self.refresh()
        return (self._keys or {}).get(kid)


class TokenVerifier:
    def __init__(self, settings: Settings, keys: KeySet):
        self.settings, self.keys = settings, keys

    def identity(self, token: str) -> Identity:
        """The token's subject and roles. Raises NotAuthenticated with upstream's text, or
        AuthenticationUnavailable before the keys are known."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise NotAuthenticated(UNAUTHORIZED) from None
        key = self.keys.key_for(header.get("kid"))
        if key is None:
            raise NotAuthenticated(UNAUTHORIZED)
        # The key's own algorithm only (PyJWT infers it from the key when the JWK names
        # none): never `none`, and never HMAC, whose "secret" would be a published key.
        algorithms = [] if key.key_type == "oct" else [key.algorithm_name]
        audience, issuer = self.settings.jwt_audience, self.settings.jwt_issuer
        try:
            claims = jwt.decode(
                token, key.key, algorithms=algorithms, audience=audience, issuer=issuer,
                leeway=LEEWAY_S,
                # nbf and iat are checked below, where each gets its own upstream text.
                options={"require": list(REQUIRED_CLAIMS), "verify_aud": bool(audience),
                         "verify_iss": bool(issuer), "verify_nbf": False, "verify_iat": False})
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated(EXPIRED) from None
        except jwt.MissingRequiredClaimError:
            raise NotAuthenticated(MISSING_CLAIM) from None
        except jwt.InvalidTokenError:   # signature, algorithm, aud, iss, malformed
            raise NotAuthenticated(UNAUTHORIZED) from None
        now = time.time()
        for claim, text in (("nbf", NBF_FAILED), ("iat", IAT_FAILED)):
            if claim in claims and not _in_past(claims[claim], now):
                raise NotAuthenticated(text)
        return Identity(str(claims["sub"]), self._roles(claims))

    def _roles(self, claims: dict) -> frozenset[str]:
        path = self.settings.roles_claim
        if not path:
            return frozenset()
        value = claims
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            return frozenset(value.replace(",", " ").split())
        if isinstance(value, list):
            return frozenset(str(v) for v in value)
        return frozenset()


def _in_past(value, now: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and (
        value <= now + LEEWAY_S)


def bearer_token() -> str:
    """The request's token: `Authorization: Bearer <t>` (scheme in any case), else the cookie
    `jwt`. Raises NotAuthenticated."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if request.cookies.get("jwt"):
        return request.cookies["jwt"]
    raise NotAuthenticated(NO_TOKEN)


def may(settings: Settings, identity: Identity, role: str) -> bool:
    if not settings.roles_claim:
        return True   # upstream's tokens carry no roles: a valid one may do everything
    if settings.operator_role in identity.roles:
        return True
    return role == READ and settings.read_role in identity.roles


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings, host: str) -> None:
    """Refuse to serve without authentication on anything but loopback unless told to, and
    say so at every start when told. Raises ConfigurationError."""
    if settings.jwks_url or is_loopback(host):
        return
    if not settings.auth_disabled:
        raise ConfigurationError(
            f"refusing to serve the API on {host} without authentication: set JWKS_URL (or "
            "PCS_JWKS_URL) to verify tokens, bind 127.0.0.1 (PCS_API_HOST), or set "
            "PCS_AUTH_DISABLED=true to allow anyone who can reach it to power the machine")
    log.warning("AUTHENTICATION IS DISABLED (PCS_AUTH_DISABLED=true) and the API serves %s: "
                "anyone who can reach it can power components on and off", host)


def install(app: Flask, settings: Settings) -> None:
    """Check every request's token and role before its view (api/observe.py writes the audit
    line of the state-changing ones). Without a JWKS URL requests are anonymous (the API is on
    loopback)."""
    check_bind(settings, settings.api_host)
    verifier = None
    if settings.jwks_url:
        keys = KeySet(settings.jwks_url, settings.jwks_refresh_s)
        keys.start()
        app.extensions["pcs.keys"] = keys
        verifier = TokenVerifier(settings, keys)

    @app.before_request
    def authenticate():
        g.identity = None
        role = required_role(request.method, request.path)
        if verifier is None or role is None:
            return
        identity = verifier.identity(bearer_token())
        g.identity = identity
        if not may(settings, identity, role):
            wanted = settings.operator_role if role == OPERATOR else (
                f"{settings.read_role} or {settings.operator_role}")
            raise NotPermitted(f"the token of {identity.subject} lacks the role this needs "
                               f"({wanted}, in claim {settings.roles_claim})")



def subject() -> str | None:
    """The authenticated caller's subject (None without authentication, or before it)."""
    identity = g.get("identity")
    return identity.subject if identity is not None else None


def requester() -> dict:
    """Who asked, as stored with a transition or lock: the token's subject once authenticated."""
    who = {"address": request.remote_addr, "userAgent": request.headers.get("User-Agent", "")}
    identity = g.get("identity")
    if identity is not None:
        who["subject"] = identity.subject
    return who
