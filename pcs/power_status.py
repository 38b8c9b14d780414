"""The stored power status of components: what the monitor and confirmations write, what
/power-status reads. Newer knowledge wins: a reading taken before a stored change never
overwrites it (DESIGN.md, power-status sweep)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Reading:
    component_id: int
    power_state: str          # on | off | undefined
    management_state: str     # available | unavailable
    error: str


def store_readings(session: Session, readings: list[Reading],
                   read_at: datetime) -> dict[str, str]:
    """Store a sweep's readings in one statement. lastUpdated moves only when a state changes;
    a component whose state changed after `read_at` (a confirmation) keeps it. Returns the
    components whose power state this sweep changed, with their new state."""
    if not readings:
        return {}
    stored = session.execute(text("""
        UPDATE components c
        SET power_state = CASE WHEN c.last_updated IS NOT NULL AND c.last_updated > :read_at
                               THEN c.power_state ELSE r.power_state END,
            management_state = r.management_state,
            status_error = r.error,
            last_polled = :read_at,
            last_updated = CASE
                WHEN c.last_updated IS NOT NULL AND c.last_updated > :read_at THEN c.last_updated
                WHEN c.power_state IS DISTINCT FROM r.power_state
                  OR c.management_state IS DISTINCT FROM r.management_state
                  OR c.last_updated IS NULL THEN :read_at
                ELSE c.last_updated END
        FROM unnest(CAST(:ids AS integer[]), CAST(:power AS text[]), CAST(:management AS text[]),
                    CAST(:errors AS text[])) AS r(id, power_state, management_state, error),
             components old   -- the row as it was before this statement
        WHERE c.id = r.id AND old.id = c.id
        RETURNING c.xname, c.power_state, old.power_state AS before
    """), {"read_at": read_at, "ids": [r.component_id for r in readings],
           "power": [r.power_state for r in readings],
           "management": [r.management_state for r in readings],
           "errors": [r.error for r in readings]}).all()
    return {row.xname: row.power_state for row in stored if row.power_state != row.before}


def record_confirmed(session: Session, states: dict[str, str], at: datetime) -> None:
    """Transitions confirmed (or found) these components in these states just now: xname ->
    power state, one statement."""
    if not states:
        return
    names = sorted(states)
    session.execute(text("""
        UPDATE components c SET
            last_updated = CASE WHEN c.power_state IS DISTINCT FROM u.state
                                  OR c.management_state <> 'available' OR c.last_updated IS NULL
                                THEN :at ELSE c.last_updated END,
            power_state = u.state, management_state = 'available', status_error = ''
        FROM unnest(CAST(:xnames AS text[]), CAST(:states AS text[])) AS u(xname, state)
        WHERE c.xname = u.xname
    """), {"xnames": names, "states": [states[n] for n in names], "at": at})
