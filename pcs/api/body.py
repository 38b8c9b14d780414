"""Reading a JSON request body with errors that say what is wrong."""
from __future__ import annotations

from flask import request

from pcs.errors import InvalidRequest


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
