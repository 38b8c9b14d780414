"""What SMD knows of each component: State, Flag, Enabled, Role, and how a push changes them.

Pure: time is passed in as ``now`` and the live power reading comes from a function given at
construction, so these rules are unit-testable without a fleet or HTTP. A component's State
follows its power reading until a BulkStateData push (or the admin) sets it; from then on the
stored value answers, as in SMD, where only pushes change State.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import BadRequest, NoSuchComponent

# SMD's states and flags, keyed by their lower-case form (values are matched case-insensitively).
STATES = {s.lower(): s for s in
          ("Unknown", "Empty", "Populated", "Off", "On", "Standby", "Halt", "Ready")}
FLAGS = {f.lower(): f for f in ("OK", "Warning", "Alert", "Locked", "Unknown")}
ROLES = {r.lower(): r for r in
         ("Compute", "Service", "System", "Application", "Storage", "Management")}
# The states an unforced push may start from (None: any). Ready stays Ready on an "On" push,
# since a booted node reports On before its software is up.
START_STATES: dict[str, frozenset | None] = {
    "On": frozenset({"On", "Off", "Standby", "Halt"}),
    "Off": frozenset({"Off", "On", "Standby", "Halt", "Ready"}),
    "Standby": frozenset({"Standby", "Ready"}),
    "Halt": frozenset({"Halt", "Ready"}),
    "Ready": frozenset({"Ready", "On", "Off", "Standby", "Halt"}),
    "Unknown": None, "Empty": None, "Populated": None,
}
# Query parameters of GET /State/Components and the component field each one filters.
FILTER_FIELDS = {"id": "ID", "type": "Type", "state": "State", "flag": "Flag", "role": "Role",
                 "subrole": "SubRole", "class": "Class", "arch": "Arch", "nid": "NID",
                 "enabled": "Enabled", "nettype": "NetType"}

PowerReader = Callable[[str, float], str]


@dataclass(frozen=True)
class ComponentSpec:
    """The fixed description of one component (from the fleet's layout)."""

    id: str
    type: str
    hsm_class: str = "River"
    nid: int | None = None
    role: str | None = None


@dataclass
class ComponentRecord:
    spec: ComponentSpec
    role: str | None
    flag: str = "OK"
    enabled: bool = True
    stored_state: str | None = None   # None: State follows the power reading


@dataclass(frozen=True)
class StatePush:
    """One BulkStateData request as received (kept for the admin log)."""

    time: float
    component_ids: list[str]
    state: str
    flag: str
    force: bool
    changed: list[str]


def normalize(value: Any, table: Mapping[str, str], what: str) -> str:
    """The canonical spelling of ``value`` in ``table``. Raises BadRequest naming ``what``."""
    found = table.get(str(value).lower()) if isinstance(value, str) else None
    if found is None:
        raise BadRequest(f"Argument was not a valid HMS {what}")
    return found


class ComponentStates:
    """Every component's SMD fields; ``power_of(id, now)`` gives "On"/"Off" from the fleet."""

    def __init__(self, specs: Iterable[ComponentSpec], power_of: PowerReader) -> None:
        self.records: dict[str, ComponentRecord] = {
            s.id: ComponentRecord(spec=s, role=s.role) for s in specs}
        self.power_of = power_of
        self.pushes: list[StatePush] = []

    def ids(self) -> list[str]:
        return list(self.records)

    def known(self, component_id: str) -> bool:
        return component_id in self.records

    def state(self, component_id: str, now: float) -> str:
        record = self.records[component_id]
        if record.stored_state is not None:
            return record.stored_state
        return self.power_of(component_id, now)

    def component(self, component_id: str, now: float,
                  extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The component object as SMD sends it. Raises NoSuchComponent."""
        record = self.records.get(component_id)
        if record is None:
            raise NoSuchComponent("no such xname.")
        spec = record.spec
        body: dict[str, Any] = {"ID": spec.id, "Type": spec.type,
                                "State": self.state(spec.id, now), "Flag": record.flag,
                                "Enabled": record.enabled}
        if record.role:
            body["Role"] = record.role
        if spec.nid is not None:
            body["NID"] = spec.nid
        body.update({"NetType": "Sling", "Arch": "X86", "Class": spec.hsm_class})
        body.update(extra or {})
        return body

    def query(self, component_ids: Sequence[str], now: float,
              extra: Callable[[str], Mapping[str, Any]] = lambda _id: {}
              ) -> list[dict[str, Any]]:
        """Query's answer: ``["all"]`` is every component; otherwise exact IDs, unknown ones
        absent. Raises BadRequest for an empty list."""
        if not component_ids:
            raise BadRequest("Missing IDs")
        if any(str(i).lower() == "all" for i in component_ids):
            wanted = self.ids()
        else:
            wanted = list(dict.fromkeys(i for i in component_ids if i in self.records))
        return [self.component(i, now, extra(i)) for i in wanted]

    def filtered(self, filters: Mapping[str, list[str]], now: float,
                 extra: Callable[[str], Mapping[str, Any]] = lambda _id: {}
                 ) -> list[dict[str, Any]]:
        """GET /State/Components: each filter (a query parameter, repeatable) keeps components
        whose field equals one of its values (case-insensitive; a ``!`` prefix excludes)."""
        unknown = sorted(set(filters) - set(FILTER_FIELDS))
        if unknown:
            raise BadRequest(f"bad query param: unknown parameter {unknown[0]}")
        out = []
        for component_id in self.ids():
            body = self.component(component_id, now, extra(component_id))
            if all(_matches(body.get(FILTER_FIELDS[name]), values)
                   for name, values in filters.items()):
                out.append(body)
        return out

    def push(self, body: Any, now: float) -> StatePush:
        """Apply a BulkStateData body (SMD's rules). Raises BadRequest for a bad body."""
        if not isinstance(body, dict):
            raise BadRequest("error decoding JSON: body must be an object")
        ids = body.get("ComponentIDs")
        if not isinstance(ids, list) or not ids:
            raise BadRequest("Missing IDs")
        if not all(isinstance(i, str) and i for i in ids):
            raise BadRequest("invalid xname ID")
        if not body.get("State"):
            raise BadRequest("Missing State")
        state = normalize(body["State"], STATES, "State")
        flag = normalize(body.get("Flag") or "OK", FLAGS, "Flag")
        force = body.get("Force") is True
        allowed = None if force else START_STATES[state]
        changed = []
        for component_id in dict.fromkeys(ids):   # unknown IDs are skipped, as SMD does
            record = self.records.get(component_id)
            if record is None:
                continue
            if allowed is not None and self.state(component_id, now) not in allowed:
                continue
            record.stored_state, record.flag = state, flag
            changed.append(component_id)
        push = StatePush(now, list(ids), state, flag, force, changed)
        self.pushes.append(push)
        return push

    def set_fields(self, component_id: str, fields: Any) -> None:
        """Admin: set Role, State (null: follow power again), Flag or Enabled of one component.
        Raises NoSuchComponent or BadRequest."""
        record = self.records.get(component_id)
        if record is None:
            raise NoSuchComponent("no such xname.")
        if not isinstance(fields, dict) or not fields:
            raise BadRequest("body must be an object with Role, State, Flag or Enabled")
        extra = set(fields) - {"Role", "State", "Flag", "Enabled"}
        if extra:
            raise BadRequest(f"unknown field {min(extra)}")
        if "Enabled" in fields and not isinstance(fields["Enabled"], bool):
            raise BadRequest("Enabled must be true or false")
        # validate everything before changing anything
        role = normalize(fields["Role"], ROLES, "Role") if "Role" in fields else record.role
        state = (normalize(fields["State"], STATES, "State")
                 if fields.get("State") is not None else None)
        flag = normalize(fields["Flag"], FLAGS, "Flag") if "Flag" in fields else record.flag
        record.role, record.flag = role, flag
        if "State" in fields:
            record.stored_state = state
        if "Enabled" in fields:
            record.enabled = fields["Enabled"]


def _matches(value: Any, wanted: list[str]) -> bool:
    text = str(value).lower()   # booleans read "true"/"false", as in the query string
    keep = [w.lower() for w in wanted if not w.startswith("!")]
    drop = [w[1:].lower() for w in wanted if w.startswith("!")]
    if text in drop:
        return False
    return not keep or text in keep
