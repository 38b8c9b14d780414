"""The SMD face's whole state: the fleet's components, their SMD fields, locks, the push log
and the fault the admin installed. Pure apart from reading the fleet; time is passed in."""
from __future__ import annotations

from typing import Any

from ..fleet import Fleet
from .errors import BadRequest, NoSuchComponent
from .inventory import FleetComponent, component_endpoint, fleet_components, power_maps, power_of
from .reservations import LockBook
from .state import ComponentStates


def parse_fault(body: Any) -> dict[str, Any]:
    """``{"status": 400..599}`` or ``{"down": true}``. Raises BadRequest."""
    if isinstance(body, dict) and body.get("down") is True and set(body) == {"down"}:
        return {"down": True}
    status = body.get("status") if isinstance(body, dict) else None
    if (isinstance(body, dict) and set(body) == {"status"} and isinstance(status, int)
            and not isinstance(status, bool) and 400 <= status <= 599):
        return {"status": status}
    raise BadRequest('fault must be {"status": 400..599} or {"down": true}')


class SmdFace:
    """What the SMD face serves about ``fleet``; its BMCs are reached at ``host``."""

    def __init__(self, fleet: Fleet, host: str = "127.0.0.1", minute_s: float = 60.0) -> None:
        self.fleet = fleet
        self.host = host
        self.by_id: dict[str, FleetComponent] = {c.id: c for c in fleet_components(fleet)}
        self.states = ComponentStates(
            (c.spec for c in self.by_id.values()),
            lambda component_id, now: power_of(fleet, self.by_id[component_id], now))
        self.locks = LockBook(self.by_id, minute_s)
        self.powered_by = power_maps(fleet)
        self.fault: dict[str, Any] | None = None
        self.oauth = None   # a TokenIssuer while OAuth2 is on (oauth.py)

    def lock_fields(self, component_id: str) -> dict[str, bool]:
        """The lock fields SMD adds to a component object."""
        return {"Locked": component_id in self.locks.locked,
                "ReservationDisabled": component_id in self.locks.disabled}

    def component(self, component_id: str, now: float) -> dict[str, Any]:
        return self.states.component(component_id, now, self.lock_fields(component_id))

    def query(self, body: Any, now: float) -> list[dict[str, Any]]:
        ids = body.get("ComponentIDs") if isinstance(body, dict) else None
        if ids is not None and (not isinstance(ids, list)
                                or not all(isinstance(i, str) for i in ids)):
            raise BadRequest("error decoding JSON: ComponentIDs must be a list of strings")
        return self.states.query([i.lower() for i in ids or []], now, self.lock_fields)

    def filtered(self, filters: dict[str, list[str]], now: float) -> list[dict[str, Any]]:
        return self.states.filtered(filters, now, self.lock_fields)

    def endpoints(self, ids: list[str], now: float) -> list[dict[str, Any]]:
        """ComponentEndpoints of ``ids`` (all when empty); unknown IDs are left out."""
        chosen = (list(self.by_id) if not ids
                  else [i for i in dict.fromkeys(i.lower() for i in ids) if i in self.by_id])
        return [component_endpoint(self.fleet, self.by_id[i], self.host, now) for i in chosen]

    def power_map(self, component_id: str) -> dict[str, Any]:
        """Raises NoSuchComponent when no outlet is mapped to ``component_id``."""
        powered_by = self.powered_by.get(component_id.lower())
        if powered_by is None:
            raise NoSuchComponent("no such xname.")
        return {"id": component_id.lower(), "poweredBy": list(powered_by)}

    def power_map_list(self) -> list[dict[str, Any]]:
        return [{"id": i, "poweredBy": list(p)} for i, p in self.powered_by.items()]

    def set_component(self, component_id: str, body: Any) -> None:
        """Admin: Role, State, Flag, Enabled and ReservationDisabled of one component."""
        if not isinstance(body, dict):
            raise BadRequest("body must be an object")
        fields = dict(body)
        disabled = fields.pop("ReservationDisabled", None)
        if disabled is not None and not isinstance(disabled, bool):
            raise BadRequest("ReservationDisabled must be true or false")
        if fields or disabled is None:
            self.states.set_fields(component_id, fields)
        elif component_id not in self.by_id:
            raise NoSuchComponent("no such xname.")
        if disabled is not None:
            self.locks.set_disabled(component_id, disabled)
