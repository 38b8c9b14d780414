"""GET /openapi.json: the OpenAPI 3 document of what this server does, built by apispec from the
marshmallow schemas that are the wire format, every route at every prefix it answers on, with
each status it can answer (the additions and the authentication included when configured)."""
from __future__ import annotations

from dataclasses import dataclass, field

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app

from pcs.api import power_cap_schemas as cap_schemas
from pcs.api import schemas
from pcs.api.auth import required_role
from pcs.config import Settings

bp = Blueprint("openapi", __name__)

JSON, PROBLEM, TEXT, EVENTS = ("application/json", "application/problem+json", "text/plain",
                               "text/event-stream")
LOCATION = {"Location": {"description": "relative URL of the created record",
                         "schema": {"type": "string"}}}
RETRY_AFTER = {"Retry-After": {"description": "seconds", "schema": {"type": "string"}}}
PHRASES = {200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 400: "Bad request",
           401: "No token, or one that does not verify (upstream's texts)",
           403: "The token lacks the role, or the request came from another site",
           404: "Not found", 405: "Method not allowed", 409: "Conflict",
           414: "Request line too long (answered by gunicorn)",
           413: "Body or list too large (PCS_MAX_BODY_BYTES, PCS_MAX_LOCATIONS)",
           415: "A browser-sent body that is not application/json",
           422: "The BMC could not be reached or refused",
           503: "A dependency is down, the keys are not fetched yet, or no stream slot is free"}


@dataclass(frozen=True)
class Op:
    """One operation: its answers (status -> (content type, schema or None)), the error
    statuses it may give besides, its request body and parameters."""
    summary: str
    answers: dict
    errors: tuple[int, ...] = ()
    body: object = None
    params: tuple[str, ...] = ()
    headers: dict = field(default_factory=dict)   # status -> response headers


DATA_ERRORS = (503,)     # database or broker down
BODY_ERRORS = (400, 413, 415)

