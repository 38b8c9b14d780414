"""Who else may hold a component: nobody (local mode) or SMD's service reservations.

In smd mode (with HSMLOCK_ENABLED) a task acts only under a reservation (INTEGRATION.md §2):
its own, taken flexibly for one minute when its batch is about to act, renewed while it lives and
released when it ends; or the caller's deputy key, checked and used without owning it. pcs's own
per-component queue still orders pcs's own work: a reservation is per task, so the next queued
task of a component reserves it once the previous one has released it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pcs.domain import outcomes
from pcs.config import Settings
from pcs.sources.smd import SmdClient, SmdUnavailable, field, smd_client

log = logging.getLogger(__name__)

DURATION_MINUTES = 1           # upstream's flexible one-minute reservations
# Upstream checks every 10 s and renews what expires within 30 s: as fractions of a minute
# (PCS_MINUTE_S), so that tests with a short minute keep the same proportions.
RENEW_EVERY_MINUTES = 1 / 6
RENEW_WITHIN_MINUTES = 1 / 2


@dataclass(frozen=True)
class Wanted:
    """A task about to act: its component, the caller's deputy key, and the reservation key it
    stored before (a resumed task renews that one)."""
    task_id: int
    xname: str
    deputy_key: str | None = None
    reservation_key: str | None = None


@dataclass(frozen=True)
class Held:
    """The task may act. `reservation_key` is None when it acts under the caller's deputy key."""
    deputy_key: str
    reservation_key: str | None
    expires_at: datetime | None


@dataclass(frozen=True)
class Refused:
    """The task ends at once with these texts."""
    error: str
    description: str = outcomes.FAILED_TO_ACHIEVE


class ReservationSource(Protocol):
    enabled: bool

    def acquire(self, wanted: list[Wanted]) -> dict[int, Held | Refused]:
        """For each task, what it acts under or why it may not act."""

    def valid(self, deputy_keys: dict[str, str]) -> set[str] | None:
        """The xnames whose deputy key still holds; None when the check itself failed."""

    def renew(self, reservation_keys: dict[str, str]) -> dict[str, datetime | None]:
        """Renew these (xname -> reservation key); the new expiry per xname renewed."""

    def release(self, reservation_keys: dict[str, str]) -> None:
        """Release these; a failure is logged (SMD lets the reservation expire)."""


class NoReservations:
    """Nothing outside pcs holds components: every task may act."""
    enabled = False

    def acquire(self, wanted: list[Wanted]) -> dict[int, Held | Refused]:
        return {}

    def valid(self, deputy_keys: dict[str, str]) -> set[str] | None:
        return set(deputy_keys)

    def renew(self, reservation_keys: dict[str, str]) -> dict[str, datetime | None]:
        return {}

    def release(self, reservation_keys: dict[str, str]) -> None:
        return None


class SmdReservations:
    enabled = True

    def __init__(self, client: SmdClient):
        self.client = client

    def acquire(self, wanted: list[Wanted]) -> dict[int, Held | Refused]:
        """Three calls at most for a batch: renew stored keys, check callers' deputy keys,
        create the rest. A call that fails outright fails every task still without a key."""
        result: dict[int, Held | Refused] = {}
        pending = list(wanted)
        try:
            resumed = [w for w in pending if w.reservation_key]
            if resumed:
                renewed = self.renew({w.xname: w.reservation_key for w in resumed}, strict=True)
                for w in resumed:
                    if w.xname in renewed:
                        result[w.task_id] = Held(w.deputy_key or "", w.reservation_key,
                                                 renewed[w.xname])
            pending = [w for w in pending if w.task_id not in result]
            deputies = [w for w in pending if w.deputy_key]
            if deputies:
                valid = self._check({w.xname: w.deputy_key for w in deputies})
                for w in deputies:
                    if w.xname in valid:
                        result[w.task_id] = Held(w.deputy_key, None, valid[w.xname])
            pending = [w for w in pending if w.task_id not in result]
            if pending:
                result.update(self._create(pending))
        except SmdUnavailable as exc:
            refusal = Refused(outcomes.error_acquiring_reservations(_detail(exc)),
                              outcomes.ERROR_ACQUIRING_RESERVATIONS)
            for w in pending:
                result.setdefault(w.task_id, refusal)
        return result

    def _create(self, wanted: list[Wanted]) -> dict[int, Held | Refused]:
        answer = self.client.reservations("create", {
            "ComponentIDs": sorted({w.xname for w in wanted}), "ProcessingModel": "flexible",
            "ReservationDuration": DURATION_MINUTES})
        granted = {}
        for entry in field(answer, "Success") or []:
            granted[str(field(entry, "ID"))] = entry
        out: dict[int, Held | Refused] = {}
        for w in wanted:
            entry = granted.get(w.xname)
            if entry is not None:
                out[w.task_id] = Held(str(field(entry, "DeputyKey") or ""),
                                      str(field(entry, "ReservationKey") or ""),
                                      _time(field(entry, "ExpirationTime")))
            elif w.deputy_key:
                out[w.task_id] = Refused(outcomes.INVALID_DEPUTY_KEY)
            else:
                out[w.task_id] = Refused(outcomes.UNABLE_TO_RESERVE)
        return out

    def valid(self, deputy_keys: dict[str, str]) -> set[str] | None:
        try:
            return set(self._check(deputy_keys))
        except SmdUnavailable as exc:
            log.warning("checking %d deputy keys failed (ignored, as upstream): %s",
                        len(deputy_keys), exc)
            return None

    def _check(self, deputy_keys: dict[str, str]) -> dict[str, datetime | None]:
        answer = self.client.reservations("check", {"DeputyKeys": [
            {"ID": xname, "Key": key} for xname, key in sorted(deputy_keys.items())]})
        return {str(field(e, "ID")): _time(field(e, "ExpirationTime"))
                for e in field(answer, "Success") or []
                if deputy_keys.get(str(field(e, "ID"))) == field(e, "DeputyKey")}

    def renew(self, reservation_keys: dict[str, str],
              strict: bool = False) -> dict[str, datetime | None]:
        if not reservation_keys:
            return {}
        try:
            answer = self.client.reservations("renew", {
                "ReservationKeys": [{"ID": x, "Key": k} for x, k in
                                    sorted(reservation_keys.items())],
                "ProcessingModel": "flexible", "ReservationDuration": DURATION_MINUTES})
        except SmdUnavailable as exc:
            if strict:
                raise
            log.warning("renewing %d reservations failed: %s", len(reservation_keys), exc)
            return {}
        renewed = field(field(answer, "Success") or {}, "ComponentIDs") or []
        # SMD's renew answer carries no expiry: it is now plus the duration.
        return dict.fromkeys((str(x) for x in renewed if str(x) in reservation_keys), None)

    def release(self, reservation_keys: dict[str, str]) -> None:
        if not reservation_keys:
            return
        try:
            self.client.reservations("release", {
                "ReservationKeys": [{"ID": x, "Key": k} for x, k in
                                    sorted(reservation_keys.items())],
                "ProcessingModel": "flexible"})
        except SmdUnavailable as exc:
            log.warning("releasing %d reservations failed (they expire within a minute): %s",
                        len(reservation_keys), exc)


def reservation_source(settings: Settings) -> ReservationSource:
    """SMD's reservations when SMD is the inventory source and HSMLOCK_ENABLED is true."""
    if settings.sms_server and settings.hsmlock_enabled:
        return SmdReservations(smd_client(settings))
    return NoReservations()


def _detail(exc: SmdUnavailable) -> str:
    return getattr(exc, "detail", None) or str(exc)


def _time(value) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
