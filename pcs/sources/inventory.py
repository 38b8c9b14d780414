"""Where components come from: the registration API (`local`) or SMD (`smd`).

Both fill the same `bmcs` and `components` tables, so steps, the sweep and power-status read
one place whatever the source. In smd mode the sweep refreshes the whole table from SMD and each
transition reads its components afresh before it is stored; pcs never writes SMD's inventory.
"""
from __future__ import annotations

import json
import logging
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from pcs.config import Settings
from pcs.db import Database
from pcs.domain import outcomes, xnames
from pcs.domain.operations import supported_operations
from pcs.models import FINAL_STATES
from pcs.sources.endpoints import EndpointComponent, by_id, endpoint_component, known_ids
from pcs.sources.smd import SmdClient, SmdUnavailable, field, smd_client

log = logging.getLogger(__name__)

OUTLET_TYPE = "CabinetPDUPowerConnector"


class InventorySource(Protocol):
    name: str   # "local" | "smd", shown by `pcs config` and /v1/health/details

    def prepare(self, db: Database, names: list[str]) -> dict[str, str]:
        """Bring the stored components of these (normalized) xnames up to date. Returns, per
        xname that cannot run, the error that ends its task at once."""

    def prepare_components(self, db: Database,
                           names: list[str]) -> tuple[dict[str, str], dict[str, dict]]:
        """As prepare(), and the source's own record of each known xname (SMD's Component,
        whose Role decides power capping)."""

    def refresh(self, db: Database) -> None:
        """Bring every stored component up to date (the sweep calls this first)."""

    def alive(self) -> bool | None:
        """Whether the source answers; None when the source is the database itself."""


class LocalInventory:
    """Components registered through /v1/inventory/bmcs: the tables are the truth."""
    name = "local"

    def prepare(self, db: Database, names: list[str]) -> dict[str, str]:
        return {}

    def prepare_components(self, db: Database,
                           names: list[str]) -> tuple[dict[str, str], dict[str, dict]]:
        return {}, {}

    def refresh(self, db: Database) -> None:
        return None

    def alive(self) -> bool | None:
        return None


class SmdInventory:
    """Components, their BMCs and reset targets read from SMD (INTEGRATION.md §1)."""
    name = "smd"

    def __init__(self, client: SmdClient, bmc_scheme: str, verify_tls: bool):
        self.client = client
        self.bmc_scheme = bmc_scheme
        self.verify_tls = verify_tls

    def prepare(self, db: Database, names: list[str]) -> dict[str, str]:
        return self.prepare_components(db, names)[0]

    def prepare_components(self, db: Database,
                           names: list[str]) -> tuple[dict[str, str], dict[str, dict]]:
        if not names:
            return {}, {}
        try:
            records = self.client.components(names)
            known = known_ids(records)
            endpoints = self.client.component_endpoints(known) if known else []
            # Only outlets need to know what they feed (the dependency rule of sequencing).
            maps = self.client.power_maps() if any(
                xnames.parse(n).type == OUTLET_TYPE for n in names) else None
        except SmdUnavailable as exc:
            log.warning("reading %d components from SMD failed: %s", len(names), exc)
            return dict.fromkeys(names, outcomes.ERROR_RETRIEVING_HSM_DATA), {}
        with db.transaction() as session:
            store_components(session, _components(endpoints), self.bmc_scheme, self.verify_tls)
            if maps is not None:
                store_power_maps(session, maps)
        errors = {name: outcomes.XNAME_NOT_FOUND_IN_HSM for name in names if name not in known}
        return errors, by_id(records)

    def refresh(self, db: Database) -> None:
        """Raises SmdUnavailable; the stored inventory is then left as it was."""
        known = known_ids(self.client.components(None))
        components = _components(self.client.component_endpoints(known) if known else [])
        maps = self.client.power_maps()
        with db.transaction() as session:
            store_components(session, components, self.bmc_scheme, self.verify_tls)
            store_power_maps(session, maps)
            removed = remove_components_except(session, [c.xname for c in components])
        if removed:
            log.info("SMD no longer lists %d components: removed", removed)

    def alive(self) -> bool | None:
        return self.client.alive()


def inventory_source(settings: Settings) -> InventorySource:
    """SMD when SMS_SERVER (or PCS_SMS_SERVER) is set, else the registration API."""
    if not settings.sms_server:
        return LocalInventory()
    if settings.bmc_verify_tls is False:
        log.warning("PCS_BMC_VERIFY_TLS=false: BMC certificates are not verified")
    return SmdInventory(smd_client(settings), settings.bmc_scheme, settings.bmc_verify_tls)


def _components(endpoints: list[dict]) -> list[EndpointComponent]:
    found = (endpoint_component(e) for e in endpoints)
    return sorted((c for c in found if c is not None), key=lambda c: c.xname)


