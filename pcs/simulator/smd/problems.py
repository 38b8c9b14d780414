"""How the SMD face answers: JSON bodies, and problem+json errors as SMD sends them.

The only place that maps the face's exceptions to HTTP statuses.
"""
from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aiohttp import web

from .errors import BadRequest, NoSuchComponent, SmdError

STATUS_FOR: dict[type[SmdError], int] = {BadRequest: 400, NoSuchComponent: 404}
PROBLEM_CT = "application/problem+json"


def json_answer(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(),
                        content_type="application/json")


def problem(status: int, detail: str) -> web.Response:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "detail": detail,
            "status": status}
    return web.Response(status=status, body=json.dumps(body).encode(), content_type=PROBLEM_CT)


def problem_for(exc: SmdError) -> web.Response:
    return problem(STATUS_FOR.get(type(exc), 400), str(exc))


async def read_json(request: web.Request) -> Any:
    """The request's JSON body (None when empty). Raises BadRequest when it is not JSON."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"error decoding JSON {exc}") from None
