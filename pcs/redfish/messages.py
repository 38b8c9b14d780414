"""Turn a BMC's error answer into one line that quotes it."""
from __future__ import annotations

import re
from http import HTTPStatus

# A task's error is one line in task listings, events and the CLI's summary, repeated for
# every component that failed the same way; the whole answer stays in the task's exchange
# record. 400 characters hold a few Redfish messages with their resolutions.
MAX_WORDS = 400

# What error.message says when the real words are in @Message.ExtendedInfo (the DMTF Base
# registry's GeneralError, iDRAC, iLO). Such a text is quoted only if the BMC said nothing else.
POINTER_PHRASES = re.compile(
    r"a general error has occurred|see (@message\.)?extendedinfo for more information"
    r"|see resolution for details", re.IGNORECASE)

# Registries give "None." as the resolution of a message that needs no action.
NO_RESOLUTION = {"", "none", "none."}


def describe_http_error(status: int, body: dict | None, text: str | None) -> str:
    """'BMC answered 400 Bad Request: ActionParameterNotSupported: <its message>'; the body's
    raw text, whitespace collapsed, when it is not a Redfish error."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "HTTP error"
    head = f"BMC answered {status} {reason}"
    words = redfish_message(body) or _bounded(_one_line(text))
    return f"{head}: {words}" if words else head


def redfish_message(body: dict | None) -> str:
    """The Redfish error's own words (its `error` object, or the body itself), one line."""
    if not isinstance(body, dict):
        return ""
    error = body["error"] if isinstance(body.get("error"), dict) else body
    return quote_messages(error.get("@Message.ExtendedInfo"), summary=error.get("message"))


def quote_messages(messages: list | None, summary: str | None = None) -> str:
    """Redfish Message objects (an error's @Message.ExtendedInfo, a Task's Messages) as one
    bounded line: 'MessageId: Message (Resolution: ...)' joined by '; '. `summary` (an error's
    `message`) is added unless it repeats an entry or only points at the entries; MessageIds
    that come without a Message of their own label it ('GeneralError: <summary>')."""
    entries = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    texts = [_one_line(entry.get("Message")) for entry in entries]
    parts, labels = [], []
    for entry, text in zip(entries, texts):
        message_id = _short_id(entry.get("MessageId"))
        if text:
            parts.append(_with_resolution(f"{message_id}: {text}" if message_id else text, entry))
        elif args := _message_args(entry):
            parts.append(f"{message_id} ({args})".strip())
        elif message_id and message_id not in labels:
            labels.append(message_id)
    summary = _one_line(summary)
    if _repeats(summary, texts) or (_only_points_at_entries(summary) and (parts or labels)):
        summary = ""
    if summary:
        parts.append(f"{', '.join(labels)}: {summary}" if labels else summary)
    else:
        parts.extend(labels)
    return _bounded("; ".join(parts))


def _short_id(message_id) -> str:
    # 'Base.1.8.ActionParameterNotSupported' -> 'ActionParameterNotSupported': the registry and
    # its version say nothing to the person reading why a power action failed.
    return _one_line(message_id).rsplit(".", 1)[-1]


def _with_resolution(line: str, entry: dict) -> str:
    resolution = _one_line(entry.get("Resolution"))
    return line if resolution.lower() in NO_RESOLUTION else f"{line} (Resolution: {resolution})"


def _message_args(entry: dict) -> str:
    args = entry.get("MessageArgs")
    return ", ".join(_one_line(a) for a in args if _one_line(a)) if isinstance(args, list) else ""


def _repeats(summary: str, texts: list[str]) -> bool:
    def plain(text: str) -> str:
        return text.casefold().rstrip(".")
    return bool(summary) and any(plain(summary) in plain(text) for text in texts if text)


def _only_points_at_entries(summary: str) -> bool:
    return not re.sub(r"[\W_]+", "", POINTER_PHRASES.sub("", summary))


def _one_line(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _bounded(line: str) -> str:
    return line if len(line) <= MAX_WORDS else line[:MAX_WORDS - 1].rstrip() + "…"