def store_components(session: Session, components: list[EndpointComponent], scheme: str,
                     verify_tls: bool) -> None:
    """Upsert the components and the BMCs that serve them, two statements in all, in xname
    order (the lock order of DESIGN.md). Power state and last poll are left to the sweep."""
    if not components:
        return
    bmcs = sorted({c.bmc_xname: c.fqdn for c in components}.items())
    session.execute(text("""
        INSERT INTO bmcs (xname, address, scheme, username, password_encrypted, verify_tls)
        SELECT u.xname, u.address, :scheme, '', NULL, :verify
        FROM unnest(CAST(:xnames AS text[]), CAST(:addresses AS text[])) AS u(xname, address)
        ON CONFLICT (xname) DO UPDATE
        SET address = EXCLUDED.address, scheme = EXCLUDED.scheme,
            verify_tls = EXCLUDED.verify_tls, updated_at = now()
        WHERE (bmcs.address, bmcs.scheme, bmcs.verify_tls)
              IS DISTINCT FROM (EXCLUDED.address, EXCLUDED.scheme, EXCLUDED.verify_tls)
    """), {"scheme": scheme, "verify": verify_tls, "xnames": [b[0] for b in bmcs],
           "addresses": [b[1] for b in bmcs]})
    session.execute(text("""
        INSERT INTO components (xname, type, bmc_id, redfish_path, reset_target, reset_parameter,
                                allowable_values, supported_transitions, power_state,
                                management_state, status_error, capping)
        SELECT u.xname, u.type, b.id, u.path, u.target, u.parameter, u.allowed::jsonb,
               u.supported::jsonb, 'undefined', 'unavailable', '', u.capping::jsonb
        FROM unnest(CAST(:xnames AS text[]), CAST(:types AS text[]), CAST(:bmcs AS text[]),
                    CAST(:paths AS text[]), CAST(:targets AS text[]),
                    CAST(:parameters AS text[]), CAST(:allowed AS text[]),
                    CAST(:supported AS text[]), CAST(:capping AS text[]))
             WITH ORDINALITY AS u(xname, type, bmc, path, target, parameter, allowed, supported,
                                  capping, n)
        JOIN bmcs b ON b.xname = u.bmc
        ORDER BY u.n
        ON CONFLICT (xname) DO UPDATE
        SET type = EXCLUDED.type, bmc_id = EXCLUDED.bmc_id, redfish_path = EXCLUDED.redfish_path,
            reset_target = EXCLUDED.reset_target, reset_parameter = EXCLUDED.reset_parameter,
            allowable_values = EXCLUDED.allowable_values,
            supported_transitions = EXCLUDED.supported_transitions,
            capping = EXCLUDED.capping
        WHERE (components.type, components.bmc_id, components.redfish_path,
               components.reset_target, components.reset_parameter,
               components.allowable_values, components.capping)
              IS DISTINCT FROM (EXCLUDED.type, EXCLUDED.bmc_id, EXCLUDED.redfish_path,
                                EXCLUDED.reset_target, EXCLUDED.reset_parameter,
                                EXCLUDED.allowable_values, EXCLUDED.capping)
    """), {"xnames": [c.xname for c in components], "types": [c.type for c in components],
           "bmcs": [c.bmc_xname for c in components], "paths": [c.path for c in components],
           "targets": [c.reset_target for c in components],
           "parameters": [c.reset_parameter for c in components],
           "allowed": [_json_list(c.allowable_values) for c in components],
           "supported": [_json_list([op.value for op in
                                     supported_operations(c.allowable_values)])
                         for c in components],
           "capping": [json.dumps(c.capping) if c.capping else None for c in components]})


def store_power_maps(session: Session, maps: list[dict]) -> None:
    """Record what feeds each component, in one statement (components SMD maps to nothing
    keep an empty list)."""
    fed = {}
    for entry in maps:
        parsed = xnames.parse(str(field(entry, "id") or ""))
        feeds = [xnames.parse(str(f)) for f in field(entry, "poweredBy") or []]
        if parsed is not None:
            fed[parsed.name] = sorted(f.name for f in feeds if f is not None)
    names = sorted(fed)
    session.execute(text("""
        UPDATE components c SET powered_by = u.feeds::jsonb
        FROM unnest(CAST(:names AS text[]), CAST(:feeds AS text[])) AS u(xname, feeds)
        WHERE c.xname = u.xname AND c.powered_by IS DISTINCT FROM u.feeds::jsonb
    """), {"names": names, "feeds": [_json_list(fed[n]) for n in names]})


def remove_components_except(session: Session, keep: list[str]) -> int:
    """Delete components SMD no longer lists (those with unfinished tasks stay until they end),
    then BMCs left without components."""
    removed = session.execute(text("""
        DELETE FROM components c
        WHERE NOT (c.xname = ANY(CAST(:keep AS text[])))
          AND NOT EXISTS (SELECT 1 FROM transition_tasks t
                          WHERE t.component_id = c.id
                            AND t.state <> ALL(CAST(:final AS text[])))
    """), {"keep": keep, "final": list(FINAL_STATES)}).rowcount
    session.execute(text("""
        DELETE FROM bmcs b WHERE NOT EXISTS (SELECT 1 FROM components c WHERE c.bmc_id = b.id)
    """))
    return removed


def _json_list(values: list[str]) -> str:
    return json.dumps(values)
