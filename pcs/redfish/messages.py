"""Turn a BMC's error answer into one line that quotes it."""
from __future__ import annotations

from http import HTTPStatus


def describe_http_error(status: int, body: dict | None, text: str) -> str:
    """'BMC answered 400 Bad Request: ActionParameterNotSupported: <its message>'."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "HTTP error"
    head = f"BMC answered {status} {reason}"
    message = redfish_message(body)
    if message:
        return f"{head}: {message}"
    snippet = " ".join((text or "").split())[:200]
    return f"{head}: {snippet}" if snippet else head


def redfish_message(body: dict | None) -> str:
    """The Redfish error's own words: @Message.ExtendedInfo first, then error.message."""
    if not isinstance(body, dict):
        return ""
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    infos = error.get("@Message.ExtendedInfo") or []
    parts = []
    for info in infos if isinstance(infos, list) else []:
        if not isinstance(info, dict):
            continue
        message_id = str(info.get("MessageId") or "").rsplit(".", 1)[-1]
        message = str(info.get("Message") or "").strip()
        if message_id and message:
            parts.append(f"{message_id}: {message}")
        elif message or message_id:
            parts.append(message or message_id)
    if parts:
        return "; ".join(parts)
    return str(error.get("message") or "").strip()
