"""The only place that maps exceptions to HTTP statuses; every error is RFC 7807 problem+json."""
from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, json
from marshmallow import ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from pcs.errors import (AuthenticationUnavailable, BmcRegistrationFailed, BrokerUnavailable,
                        Conflict, DatabaseUnavailable, InvalidRequest, NotAuthenticated,
                        NotFound, NotPermitted, PcsError, RequestTooLarge, TooManyLocations,
                        TooManyStreams, TransitionFinished, UnsupportedContentType)

log = logging.getLogger(__name__)

STATUS_FOR: dict[type[PcsError], int] = {
    InvalidRequest: 400, TransitionFinished: 400, NotAuthenticated: 401, NotPermitted: 403,
    NotFound: 404, Conflict: 409, TooManyLocations: 413, RequestTooLarge: 413,
    UnsupportedContentType: 415, BmcRegistrationFailed: 422, DatabaseUnavailable: 503,
    BrokerUnavailable: 503, AuthenticationUnavailable: 503, TooManyStreams: 503,
}


RETRY_AFTER_S = 5


def problem(status: int, detail: str):
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
            "detail": detail}
    headers = {"Content-Type": "application/problem+json"}
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_S)   # an outage or overload: try again soon
    return json.dumps(body), status, headers


def validation_detail(error: ValidationError) -> str:
    """'taskDeadlineMinutes: Not a valid integer.' — the field first, as clients grep for it."""
    return "; ".join(_flatten(error.messages)) or "invalid request"


def _flatten(messages, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            name = f"{prefix}{key}" if prefix == "" else f"{prefix}.{key}"
            if key == "_schema":
                name = prefix.rstrip(".")
            out += _flatten(value, name)
        return out
    if isinstance(messages, list):
        texts = [m for m in messages if isinstance(m, str)]
        nested = [m for m in messages if not isinstance(m, str)]
        out = [f"{prefix}: {t}" if prefix else t for t in texts]
        for item in nested:
            out += _flatten(item, prefix)
        return out
    return [f"{prefix}: {messages}" if prefix else str(messages)]


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(PcsError)
    def pcs_error(error: PcsError):
        status = next((s for cls, s in STATUS_FOR.items() if isinstance(error, cls)), 500)
        if status >= 500:
            # Outages and configuration errors say what is wrong; they carry no secrets.
            log.error("request failed: %s", error)
        response = problem(status, str(error))
        if status == 401:
            response[2]["WWW-Authenticate"] = "Bearer"   # RFC 6750: how to authenticate
        return response

    @app.errorhandler(ValidationError)
    def invalid(error: ValidationError):
        return problem(400, validation_detail(error))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        detail = error.description or HTTPStatus(error.code).phrase
        response = problem(error.code, detail)
        if error.code == 405 and error.valid_methods:
            response[2]["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_down(error):
        log.warning("database unavailable: %s", error)
        return problem(503, "database unavailable")

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unexpected error")
        return problem(500, "internal error (see the service log)")
