"""Power capping rules (INTEGRATION.md §6), pure: which Redfish style a node uses, what a
request may do before any BMC is asked, how a BMC's answer reads as limits, and how the entries
of one component merge. Dicts and values in, values out."""
from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from enum import StrEnum

from pcs.domain import outcomes
from pcs.domain.json_fields import field as member, path_of

NODE_POWER_LIMIT = "Node Power Limit"
APOLLO_MARK = "AccPowerService/PowerLimit"   # in a PowerURL: an HPE Apollo 6500
HPE_SERVER_MARK = "Chassis/1/Power"            # in a PowerURL: an HPE server


class CapStyle(StrEnum):
    CRAY_CONTROLS = "cray-controls"   # A: Controls, written through <chassis>/Controls.Deep
    POWER = "power"                   # B: DMTF Power.PowerControl[].PowerLimit
    APOLLO = "apollo"                 # C: HPE AccPowerService, written by a POST action
    CONTROLS = "controls"             # D: DMTF Control resources, each PATCHed itself


class EntryStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class CapControl:
    name: str
    url: str
    minimum: int | None = None     # None: the bound is unknown and not checked
    maximum: int | None = None
    index: int = 0                 # position in PowerControl[] (style B)


@dataclass(frozen=True)
class CapInfo:
    """What a node offers for capping, as SMD or discovery describes it."""
    style: CapStyle
    power_url: str
    controls: tuple[CapControl, ...]
    target: str = ""               # style C: the ConfigurePowerLimit action
    power_control_count: int = 0   # style B: how many PowerControl entries a PATCH lists

    def control(self, name: str) -> CapControl | None:
        return next((c for c in self.controls if c.name == name), None)

    def to_json(self) -> dict:
        return {"style": self.style.value, "powerUrl": self.power_url, "target": self.target,
                "powerControlCount": self.power_control_count,
                "controls": [{"name": c.name, "url": c.url, "min": c.minimum, "max": c.maximum,
                              "index": c.index} for c in self.controls]}

    @classmethod
    def from_json(cls, data: dict | None) -> "CapInfo | None":
        if not data:
            return None
        return cls(CapStyle(data["style"]), data.get("powerUrl") or "",
                   tuple(CapControl(c["name"], c["url"], c.get("min"), c.get("max"),
                                    c.get("index", 0)) for c in data.get("controls") or []),
                   data.get("target") or "", data.get("powerControlCount") or 0)


def whole(value) -> int | None:
    """A Redfish number as an integer watt value; None when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(round(value))


# -- where the style and bounds come from --------------------------------------------------------
def cap_info_from_smd(system_info: dict | None) -> CapInfo | None:
    """A node's capping as SMD's RedfishSystemInfo describes it (upstream's rule: Controls
    non-empty is A; else PowerControl is C when PowerURL names AccPowerService, else B).
    None when SMD knows no power control for it."""
    power_url = str(member(system_info, "PowerURL") or "")
    controls = [c for c in member(system_info, "Controls") or [] if isinstance(c, dict)]
    if controls:
        return CapInfo(CapStyle.CRAY_CONTROLS, power_url, tuple(
            CapControl(str(path_of(c, "Control", "Name") or ""), str(member(c, "URL") or ""),
                       whole(path_of(c, "Control", "SettingRangeMin")),
                       whole(path_of(c, "Control", "SettingRangeMax")), i)
            for i, c in enumerate(controls)))
    entries = [p for p in member(system_info, "PowerControl") or [] if isinstance(p, dict)]
    if not entries:
        return None
    apollo = APOLLO_MARK in power_url
    fixed_name = apollo or HPE_SERVER_MARK in power_url
    found = []
    for i, entry in enumerate(entries):
        oem = member(entry, "OEM") or {}
        bounds = path_of(oem, "Cray", "PowerLimit") or path_of(oem, "HPE", "PowerLimit") or {}
        url = str(member(entry, "@odata.id") or "").split("#", 1)[0] or power_url
        found.append(CapControl(NODE_POWER_LIMIT if fixed_name else str(member(entry, "Name") or ""),
                                url, whole(member(bounds, "Min")), whole(member(bounds, "Max")), i))
    target = str(path_of(entries[0], "OEM", "HPE", "Target") or "")
    return CapInfo(CapStyle.APOLLO if apollo else CapStyle.POWER, power_url, tuple(found),
                   target, len(entries))


# -- a request, before any BMC is asked ---------------------------------------------------------
@dataclass(frozen=True)
class CapEntry:
    """One operation's outcome, as upstream reports it inside a component."""
    status: EntryStatus
    error: str = ""
    limits: dict | None = None
    controls: tuple[dict, ...] = ()

    def to_json(self) -> dict:
        return {"status": self.status.value, "error": self.error, "limits": self.limits,
                "powerCapLimits": list(self.controls)}

    @classmethod
    def from_json(cls, data: dict) -> "CapEntry":
        return cls(EntryStatus(data["status"]), data.get("error") or "", data.get("limits"),
                   tuple(data.get("powerCapLimits") or ()))


