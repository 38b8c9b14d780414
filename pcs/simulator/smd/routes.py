"""The HSM v2 routes pcs and upstream's tests call, one handler each (SMD's paths and shapes)."""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .errors import BadRequest
from .face import SmdFace
from .problems import json_answer, read_json
from .reservations import LockBook

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

FACE = web.AppKey("smd_face", SmdFace)
HSM = "/hsm/v2"
# GET /locks/status: component filters and lock filters (query keys are case-insensitive).
STATUS_COMPONENT_FILTERS = {"type": "type", "state": "state", "role": "role",
                            "subrole": "subrole"}
STATUS_LOCK_FILTERS = {"locked": "Locked", "reserved": "Reserved",
                       "reservationdisabled": "ReservationDisabled"}

routes = web.RouteTableDef()


def _face(request: web.Request) -> SmdFace:
    return request.app[FACE]


def _query_lists(request: web.Request) -> dict[str, list[str]]:
    """Repeatable query parameters, keys lower-cased (SMD decodes them case-insensitively)."""
    out: dict[str, list[str]] = {}
    for key, value in request.query.items():
        out.setdefault(key.lower(), []).append(value)
    return out


# ---- service --------------------------------------------------------------------------
@routes.get(f"{HSM}/service/liveness")
async def liveness(request: web.Request) -> web.Response:
    return web.Response(status=204)


@routes.get(f"{HSM}/service/ready")
async def ready(request: web.Request) -> web.Response:
    return json_answer({"code": 0, "message": "HSM is healthy"})


# ---- State/Components --------------------------------------------------------------------
@routes.post(f"{HSM}/State/Components/Query")
async def components_query(request: web.Request) -> web.Response:
    found = _face(request).query(await read_json(request), time.time())
    return json_answer({"Components": found})


@routes.get(f"{HSM}/State/Components")
async def components_list(request: web.Request) -> web.Response:
    found = _face(request).filtered(_query_lists(request), time.time())
    return json_answer({"Components": found})


@routes.get(f"{HSM}/State/Components/{{xname}}")
async def component_get(request: web.Request) -> web.Response:
    xname = request.match_info["xname"].lower()
    return json_answer(_face(request).component(xname, time.time()))


@routes.patch(f"{HSM}/State/Components/BulkStateData")
async def bulk_state_data(request: web.Request) -> web.Response:
    _face(request).states.push(await read_json(request), time.time())
    return web.Response(status=204)


# ---- Inventory -----------------------------------------------------------------------------
@routes.get(f"{HSM}/Inventory/ComponentEndpoints")
async def component_endpoints(request: web.Request) -> web.Response:
    ids = request.query.getall("id", [])
    return json_answer({"ComponentEndpoints": _face(request).endpoints(ids, time.time())})


@routes.get(f"{HSM}/sysinfo/powermaps")
async def power_maps(request: web.Request) -> web.Response:
    return json_answer(_face(request).power_map_list())


@routes.get(f"{HSM}/sysinfo/powermaps/{{xname}}")
async def power_map(request: web.Request) -> web.Response:
    return json_answer(_face(request).power_map(request.match_info["xname"]))


# ---- service reservations and admin locks ----------------------------------------------------
# Each of these POSTs is answered by one LockBook operation on the body, at the current time.
LOCK_BOOK_POSTS = (
    ("/locks/service/reservations", LockBook.create),
    ("/locks/service/reservations/check", LockBook.check),
    ("/locks/service/reservations/renew", LockBook.renew),
    ("/locks/service/reservations/release", LockBook.release),
    ("/locks/lock", LockBook.lock),
    ("/locks/unlock", LockBook.unlock),
)


def _lock_book_handler(operation: Callable[[LockBook, Any, float], dict[str, Any]]) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        body = await read_json(request)
        return json_answer(operation(_face(request).locks, body, time.time()))
    handler.__name__ = operation.__name__
    return handler


for _path, _operation in LOCK_BOOK_POSTS:
    routes.post(f"{HSM}{_path}")(_lock_book_handler(_operation))


@routes.get(f"{HSM}/locks/status")
async def lock_status_filtered(request: web.Request) -> web.Response:
    face, now = _face(request), time.time()
    params = _query_lists(request)
    unknown = set(params) - set(STATUS_COMPONENT_FILTERS) - set(STATUS_LOCK_FILTERS)
    if unknown:
        raise BadRequest(f"bad query param: unknown parameter {min(unknown)}")
    component_filters = {STATUS_COMPONENT_FILTERS[k]: v for k, v in params.items()
                         if k in STATUS_COMPONENT_FILTERS}
    ids = [c["ID"] for c in face.filtered(component_filters, now)]
    entries = face.locks.status(ids, now)
    for key, field in STATUS_LOCK_FILTERS.items():
        if key in params:   # SMD reads the first value only
            wanted = params[key][0].lower()
            if wanted not in ("true", "false"):
                raise BadRequest(f"bad '{field}' query parameter: {params[key][0]}")
            entries = [e for e in entries if e[field] == (wanted == "true")]
    return json_answer({"Components": entries})


@routes.post(f"{HSM}/locks/status")
async def lock_status(request: web.Request) -> web.Response:
    body = await read_json(request)
    ids = body.get("ComponentIDs") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise BadRequest("error decoding JSON: ComponentIDs must be a list of strings")
    wanted = list(dict.fromkeys(i.lower() for i in ids))
    face = _face(request)
    # no IDs selects every component, as SMD's empty filter does
    entries = face.locks.status(wanted or face.locks.component_ids, time.time())
    answer = {"Components": entries}
    found = {e["ID"] for e in entries}
    missing = [i for i in wanted if i not in found]
    if missing:
        answer["NotFound"] = missing
    return json_answer(answer)
