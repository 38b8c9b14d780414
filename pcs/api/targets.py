"""xnames given by operators: single names or hostlist ranges (x1000c0s[0-7]b0n[0-1])."""
from __future__ import annotations

import hostlist

from pcs.domain import xnames
from pcs.errors import InvalidRequest


def expand(values: list[str]) -> list[str]:
    """Normalized xnames, in order, without duplicates. Raises InvalidRequest naming bad ones."""
    out, bad = [], []
    for value in values:
        try:
            names = hostlist.expand_hostlist(value)
        except hostlist.BadHostlist:
            bad.append(value)
            continue
        for name in names:
            parsed = xnames.parse(name)
            if parsed is None:
                bad.append(name)
            elif parsed.name not in out:
                out.append(parsed.name)
    if bad:
        raise InvalidRequest(f"invalid xnames detected: {' '.join(bad)}")
    return out


def single(value: str) -> str:
    """One normalized xname. Raises InvalidRequest for a bad name or a range."""
    names = expand([value])
    if len(names) != 1:
        raise InvalidRequest(f"'{value}' names {len(names)} components; give one xname")
    return names[0]
