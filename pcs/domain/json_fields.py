"""Reading JSON from SMD and BMCs as Go's decoder does: keys match in any case (SMD sends `OEM`,
BMCs `Oem`). Pure."""
from __future__ import annotations


def field(obj, name: str, default=None):
    """obj[name] matched case-insensitively; `default` when obj is not an object or lacks it."""
    if not isinstance(obj, dict):
        return default
    if name in obj:
        return obj[name]
    lowered = name.lower()
    return next((v for k, v in obj.items() if k.lower() == lowered), default)


def path_of(obj, *names):
    """field() along a path of keys; None where one is missing."""
    for name in names:
        obj = field(obj, name)
    return obj
