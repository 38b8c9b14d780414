"""The power-status sweep: one sweeper at a time (a PostgreSQL advisory lock held for the
sweep) reads every component's power state from its BMC, concurrently per BMC and bounded in
total, and stores the readings in one statement."""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select, text

from pcs import bmc_clients, metrics, power_status
from pcs.config import Settings
from pcs.db import Database
from pcs.errors import CredentialsUnavailable
from pcs.models import Bmc, Component
from pcs.sources.credentials import CredentialSource
from pcs.sources import state_push
from pcs.sources.inventory import InventorySource, LocalInventory
from pcs.sources.state_push import NoStatePush, StatePush
from pcs.sources.smd import SmdUnavailable

log = logging.getLogger(__name__)

SWEEP_LOCK = 7_311_042   # advisory lock key of the sweeper
# What the process's client of a BMC is built from (bmc_clients.client_for).
_BMC_COLUMNS = select(Bmc.id, Bmc.updated_at, Bmc.xname, Bmc.address, Bmc.scheme, Bmc.username,
                      Bmc.password_encrypted, Bmc.verify_tls, Bmc.ca_bundle.label("ca_pem"))


def sweep(settings: Settings, db: Database, credentials: CredentialSource,
          inventory: InventorySource | None = None, push: StatePush | None = None) -> dict | None:
    """Refresh the inventory from its source, read and store every component's power state,
    and tell SMD (when it is the source) of the changes. None when another sweep is running."""
    with db.engine.connect() as lock_connection:
        got = lock_connection.scalar(text("SELECT pg_try_advisory_lock(:k)"),
                                     {"k": SWEEP_LOCK})
        if not got:
            return None
        try:
            _refresh(db, inventory or LocalInventory())
            return _sweep(settings, db, credentials, push or NoStatePush())
        finally:
            lock_connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SWEEP_LOCK})
            lock_connection.commit()


def _refresh(db: Database, inventory: InventorySource) -> None:
    """A source that cannot be read leaves the stored inventory as it was: the sweep still
    reads every BMC it knows."""
    try:
        inventory.refresh(db)
    except SmdUnavailable as exc:
        log.warning("inventory not refreshed from %s: %s", inventory.name, exc)


def _sweep(settings: Settings, db: Database, credentials: CredentialSource,
           push: StatePush) -> dict:
    started = time.monotonic()
    with db.transaction() as session:
        read_at = session.scalar(text("SELECT now()"))
        bmcs = {b.id: dict(b._mapping) for b in session.execute(_BMC_COLUMNS)}
        by_bmc: dict[int, list] = defaultdict(list)
        for c in session.execute(select(Component.id, Component.bmc_id, Component.type,
                                        Component.redfish_path)):
            by_bmc[c.bmc_id].append(c)
    jobs = [(bmcs[bmc_id], components) for bmc_id, components in by_bmc.items()
            if bmc_id in bmcs]
    readings: list[power_status.Reading] = []
    workers = max(1, min(settings.status_sweep_concurrency, len(jobs) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pcs-sweep") as pool:
        for result in pool.map(lambda job: _read_bmc(settings, credentials, *job), jobs):
            readings += result
    with db.transaction() as session:
        changed = power_status.store_readings(session, readings, read_at)
        waiting = state_push.take_waiting(session) if push.enabled else {}
    if push.enabled:
        _push(db, push, {**waiting, **changed})   # this sweep's reading wins over an older one
    figures = {"bmcs": len(jobs), "components": len(readings),
               "seconds": round(time.monotonic() - started, 3)}
    metrics.SWEEP_DURATION.observe(figures["seconds"])
    log.info("power-status sweep: %(components)d components on %(bmcs)d BMCs in %(seconds)s s",
             figures)
    return figures


def _push(db: Database, push: StatePush, states: dict[str, str]) -> None:
    """One PATCH per state; what SMD does not take goes back to the outbox for the next sweep."""
    left = push.push(states)
    if left:
        with db.transaction() as session:
            state_push.keep_for_later(session, left)


def _read_bmc(settings: Settings, credentials: CredentialSource, bmc: dict,
              components: list) -> list[power_status.Reading]:
    """One BMC's components, read one after the other (a BMC is not flooded), through the
    process's client of the BMC (its connections are kept for the next sweep and for steps)."""
    try:
        client = bmc_clients.client_for(settings, credentials, bmc)
    except CredentialsUnavailable as exc:
        return [power_status.Reading(c.id, "undefined", "unavailable", str(exc))
                for c in components]
    out = []
    for component in components:
        state, exchange = client.get_power_state(component.redfish_path)
        if state is None:
            out.append(power_status.Reading(component.id, "undefined", "unavailable",
                                            exchange.error or "No response from target"))
        else:
            out.append(power_status.Reading(component.id, state, "available", ""))
    return out
