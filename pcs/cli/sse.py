"""Server-Sent Events: lines in, events out (the WHATWG event-stream format, as PCS sends it)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Iterator


@dataclass(frozen=True)
class SseEvent:
    event: str            # `event:` field; "message" when absent
    data: str             # `data:` lines joined by "\n"
    id: str | None        # this event's own `id:` line; None when it had none (progress, end)

    def json(self) -> dict:
        """The data as JSON. Raises ValueError when it is not."""
        return json.loads(self.data)


def parse_events(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Events from decoded lines (without their line ends). A blank line ends an event; a line
    starting with ':' is a comment (keep-alive); an event with no data is not dispatched."""
    event, data, event_id = "", [], None
    for line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        if not line:
            if data:
                yield SseEvent(event or "message", "\n".join(data), event_id)
            event, data, event_id = "", [], None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id" and "\0" not in value:
            event_id = value
        # "retry" and unknown fields are ignored: reconnect pacing is ours.
