"""IDs in request paths, parsed as upstream's Go service parses them (google/uuid), so that a
client sees the same 400 detail for a bad transition or power-cap ID."""
from __future__ import annotations

import re
import uuid

from pcs.errors import InvalidRequest

_HEX = re.compile(r"[0-9a-fA-F]{32}\Z")
_URN_PREFIX = "urn:uuid:"


def parse_uuid(text: str) -> uuid.UUID:
    """The UUID in `text`, in any of the four forms upstream accepts (canonical, `{…}`,
    `urn:uuid:…`, 32 hex digits). Raises InvalidRequest with upstream's exact detail:
    `invalid UUID length: <n>` (n counts bytes, as Go does) or `invalid UUID format`."""
    length = len(text.encode())
    if length == 36 + len(_URN_PREFIX):
        if text[:len(_URN_PREFIX)].lower() != _URN_PREFIX:
            raise InvalidRequest(f'invalid urn prefix: "{text[:len(_URN_PREFIX)]}"')
        text = text[len(_URN_PREFIX):]
    elif length == 38:
        if not (text.startswith("{") and text.endswith("}")):
            raise InvalidRequest("invalid UUID format")
        text = text[1:-1]
    elif length not in (36, 32):
        raise InvalidRequest(f"invalid UUID length: {length}")
    if len(text) == 36:
        if any(text[i] != "-" for i in (8, 13, 18, 23)):
            raise InvalidRequest("invalid UUID format")
        text = text.replace("-", "", 4)
    if not _HEX.match(text):
        raise InvalidRequest("invalid UUID format")
    return uuid.UUID(hex=text)