def failed(error: str) -> CapEntry:
    return CapEntry(EntryStatus.FAILED, error)


@dataclass(frozen=True)
class CapTarget:
    """A component as the inventory knows it."""
    type: str
    role: str | None
    info: CapInfo | None


@dataclass(frozen=True)
class CapPlan:
    entries: list[CapEntry]                 # decided without asking the BMC
    operations: int = 0                     # BMC operations still to run; 0: nothing to run
    values: dict[str, int] = dataclass_field(default_factory=dict)   # patch: known controls to set


def plan_snapshot(target: CapTarget) -> CapPlan:
    """Style A reads each control as its own operation; the others read one resource."""
    info = target.info
    count = len(info.controls) if info and info.style in _PER_CONTROL else 1
    error = _refusal(target, patch=False)
    if error is not None:
        return CapPlan([error] * max(count, 1))
    return CapPlan([], operations=max(count, 1))


def plan_patch(target: CapTarget, requested: dict[str, int]) -> CapPlan:
    """Controls the inventory does not know are skipped with their own entry; with none known
    the component stops there. Bounds are checked before the BMC is asked (0 always passes: it
    removes the cap); any value out of range fails the component and nothing is written."""
    info = target.info
    known = {n: v for n, v in requested.items() if info is not None and info.control(n)}
    entries = [failed(outcomes.skipping_undefined_control(n)) for n in requested
               if n not in known]
    if not known:
        return CapPlan(entries)
    refusal = _refusal(target, patch=True)
    if refusal is not None:
        return CapPlan(entries + [refusal])
    errors = [e for e in (bounds_error(info.control(n), v) for n, v in known.items()) if e]
    if errors:
        return CapPlan(entries + [failed("; ".join(errors))])
    return CapPlan(entries, operations=1, values=known)


_PER_CONTROL = (CapStyle.CRAY_CONTROLS, CapStyle.CONTROLS)


def _refusal(target: CapTarget, patch: bool) -> CapEntry | None:
    """Upstream's checks, in its order."""
    if target.type != "Node":
        return CapEntry(EntryStatus.UNSUPPORTED, outcomes.cap_type_unsupported(target.type))
    info = target.info
    if info is None or not (info.power_url or any(c.url for c in info.controls)):
        return failed(outcomes.MISSING_POWER_CAP_URI)
    if (target.role or "").lower() == "management":
        return CapEntry(EntryStatus.UNSUPPORTED, outcomes.CAP_MANAGEMENT_UNSUPPORTED)
    if patch and info.style is CapStyle.APOLLO and not info.target:
        return failed(outcomes.MISSING_POWER_CAP_TARGET_URI)
    return None


def bounds_error(control: CapControl, value: int) -> str | None:
    if value == 0:
        return None
    if control.minimum is not None and value < control.minimum:
        return outcomes.cap_below_minimum(control.name, value, control.minimum)
    if control.maximum is not None and value > control.maximum:
        return outcomes.cap_above_maximum(control.name, value, control.maximum)
    return None


# -- reading a BMC's answer ---------------------------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """A control as the BMC holds it."""
    name: str
    current: int
    maximum: int | None = None
    minimum: int | None = None

    def to_json(self) -> dict:
        out = {"name": self.name, "currentValue": self.current}
        if self.maximum is not None:
            out["maximumValue"] = self.maximum
        if self.minimum is not None:
            out["minimumValue"] = self.minimum
        return out


class UnreadableCap(ValueError):
    """The BMC's body says capping is not available (str() is the upstream text)."""


def read_cap(style: CapStyle, body: dict, power_url: str = "") -> tuple[list[Reading], dict | None]:
    """The controls in one Redfish body and the component's `limits` (None when the body gives
    none). A body that holds PowerLimits is read as style C whatever the inventory said.
    Raises UnreadableCap for a body carrying an `error` object (an unlicensed iLO)."""
    if isinstance(member(body, "error"), dict):
        raise UnreadableCap(outcomes.INVALID_CAP_LICENSE)
    if member(body, "PowerLimits") is not None or member(body, "PowerLimitRanges") is not None:
        return _read_apollo(body)
    if style in _PER_CONTROL:
        return _read_control(body)
    return _read_power_control(body, power_url)


