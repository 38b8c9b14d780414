"""One power-cap task on a worker: claim, ask the BMC, record every exchange, finish.

A snapshot reads. A patch reads the controls, writes only those that differ, then reads them
back and reports what the BMC holds; a refusal fails the component in the BMC's own words, and
a value accepted but not held fails it naming both values. A write's exchange is stored as
`sending` before the request leaves, so a task resumed after its worker died shows what may
have reached the BMC; the resumed step reads before it writes, so nothing is applied twice.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import insert, text, update
from sqlalchemy.exc import OperationalError

from pcs.capping import queue
from pcs.capping.device import CapDevice, Read, Write, deep_patch_missing
from pcs.config import Settings
from pcs.db import Database
from pcs.domain import outcomes
from pcs.domain.capping import (CapEntry, CapInfo, EntryStatus, Reading, failed,
                                held_mismatches)
from pcs.errors import CredentialsUnavailable, DatabaseUnavailable
from pcs.models import BmcExchange
from pcs.redfish.client import Exchange, RedfishClient

log = logging.getLogger(__name__)
exchanges = BmcExchange.__table__

_LOAD = text("""
    SELECT t.kind, t.requested, c.capping, b.id AS bmc_id, b.updated_at AS bmc_updated_at,
           b.xname AS bmc_xname, b.address AS bmc_address, b.scheme AS bmc_scheme,
           b.username AS bmc_username, b.password_encrypted AS bmc_password_encrypted,
           b.verify_tls AS bmc_verify_tls, b.ca_bundle AS bmc_ca_pem
    FROM power_cap_tasks t
    JOIN components c ON c.id = t.component_id
    JOIN bmcs b ON b.id = c.bmc_id
    WHERE t.id = :id""")


@dataclass
class CapStep:
    claim: queue.CapClaim
    bmc_id: int
    device: CapDevice
    unrecorded: list[tuple[Exchange, str]] = field(default_factory=list)


class CapExecutor:
    """Runs power-cap tasks for one worker process; `client_for` gives the process's pooled
    Redfish client of a BMC (the same pool transitions use)."""

    def __init__(self, settings: Settings, db: Database,
                 client_for: Callable[[dict], RedfishClient]):
        self.settings, self.db, self.client_for = settings, db, client_for

    def run_steps(self, task_ids: list[int]) -> None:
        ended: set[uuid.UUID] = set()
        for task_id in task_ids:
            try:
                power_cap_id = self.run_step(task_id)
            except (DatabaseUnavailable, OperationalError) as exc:
                # The lease runs out and the reaper sends the task again.
                log.warning("power-cap task %s stopped on a database error: %s", task_id, exc)
                continue
            if power_cap_id is not None:
                ended.add(power_cap_id)
        if ended:
            with self.db.transaction() as session:
                for power_cap_id in sorted(ended):
                    queue.complete_if_done(session, power_cap_id)

    def run_step(self, task_id: int) -> uuid.UUID | None:
        """Run one task to its end; returns its power cap's ID when it ended here."""
        with self.db.transaction() as session:
            claim = queue.claim(session, task_id, self.settings.step_lease_s)
            if claim is None:
                return None
            row = session.execute(_LOAD, {"id": task_id}).first()
            if row is None:   # the component left the inventory while the task waited
                queue.finish(session, claim, [failed(outcomes.XNAME_NOT_FOUND_IN_HSM)])
                return claim.power_cap_id
        bmc = {k[4:]: v for k, v in row._mapping.items() if k.startswith("bmc_")}
        info = CapInfo.from_json(row.capping)
        if info is None:   # its capping data went away since it was planned
            return self._end(claim, bmc["id"], [failed(outcomes.MISSING_POWER_CAP_URI)], [])
        try:
            client = self.client_for(bmc)
        except CredentialsUnavailable as exc:
            return self._end(claim, bmc["id"], [failed(str(exc))], [])
        step = CapStep(claim, bmc["id"], CapDevice(client, info))
        try:
            if row.kind == "snapshot":
                entries = self._snapshot(step)
            else:
                entries = self._patch(step, {name: value for name, value in row.requested})
        except (DatabaseUnavailable, OperationalError):
            raise
        except Exception:
            log.exception("power-cap task %s (%s) failed unexpectedly", task_id, claim.xname)
            entries = [failed(outcomes.INTERNAL_ERROR)]
        return self._end(claim, step.bmc_id, entries, step.unrecorded)

    # -- snapshot -----------------------------------------------------------------------------
    def _snapshot(self, step: CapStep) -> list[CapEntry]:
        entries = []
        for url in step.device.read_urls():
            found = step.device.read(url)
            step.unrecorded += [(e, "cap-read") for e in found.exchanges]
            if found.error:
                entries.append(failed(found.error))
            else:
                entries.append(CapEntry(EntryStatus.SUCCEEDED, limits=found.limits,
                                        controls=tuple(r.to_json() for r in found.readings)))
        return entries

    # -- patch --------------------------------------------------------------------------------
    def _patch(self, step: CapStep, values: dict[str, int]) -> list[CapEntry]:
        names = list(values)
        before = self._read(step, names, "cap-read")
        if before.error:
            return [failed(before.error)]
        held = {r.name: r.current for r in before.readings}
        changes = {n: v for n, v in values.items() if held.get(n) != v}
        if not changes:   # nothing to write: what was read is what the BMC holds
            return [self._held(step, values, before.readings)]
        refusal = self._write(step, step.device.writes(changes))
        if refusal:
            return [failed(refusal)]
        after = self._read(step, names, "cap-readback")
        if after.error:
            return [failed(after.error)]
        mismatches = held_mismatches(values, after.readings)
        if mismatches:
            return [failed("; ".join(mismatches))]
        return [self._held(step, values, after.readings)]

    def _read(self, step: CapStep, names: list[str], purpose: str) -> Read:
        found = step.device.read_all(names)
        step.unrecorded += [(e, purpose) for e in found.exchanges]
        return found

    def _write(self, step: CapStep, writes: list[Write]) -> str:
        """Send the writes, each recorded as `sending` first. Returns the BMC's refusal, or ""."""
        for write in writes:
            exchange = self._send_recorded(step, write)
            if deep_patch_missing(write, exchange):
                return self._write(step, step.device.control_writes(
                    self._deep_values(step, write)))
            if not exchange.ok:
                return exchange.error or "no answer"
        return ""

    @staticmethod
    def _deep_values(step: CapStep, write: Write) -> dict[str, int]:
        """The control values a Controls.Deep body carries, by control name."""
        by_url = {c.url: c.name for c in step.device.info.controls}
        return {by_url[m["@odata.id"]]: 0 if m["ControlMode"] == "Disabled" else m["SetPoint"]
                for m in write.body["Members"]}

    def _send_recorded(self, step: CapStep, write: Write) -> Exchange:
        self._flush(step)
        with self.db.transaction() as session:
            exchange_id = session.scalar(insert(exchanges).values(
                cap_task_id=step.claim.task_id, bmc_id=step.bmc_id, purpose="cap-write",
                state="sending", method=write.method, path=write.path, request_body=write.body,
                sent_at=queue.utcnow()).returning(exchanges.c.id))
        exchange = step.device.send(write)
        with self.db.transaction() as session:
            session.execute(update(exchanges).where(exchanges.c.id == exchange_id)
                            .values(state="done", **_columns(exchange)))
        return exchange

    @staticmethod
    def _held(step: CapStep, values: dict[str, int], readings: list[Reading]) -> CapEntry:
        """The requested controls as the BMC holds them, with the bounds the BMC gave (else
        the inventory's)."""
        by_name = {r.name: r for r in readings}
        shown = []
        for name in values:
            reading, known = by_name[name], step.device.info.control(name)
            shown.append(Reading(name, reading.current,
                                 reading.maximum if reading.maximum is not None else known.maximum,
                                 reading.minimum if reading.minimum is not None else known.minimum
                                 ).to_json())
        return CapEntry(EntryStatus.SUCCEEDED, controls=tuple(shown))

    # -- recording ----------------------------------------------------------------------------
    def _flush(self, step: CapStep) -> None:
        if step.unrecorded:
            with self.db.transaction() as session:
                self._insert(session, step)

    def _insert(self, session, step: CapStep) -> None:
        rows = [dict(_columns(attempt), cap_task_id=step.claim.task_id, bmc_id=step.bmc_id,
                     purpose=purpose, state="done", method=attempt.method, path=attempt.path,
                     request_body=attempt.request_body, sent_at=attempt.sent_at)
                for exchange, purpose in step.unrecorded
                for attempt in (*exchange.earlier, exchange)]
        step.unrecorded.clear()
        if rows:
            session.execute(insert(exchanges), rows)

    def _end(self, claim: queue.CapClaim, bmc_id: int, entries: list[CapEntry],
             unrecorded: list[tuple[Exchange, str]]) -> uuid.UUID | None:
        """Exchanges first, then the outcome, in one transaction (fenced by the claim)."""
        with self.db.transaction() as session:
            if unrecorded:
                self._insert(session, CapStep(claim, bmc_id, None, list(unrecorded)))
            done = queue.finish(session, claim, entries)
        return claim.power_cap_id if done else None


def _columns(exchange: Exchange) -> dict:
    return {"status_code": exchange.status_code, "response_body": exchange.response_body,
            "error_class": exchange.error_class, "error": exchange.error,
            "latency_ms": exchange.latency_ms}
