"""xnames given by operators: single names or hostlist ranges (x1000c0s[0-7]b0n[0-1])."""
from __future__ import annotations

import re

import hostlist

from pcs.api.services import services
from pcs.domain import xnames
from pcs.errors import InvalidRequest, TooManyLocations

_RANGE_LIST = re.compile(r"\[([^\]]*)\]")
_RANGE = re.compile(r"^(\d+)-(\d+)$")


def expand(values: list[str], limit: int | None = None) -> list[str]:
    """Normalized xnames, in order, without duplicates. Raises TooManyLocations when the ranges
    name more than `limit` (PCS_MAX_LOCATIONS) before expanding them, InvalidRequest naming
    bad ones."""
    limit = services().settings.max_locations if limit is None else limit
    named = sum(_count(value) for value in values)
    if named > limit:
        raise TooManyLocations(f"the xname ranges name {named} components; at most {limit} "
                               "per request (PCS_MAX_LOCATIONS)")
    out: dict[str, None] = {}   # insertion-ordered: a linear fold of duplicates
    bad = []
    for value in values:
        try:
            names = hostlist.expand_hostlist(value, allow_duplicates=True)
        except hostlist.BadHostlist:
            bad.append(value)
            continue
        for name in names:
            parsed = xnames.parse(name)
            if parsed is None:
                bad.append(name)
            else:
                out[parsed.name] = None
    if bad:
        raise InvalidRequest(f"invalid xnames detected: {' '.join(bad)}")
    return list(out)


def _count(value: str) -> int:
    """How many names a hostlist expression makes, from its ranges alone (a malformed one
    counts 1 and is reported by the expansion)."""
    total = 0
    for part in _top_level_parts(value):
        size = 1
        for ranges in _RANGE_LIST.findall(part):
            size *= sum(_range_size(r) for r in ranges.split(","))
        total += size
    return total


def _range_size(text: str) -> int:
    bounds = _RANGE.match(text.strip())
    if bounds is None:
        return 1
    if max(len(bounds.group(1)), len(bounds.group(2))) > 12:
        return 10 ** 12   # no xname has such numbers; and never int() a thousand digits
    low, high = int(bounds.group(1)), int(bounds.group(2))
    return max(high - low + 1, 1)


def _top_level_parts(value: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in value:
        depth += (char == "[") - (char == "]")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p]


def single(value: str) -> str:
    """One normalized xname. Raises InvalidRequest for a bad name or a range."""
    names = expand([value])
    if len(names) != 1:
        raise InvalidRequest(f"'{value}' names {len(names)} components; give one xname")
    return names[0]