def _read_control(body: dict) -> tuple[list[Reading], dict | None]:
    low, high = whole(member(body, "SettingRangeMin")), whole(member(body, "SettingRangeMax"))
    # A disabled control caps nothing, whatever set point it remembers.
    disabled = str(member(body, "ControlMode") or "").lower() == "disabled"
    current = 0 if disabled else whole(member(body, "SetPoint")) or 0
    limits = None
    if str(member(body, "PhysicalContext") or "").lower() == "chassis":
        limits = _limits(high, low)
    return [Reading(str(member(body, "Name") or ""), current, high, low)], limits


def _read_power_control(body: dict, power_url: str) -> tuple[list[Reading], dict | None]:
    readings, limits = [], None
    for i, entry in enumerate(e for e in member(body, "PowerControl") or [] if isinstance(e, dict)):
        cray = path_of(entry, "Oem", "Cray")
        bounds = member(cray, "PowerLimit") if isinstance(cray, dict) else None
        if isinstance(bounds, dict):
            high, low = whole(member(bounds, "Max")), whole(member(bounds, "Min"))
        else:
            high, low = whole(member(entry, "PowerCapacityWatts")), None
        name = NODE_POWER_LIMIT if HPE_SERVER_MARK in power_url else str(member(entry, "Name") or "")
        readings.append(Reading(name, whole(path_of(entry, "PowerLimit", "LimitInWatts")) or 0,
                                high, low))
        if i == 0:
            limits = _limits(high, low, whole(member(cray, "PowerResetWatts"))
                             if isinstance(cray, dict) else None)
    return readings, limits


def _read_apollo(body: dict) -> tuple[list[Reading], dict | None]:
    ranges = [r for r in member(body, "PowerLimitRanges") or [] if isinstance(r, dict)]
    readings, limits = [], None
    for i, entry in enumerate(e for e in member(body, "PowerLimits") or [] if isinstance(e, dict)):
        bounds = ranges[i] if i < len(ranges) else {}
        high = whole(member(bounds, "MaximumPowerLimit"))
        low = whole(member(bounds, "MinimumPowerLimit"))
        readings.append(Reading(NODE_POWER_LIMIT, whole(member(entry, "PowerLimitInWatts")) or 0,
                                high, low))
        if i == 0:
            limits = _limits(high, low)
    return readings, limits


def _limits(high: int | None, low: int | None, powerup: int | None = None) -> dict:
    out = {}
    for key, value in (("hostLimitMax", high), ("hostLimitMin", low), ("powerupPower", powerup)):
        if value is not None:
            out[key] = value
    return out


# -- writing ------------------------------------------------------------------------------------
def control_member(url: str, value: int) -> dict:
    """A Control's new settings: a set point in Automatic mode, or Disabled for 0."""
    if value == 0:
        return {"@odata.id": url, "ControlMode": "Disabled"}
    return {"@odata.id": url, "ControlMode": "Automatic", "SetPoint": value}


def controls_deep_url(control_url: str) -> str:
    """`/redfish/v1/Chassis/Node0/Controls/NodePowerLimit` -> `/redfish/v1/Chassis/Node0/Controls.Deep`."""
    return control_url.rstrip("/").rsplit("/", 2)[0] + "/Controls.Deep"


def power_control_body(info: CapInfo, values: dict[str, int]) -> dict:
    """Sized like the inventory's PowerControl list: the chosen entries carry a limit, the
    others stay empty objects."""
    body = [{} for _ in range(max(info.power_control_count, 1))]
    for name, value in values.items():
        index = info.control(name).index
        if index < len(body):
            body[index] = {"PowerLimit": {"LimitInWatts": value}}
    return {"PowerControl": body}


def apollo_body(value: int) -> dict:
    return {"PowerLimits": [{"PowerLimitInWatts": value, "ZoneNumber": 0}]}


def held_mismatches(values: dict[str, int], readings: list[Reading]) -> list[str]:
    """The texts for each requested control that the BMC does not hold at the value sent."""
    held = {r.name: r.current for r in readings}
    out = []
    for name, value in values.items():
        if name not in held:
            out.append(outcomes.cap_unreadable(name))
        elif held[name] != value:
            out.append(outcomes.cap_not_held(name, value, held[name]))
    return out


# -- the view of a task -------------------------------------------------------------------------
def merge_component(xname: str, entries: list[CapEntry]) -> dict:
    """One component of GET /power-cap/{id}: errors joined `; `, limits of the first entry
    that has them, powerCapLimits concatenated; absent keys omitted."""
    out: dict = {"xname": xname}
    errors = [e.error for e in entries if e.error]
    if errors:
        out["error"] = "; ".join(errors)
    limits = next((e.limits for e in entries if e.limits), None)
    if limits:
        out["limits"] = limits
    controls = [c for e in entries for c in e.controls]
    if controls:
        out["powerCapLimits"] = controls
    return out
