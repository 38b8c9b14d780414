"""SMD's component locks (v2): service reservations and admin locks, with SMD's rules.

Pure: ``now`` (epoch seconds) is passed in and ``minute_s`` is the length of the minute that
``ReservationDuration`` counts in, so tests can expire a reservation in a second.

Rules, as SMD applies them:
- the components a request names are the known ones among its ``ComponentIDs`` (every known
  component when it names none); unknown IDs are simply left out of the answer, and when none
  is known the request fails with ``Component not found``;
- ``ProcessingModel`` ``rigid`` (the default) is all or nothing: the first refusal fails the
  request with 400 and changes nothing; ``flexible`` does what it can and lists the rest in
  ``Failure`` with a reason (``Locked``, ``Unlocked``, ``Reserved``, ``Disabled``, ``NotFound``,
  ``ServerError``);
- an expired reservation is gone: it neither blocks a new one nor answers a check.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import BadRequest

RIGID, FLEXIBLE = "rigid", "flexible"
MAX_DURATION_MINUTES = 15
# SMD's error texts (pkg/sm/complocks.go)
NOT_FOUND = "Component not found"
IS_LOCKED = "Component is Locked"
IS_UNLOCKED = "Component is Unlocked"
IS_RESERVED = "Component is Reserved"
IS_DISABLED = "Component reservations are disabled"
NEED_RESERVATION_KEY = "Reservation Key required for operation"
NEED_DEPUTY_KEY = "Deputy Key required for operation"   # SMD also says this on release


@dataclass
class Reservation:
    component_id: str
    deputy_key: str
    reservation_key: str
    created: float
    expires: float


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def processing_model(body: dict) -> str:
    value = body.get("ProcessingModel") or RIGID
    model = str(value).lower() if isinstance(value, str) else ""
    if model not in (RIGID, FLEXIBLE):
        raise BadRequest("Invalid Processing Model")
    return model


def duration_minutes(body: dict, required: bool) -> int:
    """``ReservationDuration``: at most 15; when ``required``, at least 1. Raises BadRequest."""
    value = body.get("ReservationDuration", 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("error decoding JSON: ReservationDuration must be an integer")
    if value > MAX_DURATION_MINUTES:
        raise BadRequest("Invalid Reservation Duration")
    if required and value <= 0:
        raise BadRequest("ReservationDuration must be greater than 0")
    return value


def _object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise BadRequest("error decoding JSON: body must be an object")
    return body


def _keys(body: dict, field: str) -> list[tuple[str, str]]:
    """(ID, Key) pairs of a ``ReservationKeys``/``DeputyKeys`` list, keys lower-cased."""
    entries = body.get(field)
    if entries is None:
        entries = []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise BadRequest(f"error decoding JSON: {field} must be a list of {{ID, Key}}")
    return [(str(e.get("ID") or "").lower(), str(e.get("Key") or "").lower()) for e in entries]


def update_result(success: list[str], failure: list[dict[str, str]]) -> dict[str, Any]:
    """The answer of renew, release, lock and unlock."""
    return {"Counts": {"Total": len(success) + len(failure), "Success": len(success),
                       "Failure": len(failure)},
            "Success": {"ComponentIDs": success}, "Failure": failure}


def _failure(component_id: str, reason: str) -> dict[str, str]:
    return {"ID": component_id, "Reason": reason}


class LockBook:
    """Reservations, admin locks and disabled reservations of a fixed set of components."""

    def __init__(self, component_ids: Iterable[str], minute_s: float = 60.0,
                 new_uuid: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self.component_ids: list[str] = list(component_ids)
        self._known: set[str] = set(self.component_ids)
        self.minute_s = minute_s
        self.new_uuid = new_uuid
        self.reservations: dict[str, Reservation] = {}   # component ID -> reservation
        self.locked: set[str] = set()
        self.disabled: set[str] = set()   # reservations disabled (admin)

    # ---- selection ------------------------------------------------------------
    def _purge(self, now: float) -> None:
        for component_id in [c for c, r in self.reservations.items() if r.expires <= now]:
            del self.reservations[component_id]

    def _selected(self, body: dict) -> list[str]:
        """The known components a filter body names. Raises BadRequest (none known)."""
        ids = body.get("ComponentIDs")
        if ids is None or ids == []:
            chosen = list(self.component_ids)
        elif not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise BadRequest("error decoding JSON: ComponentIDs must be a list of strings")
        else:
            chosen = [i for i in dict.fromkeys(i.lower() for i in ids) if i in self._known]
        if not chosen:
            raise BadRequest(NOT_FOUND)
        return chosen

    def _sort_out(self, body: dict, model: str,
                  refusal: Callable[[str], tuple[str, str] | None]
                  ) -> tuple[list[str], list[dict[str, str]]]:
        """The selected components ``refusal`` lets through, and failures for the rest;
        ``refusal`` gives (reason, SMD's text). Raises BadRequest on the first refusal of a
        rigid request."""
        candidates, failure = [], []
        for component_id in self._selected(body):
            refused = refusal(component_id)
            if refused is None:
                candidates.append(component_id)
                continue
            reason, text = refused
            if model == RIGID:
                raise BadRequest(text)
            failure.append(_failure(component_id, reason))
        return candidates, failure

    def _reservation_refusal(self, component_id: str) -> tuple[str, str] | None:
        """Why a new reservation of ``component_id`` is refused (None: it is not)."""
        if component_id in self.disabled:
            return "Disabled", IS_DISABLED
        if component_id in self.locked:
            return "Locked", IS_LOCKED
        if component_id in self.reservations:
            return "Reserved", IS_RESERVED
        return None

    def reserved_by_key(self, field: str, key: str) -> Reservation | None:
        for r in self.reservations.values():
            if getattr(r, field) == key:
                return r
        return None

    # ---- service reservations -----------------------------------------------------
    def create(self, body: Any, now: float) -> dict[str, Any]:
        """POST /locks/service/reservations. Raises BadRequest."""
        body = _object(body)
        model = processing_model(body)
        minutes = duration_minutes(body, required=True)
        self._purge(now)
        candidates, failure = self._sort_out(body, model, self._reservation_refusal)
        expires = now + minutes * self.minute_s
        success = []
        for component_id in candidates:
            r = Reservation(component_id, f"{component_id}:dk:{self.new_uuid()}",
                            f"{component_id}:rk:{self.new_uuid()}", now, expires)
            self.reservations[component_id] = r
            success.append({"ID": component_id, "DeputyKey": r.deputy_key,
                            "ReservationKey": r.reservation_key,
                            "ExpirationTime": rfc3339(expires)})
        return {"Success": success, "Failure": failure}

    def check(self, body: Any, now: float) -> dict[str, Any]:
        """POST /locks/service/reservations/check: which deputy keys are valid now."""
        keys = _keys(_object(body), "DeputyKeys")
        if not keys or any(not key for _, key in keys):
            raise BadRequest(NEED_DEPUTY_KEY)
        self._purge(now)
        success, failure = [], []
        for component_id, key in keys:
            r = self.reserved_by_key("deputy_key", key)
            if r is None:
                failure.append(_failure(component_id, "NotFound"))
            else:
                success.append({"ID": r.component_id, "DeputyKey": r.deputy_key,
                                "CreationTime": rfc3339(r.created),
                                "ExpirationTime": rfc3339(r.expires)})
        return {"Success": success, "Failure": failure}

    def renew(self, body: Any, now: float) -> dict[str, Any]:
        """POST …/renew: a new expiry, ``ReservationDuration`` minutes from now."""
        body = _object(body)
        model = processing_model(body)
        minutes = duration_minutes(body, required=True)
        keys = _keys(body, "ReservationKeys")
        self._purge(now)

        def renew_one(r: Reservation) -> None:
            r.expires = now + minutes * self.minute_s
        return self._by_reservation_key(keys, model, NEED_RESERVATION_KEY, renew_one)

    def release(self, body: Any, now: float) -> dict[str, Any]:
        """POST …/release: the reservations end."""
        body = _object(body)
        model = processing_model(body)
        duration_minutes(body, required=False)
        keys = _keys(body, "ReservationKeys")
        self._purge(now)

        def release_one(r: Reservation) -> None:
            del self.reservations[r.component_id]
        return self._by_reservation_key(keys, model, NEED_DEPUTY_KEY, release_one)

    def _by_reservation_key(self, keys: Sequence[tuple[str, str]], model: str,
                            missing_key: str, apply: Callable[[Reservation], None]
                            ) -> dict[str, Any]:
        if not keys or any(not key for _, key in keys):
            # SMD fails the whole call; flexible reports every ID as a server error
            if model == RIGID:
                raise BadRequest(missing_key)
            return update_result([], [_failure(i, "ServerError") for i, _ in keys])
        found = [(i, self.reserved_by_key("reservation_key", key)) for i, key in keys]
        if model == RIGID and any(r is None for _, r in found):
            raise BadRequest(NOT_FOUND)
        success, failure = [], []
        for component_id, r in found:
            if r is None:
                failure.append(_failure(component_id, "NotFound"))
            else:
                apply(r)
                success.append(r.component_id)
        return update_result(success, failure)

    # ---- admin locks ------------------------------------------------------------------
    def lock(self, body: Any, now: float) -> dict[str, Any]:
        """POST /locks/lock: locked components refuse new reservations."""
        return self._set_locked(_object(body), True, now)

    def unlock(self, body: Any, now: float) -> dict[str, Any]:
        """POST /locks/unlock."""
        return self._set_locked(_object(body), False, now)

    def _set_locked(self, body: dict, lock: bool, now: float) -> dict[str, Any]:
        model = processing_model(body)
        duration_minutes(body, required=False)
        self._purge(now)

        def refusal(component_id: str) -> tuple[str, str] | None:
            if component_id in self.disabled:
                return "Disabled", IS_DISABLED
            if (component_id in self.locked) == lock:
                return ("Locked", IS_LOCKED) if lock else ("Unlocked", IS_UNLOCKED)
            if component_id in self.reservations:
                return "Reserved", IS_RESERVED
            return None
        candidates, failure = self._sort_out(body, model, refusal)
        if not candidates:   # SMD's text whatever the reasons were
            raise BadRequest(IS_RESERVED)
        if lock:
            self.locked.update(candidates)
        else:
            self.locked.difference_update(candidates)
        return update_result(candidates, failure)

    def set_disabled(self, component_id: str, disabled: bool) -> None:
        """Admin: disable (dropping its reservation) or re-enable reservations of a component."""
        if disabled:
            self.disabled.add(component_id)
            self.reservations.pop(component_id, None)
        else:
            self.disabled.discard(component_id)

    # ---- status -------------------------------------------------------------------------
    def status_of(self, component_id: str, now: float) -> dict[str, Any]:
        self._purge(now)
        entry: dict[str, Any] = {"ID": component_id, "Locked": component_id in self.locked,
                                 "Reserved": component_id in self.reservations,
                                 "ReservationDisabled": component_id in self.disabled}
        r = self.reservations.get(component_id)
        if r is not None:
            entry["CreationTime"] = rfc3339(r.created)
            entry["ExpirationTime"] = rfc3339(r.expires)
        return entry

    def status(self, component_ids: Sequence[str], now: float) -> list[dict[str, Any]]:
        """Lock status of the known ones among ``component_ids``. Raises BadRequest (none)."""
        entries = [self.status_of(i, now) for i in component_ids if i in self._known]
        if not entries:
            raise BadRequest(NOT_FOUND)
        return entries

    def held(self, now: float) -> dict[str, Any]:
        """Admin: every reservation and lock held now."""
        self._purge(now)
        return {"Reservations": [
                    {"ID": r.component_id, "DeputyKey": r.deputy_key,
                     "ReservationKey": r.reservation_key, "CreationTime": rfc3339(r.created),
                     "ExpirationTime": rfc3339(r.expires), "ExpiresAt": r.expires}
                    for r in self.reservations.values()],
                "Locked": sorted(self.locked), "ReservationDisabled": sorted(self.disabled)}
