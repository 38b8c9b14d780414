"""Faults a simulated BMC can be given (pure): what each kind takes, what it covers, and the
``--fault TARGET=KIND[:key=value,...]`` flag.

Fault specs (``PUT /admin/bmcs/{xname}/fault`` bodies; ``systems`` is optional on every kind
but ``down``; ``count`` fails only the first N matching requests, then the fault stays
installed as ``"spent": true``)::

    {"fault": "status", "status": 503, "message": "...", "retry_after": 5,
     "requests": "actions"|"all", "count": N}        HTTP error (default 500, on POSTs only)
    {"fault": "close", "requests": "all"|"actions", "count": N}   no answer, connection closed
    {"fault": "hang", "requests": "all"|"actions", "count": N}    no answer until cleared
    {"fault": "down"}                                 the port stops listening (whole BMC)
    {"fault": "ignore", "count": N}                   first N resets: 204, no change (N=1)
    {"fault": "slow", "delay": S}                     power changes take S s
    {"fault": "fallback", "after": S}                 every power-on drops to Off S s after On
    {"fault": "task", "duration": S, "outcome": "completed"|"exception", "message": "...",
     "count": N}                                      resets answer 202 + a Redfish Task
    {"fault": "refuse", "reset_types": ["Nmi"], "count": N}   400 ActionParameterNotSupported

Scope: a BMC holds at most one fault per system. A fault without ``systems`` covers the whole
BMC (every request, every system's power); one with ``systems`` covers only requests whose
path is under ``/redfish/v1/Systems/<name>`` and those systems' power. Installing a fault
removes the installed faults it overlaps, so a PUT on the BMC replaces all its faults and PUTs
on two nodes of one BMC both hold.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .model import BMC, ON, RESTART_TYPES, FleetError, System, parse_reset_types

FAULT_KINDS = ("status", "close", "hang", "down", "ignore", "slow", "fallback", "task",
               "refuse")
# Kinds that act on the HTTP request itself, before authentication and routing.
REQUEST_KINDS = ("status", "close", "hang")
# Options of each kind besides "fault" and "systems".
OPTIONS: dict[str, tuple[str, ...]] = {
    "status": ("status", "message", "retry_after", "requests", "count"),
    "close": ("requests", "count"),
    "hang": ("requests", "count"),
    "down": (),
    "ignore": ("count",),
    "slow": ("delay",),
    "fallback": ("after",),
    "task": ("duration", "outcome", "message", "count"),
    "refuse": ("reset_types", "count"),
}
# A status fault fails POSTs only unless told otherwise: the service's tests rely on reading
# state from a BMC that refuses its actions. Close and hang take every request.
DEFAULT_REQUESTS = {"status": "actions", "close": "all", "hang": "all"}
REQUEST_CHOICES = ("all", "actions")
TASK_OUTCOMES = ("completed", "exception")
LIST_OPTIONS = ("systems", "reset_types")   # '+'-separated in a --fault flag
NODE_XNAME = re.compile(r"(?P<bmc>x\w+b\d+)n(?P<node>\d+)")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


# ---- validation ------------------------------------------------------------------
def _int(spec: dict[str, Any], key: str, default: int | None, low: int,
         high: int | None = None) -> int | None:
    value = spec.get(key, default)
    if value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, int) or value < low
            or (high is not None and value > high)):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise FleetError(f"{key} must be an integer {bound}, not {value!r}")
    return value


def _seconds(spec: dict[str, Any], key: str, default: float | None) -> float:
    value = spec.get(key, default)
    if value is None:
        raise FleetError(f"fault {spec['fault']} needs {key} (seconds)")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise FleetError(f"{key} must be a number of seconds >= 0, not {value!r}")
    return float(value)


def _choice(spec: dict[str, Any], key: str, default: str, choices: Sequence[str]) -> str:
    value = spec.get(key, default)
    if value not in choices:
        raise FleetError(f"{key} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _systems(value: Any, known: Sequence[str] | None, where: str) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value:
        raise FleetError("systems must be a non-empty list of system names (e.g. [\"Node0\"])")
    out: list[str] = []
    for name in value:
        if not isinstance(name, str) or (known is not None and name not in known):
            raise FleetError(f"systems: no system {name!r} on {where} "
                             f"(it has: {', '.join(known or []) or 'none'})")
        if name not in out:
            out.append(name)
    return out


def normalize_fault(spec: Any, known_systems: Sequence[str] | None = None,
                    where: str = "this BMC") -> dict[str, Any]:
    """Validate a fault spec; returns the fault as stored and shown.

    ``known_systems`` (None: not checked) are the names ``systems`` may use. Raises
    FleetError naming the first problem.
    """
    if not isinstance(spec, dict):
        raise FleetError("fault body must be a JSON object")
    kind = spec.get("fault")
    if kind not in FAULT_KINDS:
        raise FleetError(f"fault must be one of {', '.join(FAULT_KINDS)}, not {kind!r}")
    if kind == "down" and "systems" in spec:
        raise FleetError("fault down closes the BMC's port: it covers the whole BMC, "
                         "not systems")
    takes = OPTIONS[kind] + (("systems",) if kind != "down" else ())
    unknown = [k for k in spec if k != "fault" and k not in takes]
    if unknown:
        raise FleetError(f"fault {kind} takes no option {unknown[0]!r} "
                         f"(it takes: {', '.join(takes) or 'none'})")
    fault: dict[str, Any] = {"fault": kind}
    if kind == "status":
        fault["status"] = _int(spec, "status", 500, 100, 599)
        fault["message"] = str(spec.get("message", "Internal error"))
        if "retry_after" in spec:
            fault["retry_after"] = _int(spec, "retry_after", None, 0)
    elif kind == "slow":
        fault["delay"] = _seconds(spec, "delay", None)
    elif kind == "fallback":
        fault["after"] = _seconds(spec, "after", 1.0)
    elif kind == "task":
        fault["duration"] = _seconds(spec, "duration", 1.0)
        fault["outcome"] = _choice(spec, "outcome", "completed", TASK_OUTCOMES)
        if "message" in spec:
            fault["message"] = str(spec["message"])
    elif kind == "refuse":
        if "reset_types" not in spec:
            raise FleetError("fault refuse needs reset_types (e.g. [\"Nmi\"])")
        fault["reset_types"] = parse_reset_types(spec["reset_types"])
    if "requests" in OPTIONS[kind]:
        fault["requests"] = _choice(spec, "requests", DEFAULT_REQUESTS[kind], REQUEST_CHOICES)
    if "count" in OPTIONS[kind]:
        count = _int(spec, "count", 1 if kind == "ignore" else None, 0)
        if count is not None:
            fault.update(count=count, remaining=count, spent=count == 0)
    if "systems" in spec:
        fault["systems"] = _systems(spec["systems"], known_systems, where)
    return fault


# ---- scope -------------------------------------------------------------------------
def system_of(path: str) -> str | None:
    """The system a request path is under (/redfish/v1/Systems/<name>[/...]), else None."""
    parts = path.split("/")
    if parts[1:4] == ["redfish", "v1", "Systems"] and len(parts) > 4 and parts[4]:
        return parts[4]
    return None


def covers(fault: dict[str, Any], system: str | None) -> bool:
    """Whether ``fault`` covers ``system`` (None: a request or element of the whole BMC)."""
    scope = fault.get("systems")
    return scope is None or (system is not None and system in scope)


def overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    sa, sb = a.get("systems"), b.get("systems")
    return sa is None or sb is None or bool(set(sa) & set(sb))


def consume(fault: dict[str, Any]) -> None:
    """Count one matching request against a counted fault."""
    if "remaining" in fault:
        fault["remaining"] = max(0, fault["remaining"] - 1)
        fault["spent"] = fault["remaining"] == 0


# ---- the --fault flag --------------------------------------------------------------
def _flag_value(key: str, text: str) -> Any:
    if key in LIST_OPTIONS:
        return [v for v in text.split("+") if v]
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def parse_fault_flag(text: str) -> tuple[str, dict[str, Any]]:
    """``TARGET=KIND[:key=value,...]`` -> (target, validated spec). Raises FleetError.

    TARGET is a BMC xname, a node xname or ``all``; list values are '+'-separated.
    """
    target, sep, rest = text.partition("=")
    kind, _, opts = rest.partition(":")
    if not sep or not target or not kind:
        raise FleetError(f"{text!r} is not TARGET=KIND[:key=value,...]")
    spec: dict[str, Any] = {"fault": kind}
    for item in opts.split(",") if opts else []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise FleetError(f"option {item!r} of {text!r} is not key=value")
        spec[key] = _flag_value(key, value)
    normalize_fault(spec)   # everything but the target and its systems is checked here
    return target, spec


# ---- the Fleet side ----------------------------------------------------------------
class FaultsMixin:
    """Mixed into Fleet; expects ``by_xname``, ``power_delay_s`` and ``all_bmcs``."""

    by_xname: dict[str, BMC]
    power_delay_s: float

    def all_bmcs(self) -> list[BMC]:  # pragma: no cover - provided by Fleet
        raise NotImplementedError

    def bmc_and_system(self, xname: str) -> tuple[BMC, str | None]:
        """A BMC xname -> (BMC, None); a node xname ``<bmc>n<j>`` -> (BMC, its j-th system)."""
        b = self.by_xname.get(xname)
        if b is not None:
            return b, None
        m = NODE_XNAME.fullmatch(xname)
        b = self.by_xname.get(m["bmc"]) if m else None
        if b is None:
            raise FleetError(f"unknown BMC {xname!r}")
        names = list(b.systems)
        j = int(m["node"])
        if j >= len(names):
            raise FleetError(f"unknown node {xname!r} ({b.xname} has {len(names)} nodes)")
        return b, names[j]

    def set_fault(self, xname: str, spec: Any) -> dict[str, Any]:
        """Validate and install a fault on a BMC or (node xname) one system of it; the faults
        it overlaps are removed. Returns the fault as stored."""
        b, system = self.bmc_and_system(xname)
        if system is not None and isinstance(spec, dict):
            if "systems" in spec:
                raise FleetError("give a node xname or systems, not both")
            spec = {**spec, "systems": [system]}
        fault = normalize_fault(spec, list(b.systems), b.xname)
        for old in [f for f in b.faults if overlaps(f, fault)]:
            self._remove_fault(b, old)
        b.faults.append(fault)
        return fault

    def set_fault_target(self, target: str, spec: dict[str, Any]) -> None:
        """Install a --fault flag's spec on a BMC, a node or (``all``) every BMC; with
        ``all``, a spec naming systems goes to the BMCs that have systems."""
        if target != "all":
            self.set_fault(target, spec)
            return
        for b in self.all_bmcs():
            if "systems" not in spec or b.systems:
                self.set_fault(b.xname, spec)

    def clear_fault(self, xname: str) -> list[dict[str, Any]]:
        """Remove every fault of a BMC, or (node xname) the faults covering that node."""
        b, system = self.bmc_and_system(xname)
        gone = [f for f in b.faults if system is None or covers(f, system)]
        for f in gone:
            self._remove_fault(b, f)
        return gone

    def _remove_fault(self, b: BMC, fault: dict[str, Any]) -> None:
        b.faults = [f for f in b.faults if f is not fault]
        if fault["fault"] == "fallback":   # a cleared fallback drops nothing any more
            for name, s in b.systems.items():
                if covers(fault, name):
                    s.fallback_at = None

    def shown_fault(self, xname: str) -> dict[str, Any]:
        """The admin view: a BMC's faults (``fault`` is the last installed), or a node's."""
        b, system = self.bmc_and_system(xname)
        if system is not None:
            return {"xname": xname, "fault": self.fault_covering(b, system)}
        return {"xname": xname, "fault": b.faults[-1] if b.faults else None,
                "faults": list(b.faults)}

    # ---- lookups used while answering -------------------------------------------
    @staticmethod
    def fault_covering(b: BMC, system: str | None) -> dict[str, Any] | None:
        for f in b.faults:
            if covers(f, system):
                return f
        return None

    def active_fault(self, b: BMC, system: str | None, kind: str
                     ) -> dict[str, Any] | None:
        """The unspent fault of ``kind`` covering ``system`` (None: the whole BMC)."""
        f = self.fault_covering(b, system)
        if f is None or f["fault"] != kind or f.get("spent"):
            return None
        return f

    @staticmethod
    def fault_installed(b: BMC, fault: dict[str, Any]) -> bool:
        return any(f is fault for f in b.faults)

    @staticmethod
    def is_down(b: BMC) -> bool:
        return any(f["fault"] == "down" for f in b.faults)

    def request_fault(self, b: BMC, method: str, path: str) -> dict[str, Any] | None:
        """The status/close/hang fault that takes this request (counted), else None."""
        f = self.fault_covering(b, system_of(path))
        if f is None or f["fault"] not in REQUEST_KINDS or f.get("spent"):
            return None
        if f["requests"] == "actions" and method != "POST":
            return None
        consume(f)
        return f

    def refuses(self, b: BMC, system: str | None, reset_type: str) -> bool:
        """Whether a 'refuse' fault turns this ResetType down (counted)."""
        f = self.active_fault(b, system, "refuse")
        if f is None or reset_type not in f["reset_types"]:
            return False
        consume(f)
        return True

    def _swallowed(self, b: BMC, system: str | None = None) -> bool:
        """Whether an 'ignore' fault takes this reset (counted)."""
        f = self.active_fault(b, system, "ignore")
        if f is None:
            return False
        consume(f)
        return True

    def power_delay(self, b: BMC, system: str | None = None) -> float:
        """Seconds a power change of ``system`` (None: a chassis, outlet or switch) takes."""
        f = self.active_fault(b, system, "slow")
        return f["delay"] if f else self.power_delay_s

    def power_reset(self, b: BMC, system: str, reset_type: str, now: float) -> None:
        """Apply a ResetType to one system, with its BMC's 'slow' and 'fallback' faults."""
        s: System = b.systems[system]
        before = s.target(now)
        s.reset(reset_type, now, self.power_delay(b, system))
        if s.target(now) != ON:
            s.fallback_at = None
            return
        if before == ON and reset_type not in RESTART_TYPES:
            return   # it was On (or on its way) already: not a new power-on
        f = self.active_fault(b, system, "fallback")
        on_at = s.pending_due if s.pending_target == ON else now
        s.fallback_at = on_at + f["after"] if f else None
