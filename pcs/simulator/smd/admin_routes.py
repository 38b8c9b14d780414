"""The SMD face's admin API for tests and demos, under /admin/smd on the SMD port.

    GET    /admin/smd/locks                 reservations (with keys), locked and disabled IDs
    GET    /admin/smd/pushes                BulkStateData requests received, with time
    DELETE /admin/smd/pushes                forget them
    GET    /admin/smd/fault                 the installed fault ({} if none)
    PUT    /admin/smd/fault                 {"status": 500}: every HSM call answers that status
                                            {"down": true}: HSM calls get no answer (closed)
    DELETE /admin/smd/fault                 clear it
    GET    /admin/smd/components/{xname}    the component as SMD sends it
    PUT    /admin/smd/components/{xname}    set Role, State (null: follow power again), Flag,
                                            Enabled, ReservationDisabled
"""
from __future__ import annotations

import time

from aiohttp import web

from .face import parse_fault
from .problems import json_answer, read_json
from .routes import FACE

ADMIN = "/admin/smd"

admin_routes = web.RouteTableDef()


@admin_routes.get(f"{ADMIN}/locks")
async def locks_held(request: web.Request) -> web.Response:
    return json_answer(request.app[FACE].locks.held(time.time()))


@admin_routes.get(f"{ADMIN}/pushes")
async def pushes(request: web.Request) -> web.Response:
    return json_answer({"pushes": [
        {"time": p.time, "ComponentIDs": p.component_ids, "State": p.state, "Flag": p.flag,
         "Force": p.force, "Changed": p.changed}
        for p in request.app[FACE].states.pushes]})


@admin_routes.delete(f"{ADMIN}/pushes")
async def pushes_clear(request: web.Request) -> web.Response:
    request.app[FACE].states.pushes.clear()
    return json_answer({"pushes": []})


@admin_routes.get(f"{ADMIN}/fault")
async def fault_get(request: web.Request) -> web.Response:
    return json_answer(request.app[FACE].fault or {})


@admin_routes.put(f"{ADMIN}/fault")
async def fault_set(request: web.Request) -> web.Response:
    face = request.app[FACE]
    face.fault = parse_fault(await read_json(request))
    return json_answer(face.fault)


@admin_routes.delete(f"{ADMIN}/fault")
async def fault_clear(request: web.Request) -> web.Response:
    request.app[FACE].fault = None
    return json_answer({})


@admin_routes.get(f"{ADMIN}/components/{{xname}}")
async def component_get(request: web.Request) -> web.Response:
    xname = request.match_info["xname"].lower()
    return json_answer(request.app[FACE].component(xname, time.time()))


@admin_routes.put(f"{ADMIN}/components/{{xname}}")
async def component_set(request: web.Request) -> web.Response:
    face, xname = request.app[FACE], request.match_info["xname"].lower()
    face.set_component(xname, await read_json(request))
    return json_answer(face.component(xname, time.time()))