V1_OPS: dict[str, dict[str, Op]] = {
    "/": {"get": Op("The probe text hms-power-control", {200: (TEXT, None)})},
    "/liveness": {"get": Op("The process answers", {204: (None, None)})},
    "/readiness": {"get": Op("Database, broker, a worker (and SMD) answer",
                             {204: (None, None), 503: (None, None)})},
    "/health": {"get": Op("Upstream's health keys", {200: (JSON, "Health")})},
    "/health/details": {"get": Op("Each dependency, its latency, the worker count",
                                  {200: (JSON, "HealthDetails")})},
    "/openapi.json": {"get": Op("This document", {200: (JSON, None)})},
    "/transitions": {
        "post": Op("Power components (upstream's 200 and Location)",
                   {200: (JSON, "TransitionCreated")}, BODY_ERRORS + DATA_ERRORS,
                   body="TransitionRequest", headers={200: LOCATION}),
        "get": Op("Every transition", {200: (JSON, "TransitionList")}, DATA_ERRORS)},
    "/transitions/{transition_id}": {
        "get": Op("A transition and its tasks", {200: (JSON, "TransitionDetail")},
                  (400, 404) + DATA_ERRORS, params=("transition_id",)),
        "delete": Op("Abort", {202: (JSON, "AbortAccepted")}, (400, 404) + DATA_ERRORS,
                     params=("transition_id",))},
    "/transitions/{transition_id}/tasks/{xname}": {
        "get": Op("A task with every Redfish exchange made for it",
                  {200: (JSON, "TaskExchanges")}, (400, 404) + DATA_ERRORS,
                  params=("transition_id", "xname", "offset", "limit"))},
    "/power-status": {
        "get": Op("Stored power state", {200: (JSON, "PowerStatusList")},
                  (400, 413) + DATA_ERRORS,
                  params=("xnames", "powerStateFilter", "managementStateFilter")),
        "post": Op("Stored power state, asked by body", {200: (JSON, "PowerStatusList")},
                   BODY_ERRORS + DATA_ERRORS, body="PowerStatusQuery")},
    "/power-cap": {
        "get": Op("Every power-cap task", {200: (JSON, "PowerCapList")}, DATA_ERRORS),
        "patch": Op("Set power limits; results are read back from the BMC",
                    {200: (JSON, "PowerCapCreated")}, BODY_ERRORS + DATA_ERRORS,
                    body="PowerCapPatchRequest", headers={200: LOCATION})},
    "/power-cap/snapshot": {
        "post": Op("Read power limits", {200: (JSON, "PowerCapCreated")},
                   BODY_ERRORS + DATA_ERRORS, body="PowerCapSnapshotRequest",
                   headers={200: LOCATION})},
    "/power-cap/{task_id}": {
        "get": Op("A power-cap task and its components", {200: (JSON, "PowerCapDetail")},
                  (400, 404) + DATA_ERRORS, params=("task_id",))},
}
ADDED_OPS: dict[str, dict[str, Op]] = {
    "/transitions/{transition_id}/events": {
        "get": Op("The transition's events (Server-Sent Events)", {200: (EVENTS, None)},
                  (400, 404) + DATA_ERRORS, params=("transition_id", "lastEventId"))},
    "/events": {"get": Op("Every task event (Server-Sent Events)", {200: (EVENTS, None)},
                          (400, 413) + DATA_ERRORS, params=("xnames", "lastEventId"))},
    "/inventory/bmcs": {
        "post": Op("Register a BMC; its components are discovered over Redfish",
                   {201: (JSON, "Bmc")}, BODY_ERRORS + (409, 422) + DATA_ERRORS,
                   body="BmcRequest", headers={201: LOCATION}),
        "get": Op("Every BMC (credentials are write-only)", {200: (JSON, "BmcList")},
                  DATA_ERRORS)},
    "/inventory/bmcs/{xname}": {
        "get": Op("A BMC", {200: (JSON, "Bmc")}, (400, 404) + DATA_ERRORS, params=("xname",)),
        "patch": Op("Change a BMC (a password is required to move it)", {200: (JSON, "Bmc")},
                    BODY_ERRORS + (404, 409, 422) + DATA_ERRORS, body="BmcPatch",
                    params=("xname",)),
        "delete": Op("Remove a BMC and its components", {204: (None, None)},
                     (400, 404, 409) + DATA_ERRORS, params=("xname",))},
    "/inventory/components": {
        "get": Op("Every component, with its last poll", {200: (JSON, "ComponentList")},
                  DATA_ERRORS)},
    "/queue": {"get": Op("Per component: the active task and the queued ones",
                         {200: (JSON, "QueueList")}, (400, 413) + DATA_ERRORS,
                         params=("xnames",))},
    "/queue/{xname}": {"get": Op("One component's queue", {200: (JSON, "ComponentQueue")},
                                 (400, 404, 413) + DATA_ERRORS, params=("xname",))},
    "/locks": {
        "post": Op("Lock components (administrator locks)", {200: (JSON, "LockList")},
                   BODY_ERRORS + DATA_ERRORS, body="LockRequest"),
        "get": Op("Every lock", {200: (JSON, "LockList")}, DATA_ERRORS)},
    "/locks/{xname}": {"delete": Op("Unlock", {204: (None, None)},
                                    (400, 404, 413) + DATA_ERRORS, params=("xname",))},
    "/power-cap/{task_id}/components/{xname}": {
        "get": Op("A power-cap component with every Redfish exchange made for it",
                  {200: (JSON, "CapTaskExchanges")}, (400, 404) + DATA_ERRORS,
                  params=("task_id", "xname", "offset", "limit"))},
}

