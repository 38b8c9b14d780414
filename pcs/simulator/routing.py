"""Route tables of the simulator's HTTP services: one handler per (method, path template).

aiohttp routes on the path alone, but every simulated device has a port of its own on the one
app, so a service first picks the device by port and then matches the path in the table of that
kind of device. In a template, ``{name}`` stands for one non-empty path segment. A table may
resolve a name against what it serves (a device, the fleet), so that a path naming something
absent is not found (404) instead of refused for its method (405).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

H = TypeVar("H", bound=Callable[..., Any])
# (what the table serves, the placeholders up to this one) -> whether it names something there
Resolver = Callable[[Any, dict[str, str]], bool]


@dataclass(frozen=True)
class Placeholder:
    position: int
    name: str
    resolver: Resolver | None


@dataclass(frozen=True)
class Route(Generic[H]):
    method: str
    template: str
    literals: tuple[tuple[int, str], ...]       # (position, text) of the fixed segments
    placeholders: tuple[Placeholder, ...]
    handler: H

    def params(self, segments: tuple[str, ...], context: Any) -> dict[str, str] | None:
        """The placeholders' values if this route has the path, else None."""
        for i, text in self.literals:
            if segments[i] != text:
                return None
        params: dict[str, str] = {}
        for p in self.placeholders:   # left to right: a resolver may use the ones before it
            value = segments[p.position]
            if not value:
                return None
            params[p.name] = value
            if p.resolver is not None and not p.resolver(context, params):
                return None
        return params


@dataclass(frozen=True)
class Found(Generic[H]):
    handler: H
    params: dict[str, str]


@dataclass(frozen=True)
class NotAllowed:
    methods: frozenset   # the methods the path does have


def redfish_segments(path: str) -> tuple[str, ...]:
    """The segments of a Redfish path; trailing slashes are ignored, as BMCs do."""
    return tuple(path.rstrip("/").split("/")[1:])


class RouteTable(Generic[H]):
    """Routes matched in the order they were added; the first one whose path and method match
    wins. Build it with the decorators (``@table.get("/redfish/v1/Systems/{system}")``)."""

    def __init__(self, resolvers: Mapping[str, Resolver] | None = None) -> None:
        self._resolvers = dict(resolvers or {})
        self._by_length: dict[int, list[Route[H]]] = {}   # a path only meets its own length

    def route(self, method: str, template: str) -> Callable[[H], H]:
        parts = redfish_segments(template)
        literals, placeholders = [], []
        for position, part in enumerate(parts):
            if part.startswith("{") and part.endswith("}"):
                name = part[1:-1]
                placeholders.append(Placeholder(position, name, self._resolvers.get(name)))
            else:
                literals.append((position, part))

        def register(handler: H) -> H:
            self._by_length.setdefault(len(parts), []).append(
                Route(method, template, tuple(literals), tuple(placeholders), handler))
            return handler
        return register

    def get(self, template: str) -> Callable[[H], H]:
        return self.route("GET", template)

    def head(self, template: str) -> Callable[[H], H]:
        return self.route("HEAD", template)

    def post(self, template: str) -> Callable[[H], H]:
        return self.route("POST", template)

    def put(self, template: str) -> Callable[[H], H]:
        return self.route("PUT", template)

    def delete(self, template: str) -> Callable[[H], H]:
        return self.route("DELETE", template)

    def routes(self) -> list[Route[H]]:
        return [r for length in sorted(self._by_length) for r in self._by_length[length]]

    def include(self, other: RouteTable[H]) -> None:
        """Add the routes of ``other`` after these (their placeholders resolved as there)."""
        for length, routes in other._by_length.items():
            self._by_length.setdefault(length, []).extend(routes)

    def match(self, method: str, segments: tuple[str, ...],
              context: Any = None) -> Found[H] | NotAllowed | None:
        """The route for ``method`` on this path; NotAllowed when the path has only other
        methods; None when no route has the path. Raises whatever a resolver raises."""
        allowed: set[str] | None = None
        for candidate in self._by_length.get(len(segments), ()):
            params = candidate.params(segments, context)
            if params is None:
                continue
            if candidate.method == method:
                return Found(candidate.handler, params)
            allowed = (allowed or set()) | {candidate.method}
        return NotAllowed(frozenset(allowed)) if allowed else None
