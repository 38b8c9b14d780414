"""Operator targets: xnames, hostlist ranges (x1000c0s[0-7]b0n[0-1]) and @files, and the
reverse: many xnames folded back into ranges for display."""
from __future__ import annotations

import sys
from pathlib import Path

import hostlist


class BadTargets(ValueError):
    """A target that is not a hostlist expression, or an @file that cannot be read."""


def expand_targets(targets: list[str]) -> list[str]:
    """Every xname the targets name, in order, duplicates dropped.

    `@path` reads targets from a file (`@-` from stdin): whitespace-separated, `#` starts a
    comment. Raises BadTargets naming the first target that does not parse or read.
    """
    names: dict[str, None] = {}   # an ordered set
    for target in targets:
        for expression in _expressions(target):
            try:
                names.update(dict.fromkeys(hostlist.expand_hostlist(expression)))
            except hostlist.BadHostlist as exc:
                raise BadTargets(f"'{expression}' is not an xname or hostlist range "
                                 f"({exc})") from None
    return list(names)


def _expressions(target: str) -> list[str]:
    if not target.startswith("@"):
        return [target]
    path = target[1:]
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise BadTargets(f"cannot read targets from {path}: {exc.strerror}") from None
    words = []
    for line in text.splitlines():
        words += line.split("#", 1)[0].split()
    return words


def fold(xnames: list[str]) -> str:
    """x1000c0s1b0n0 … x1000c0s2b0n1 → 'x1000c0s[1-2]b0n[0-1]' (comma-separated parts)."""
    return hostlist.collect_hostlist(list(xnames)) if xnames else ""