PARAMETERS = {
    "transition_id": {"in": "path", "required": True, "schema": {"type": "string"}},
    "task_id": {"in": "path", "required": True, "schema": {"type": "string"}},
    "xname": {"in": "path", "required": True, "schema": {"type": "string"}},
    "xnames": {"in": "query", "name": "xname", "explode": True, "style": "form",
               "schema": {"type": "array", "items": {"type": "string"}},
               "description": "repeatable; hostlist ranges allowed on the additions"},
    "powerStateFilter": {"in": "query", "schema": {"type": "string"}},
    "managementStateFilter": {"in": "query", "schema": {"type": "string"}},
    "offset": {"in": "query", "schema": {"type": "integer", "minimum": 0}},
    "limit": {"in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    "lastEventId": {"in": "query", "schema": {"type": "string"}},
}
COMPONENTS = {
    "Problem": schemas.ProblemSchema, "Health": schemas.HealthSchema,
    "HealthDetails": schemas.HealthDetailsSchema,
    "TransitionRequest": schemas.TransitionRequest,
    "TransitionCreated": schemas.TransitionCreated, "TransitionList": schemas.TransitionList,
    "TransitionDetail": schemas.TransitionDetail, "AbortAccepted": schemas.AbortAccepted,
    "TaskExchanges": schemas.TaskExchanges, "PowerStatusList": schemas.PowerStatusList,
    "PowerStatusQuery": schemas.PowerStatusQuery, "BmcRequest": schemas.BmcRequest,
    "BmcPatch": schemas.BmcPatch, "Bmc": schemas.BmcSchema, "BmcList": schemas.BmcList,
    "ComponentList": schemas.ComponentList, "QueueList": schemas.QueueList,
    "ComponentQueue": schemas.ComponentQueueSchema, "LockRequest": schemas.LockRequest,
    "LockList": schemas.LockList,
    "PowerCapCreated": cap_schemas.PowerCapCreated, "PowerCapList": cap_schemas.PowerCapList,
    "PowerCapDetail": cap_schemas.PowerCapDetail,
    "CapTaskExchanges": cap_schemas.CapTaskExchanges,
}
# Power-cap requests are decoded as upstream's Go service decodes them (power_cap_schemas.py),
# not by marshmallow: their shapes are stated here.
RAW_COMPONENTS = {
    "PowerCapSnapshotRequest": {
        "type": "object", "properties": {"xnames": {"type": "array",
                                                    "items": {"type": "string"}}}},
    "PowerCapPatchRequest": {
        "type": "object", "properties": {"components": {"type": "array", "items": {
            "type": "object", "properties": {
                "xname": {"type": "string"},
                "controls": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "value": {"type": "integer"}}}}}}}}},
}


def build(settings: Settings, v1_prefixes, added_prefixes) -> dict:
    """The document for these settings: with a JWKS URL, the bearer scheme, and 401, 403 and
    503 on every route that needs a token."""
    plugin = MarshmallowPlugin(schema_name_resolver=lambda schema: None)
    spec = APISpec("pcs power control", "1", "3.0.3", plugins=[plugin],
                   info={"description": "The PCS v1 API and this service's additions."})
    plugin.map_to_openapi_type(schemas.Timestamp, "string", None)   # RFC 3339 or ""
    for name, schema in COMPONENTS.items():
        spec.components.schema(name, schema=schema)
    for name, component in RAW_COMPONENTS.items():
        spec.components.schema(name, component=component)
    if settings.jwks_url:
        spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                                   "bearerFormat": "JWT"})
        spec.components.security_scheme("cookie", {"type": "apiKey", "in": "cookie",
                                                   "name": "jwt"})
    for ops, prefixes in ((V1_OPS, v1_prefixes), (ADDED_OPS, added_prefixes)):
        for prefix in prefixes:
            for path, methods in ops.items():
                full = prefix + path
                spec.path(full, operations={m: _operation(settings, m.upper(), full, op)
                                            for m, op in methods.items()})
    return spec.to_dict()


def _operation(settings: Settings, method: str, path: str, op: Op) -> dict:
    protected = settings.jwks_url and required_role(method, path) is not None
    statuses = set(op.errors) | ({401, 403, 503} if protected else set())
    if required_role(method, path) is not None:
        statuses.add(403)   # a foreign Origin, or (without authentication) a foreign Host
    responses = {}
    for status, (content_type, schema) in op.answers.items():
        responses[str(status)] = _response(status, content_type, schema,
                                           op.headers.get(status, {}))
    for status in sorted(statuses - set(op.answers)):
        responses[str(status)] = _response(status, PROBLEM, "Problem",
                                           RETRY_AFTER if status == 503 else {})
    if op.params:   # gunicorn's own answer to a request line above its limit (4 KiB)
        responses["414"] = _response(414, "text/html", None, {})
    operation = {"summary": op.summary, "responses": responses,
                 "parameters": [{"name": p, **PARAMETERS[p]} for p in op.params]}
    if op.body:
        operation["requestBody"] = {"required": True,
                                    "content": {JSON: {"schema": op.body}}}
    if settings.jwks_url:
        operation["security"] = [{"bearer": []}, {"cookie": []}] if protected else []
    return operation


def _response(status: int, content_type: str | None, schema, headers: dict) -> dict:
    out = {"description": PHRASES.get(status, str(status))}
    if content_type:
        out["content"] = {content_type: {"schema": schema} if schema else {}}
    if headers:
        out["headers"] = headers
    return out


@bp.get("/openapi.json")
def document():
    return current_app.extensions["pcs.openapi"]
