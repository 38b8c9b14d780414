"""The SMD face's aiohttp application: routes, the admin fault, errors as problem+json."""
from __future__ import annotations

import sys

from aiohttp import web

from .admin_routes import admin_routes
from .errors import SmdError
from .face import SmdFace
from .oauth import bearer_refusal, oauth_routes
from .problems import problem, problem_for
from .routes import FACE, HSM, Handler, routes


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An installed fault takes every HSM call (the admin API still answers, to clear it)."""
    fault = request.app[FACE].fault
    if fault and request.path.startswith(f"{HSM}/"):
        if fault.get("down"):
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=503)   # never sent: the connection is closed
        return problem(fault["status"], "fault installed through /admin/smd/fault")
    if request.path.startswith(f"{HSM}/"):
        refusal = bearer_refusal(request)
        if refusal is not None:
            return refusal
    return await handler(request)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as problem+json, as SMD answers; an unexpected one is logged, then 500."""
    try:
        return await handler(request)
    except SmdError as exc:
        return problem_for(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem(exc.status, exc.reason)
    except Exception as exc:  # noqa: BLE001 - answer as SMD would, keep serving
        print(f"simulator: SMD face: {request.method} {request.path}: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return problem(500, "failed to query DB.")


def create_app(face: SmdFace) -> web.Application:
    app = web.Application(client_max_size=16 << 20,
                          middlewares=[problem_middleware, fault_middleware])
    app[FACE] = face
    app.add_routes(routes)
    app.add_routes(admin_routes)
    app.add_routes(oauth_routes)
    return app


async def start(face: SmdFace, host: str, port: int) -> web.AppRunner:
    """Listen on host:port in the running event loop; the caller cleans the runner up."""
    runner = web.AppRunner(create_app(face), access_log=None, shutdown_timeout=2.0,
                           handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=512, reuse_address=True).start()
    return runner
