"""Request bodies: what a request may carry before anything reads it, and reading a JSON body
with errors that say what is wrong.

A web page open in an operator's browser can send simple cross-site requests (form or text
bodies, no preflight) to an API on 127.0.0.1. Browsers mark them with an Origin header, so:
a foreign Origin is refused (403), and a body that comes with an Origin must be declared
application/json (415), which a page can only send after a CORS preflight this API never
grants. Scripts (curl) send no Origin and may still post JSON under another type, as upstream
accepts. Without authentication the Host must also name this machine by address or
`localhost`, which defeats DNS rebinding (a hostile name resolving to 127.0.0.1), and the
address the server listens on must be loopback.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import Flask, request

from pcs.api.auth import is_loopback, required_role
from pcs.config import Settings
from pcs.errors import (InvalidRequest, NotPermitted, RequestTooLarge, TooManyLocations,
                        UnsupportedContentType)

BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def install(app: Flask, settings: Settings) -> None:
    """Refuse, before any view reads it, a request that is too large or browser-forged."""
    # Bodies sent without a length (chunked) are cut off by Werkzeug at the same size.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    check_host = not settings.jwks_url and not settings.auth_disabled

    @app.before_request
    def guard():
        if required_role(request.method, request.path) is None:
            return   # probes answer whoever asks
        bound = request.environ.get("SERVER_NAME", "")
        if check_host and not is_loopback(bound):
            # gunicorn was given another --bind than PCS_API_HOST: serve no one.
            raise NotPermitted(f"the API listens on {bound} without authentication; set "
                               "JWKS_URL, bind PCS_API_HOST=127.0.0.1, or PCS_AUTH_DISABLED")
        if check_host and not _ip_or_localhost(request.host):
            raise NotPermitted(f"Host '{request.host}' refused: without authentication the "
                               "API answers only to its address or localhost")
        origin = request.headers.get("Origin")
        if origin is not None and not _same_origin(origin, request.host):
            raise NotPermitted(f"cross-site request from Origin '{origin}' refused")
        if request.content_length and request.content_length > settings.max_body_bytes:
            raise RequestTooLarge(f"request body of {request.content_length} bytes; at most "
                                  f"{settings.max_body_bytes} (PCS_MAX_BODY_BYTES)")
        if (origin is not None and request.method in BODY_METHODS and _has_body()
                and request.mimetype != "application/json"):
            raise UnsupportedContentType(
                f"request body must be application/json, not '{request.mimetype or 'none'}'")


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get(
        "Transfer-Encoding", "").lower()


def _same_origin(origin: str, host: str) -> bool:
    """Whether the Origin names the host the request was sent to (scheme aside)."""
    parts = urlsplit(origin)
    return bool(parts.scheme) and parts.netloc.lower() == host.lower()


def _ip_or_localhost(host: str) -> bool:
    name = urlsplit(f"//{host}").hostname or ""
    if is_loopback(name):
        return True
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def json_body() -> dict:
    """The request's JSON object. Raises InvalidRequest for an empty, malformed or non-object body."""
    raw = request.get_data(cache=True)
    if not raw or not raw.strip():
        raise InvalidRequest("request body is empty")
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise InvalidRequest("request body is not valid JSON")
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def at_most(body: dict, field: str, limit: int) -> dict:
    """The body, if its list `field` holds at most `limit` entries: counted before the schema
    loads every entry. Raises TooManyLocations (413)."""
    entries = body.get(field)
    if isinstance(entries, list) and len(entries) > limit:
        raise TooManyLocations(f"{len(entries)} entries in {field}; at most {limit} per "
                               "request (PCS_MAX_LOCATIONS)")
    return body
