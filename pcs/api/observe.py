"""What the API tells about each request: a request ID, an access line, an audit line for every
state-changing request, and the request's route, status and time in the metrics.

The audit line names the caller's subject once authentication has verified its token (None
without authentication), for every request that changes state (api/auth.py says which).
"""
from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from pcs import metrics
from pcs.api import auth
from pcs.runtime.logs import add_log_context, reset_log_context

access_log = logging.getLogger("pcs.access")
audit_log = logging.getLogger("pcs.audit")

REQUEST_ID_HEADER = "X-Request-ID"
# A client's own request ID is kept when it is a plain token, so that it cannot forge log lines.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
UNMATCHED_ROUTE = "unmatched"


def install(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_end)
    app.teardown_request(_forget)


def _begin() -> None:
    g.started = time.perf_counter()
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = offered if _CLIENT_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
    g.log_context = add_log_context(request_id=g.request_id)


def _end(response: Response) -> Response:
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
    status = response.status_code
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    metrics.API_REQUEST_DURATION.labels(request.method, route, str(status)).observe(seconds)
    who = {"remote_addr": request.remote_addr,
           "user_agent": request.headers.get("User-Agent", "")}
    access_log.info("%s %s %s %.1f ms", request.method, request.full_path.rstrip("?"), status,
                    seconds * 1000, extra={"fields": {
                        "method": request.method, "path": request.path, "route": route,
                        "status": status, "duration_ms": round(seconds * 1000, 3), **who}})
    if auth.changes_state(request.method, request.path):
        record = {"subject": auth.subject(), "method": request.method, "path": request.path,
                  "status": status, "address": request.remote_addr,
                  "userAgent": who["user_agent"]}
        audit_log.info("audit %s", json.dumps(record), extra={"fields": {
            "audit": True, "subject": record["subject"], "method": request.method,
            "path": request.path, "route": route, "status": status,
            "transition_id": _created_transition(response), **who}})
    return response


def _forget(_error) -> None:
    # A server thread serves many requests: the next one must not carry this one's ID.
    token = g.pop("log_context", None)
    if token is not None:
        try:
            reset_log_context(token)
        except ValueError:   # a streamed response ends in another context
            pass


def _created_transition(response: Response) -> str | None:
    """The transition a POST /transitions created (its Location names it)."""
    location = response.headers.get("Location", "")
    return location.rsplit("/", 1)[-1] if "transitions/" in location else None
