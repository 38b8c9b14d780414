"""Power sequencing inside one transition: the tier gate and dependencies between components.

Queries only; the rules are in pcs.domain.tiers.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from pcs.domain import outcomes
from pcs.domain.states import UNFINISHED_SQL, TaskState
from pcs.domain.tiers import is_descendant


def earlier_tier_pending(session: Session,
                         gates: list[tuple[int, uuid.UUID, int]]) -> set[int]:
    """Of the (task id, transition id, tier) given, the tasks that must wait: another
    unfinished task of their transition has an action in an earlier tier. One statement for a
    batch's gates (ix_task_tier answers each with one index probe)."""
    if not gates:
        return set()
    ids, transitions, tiers = zip(*gates)
    return set(session.scalars(text(f"""
        SELECT g.id
        FROM unnest(CAST(:ids AS integer[]), CAST(:transitions AS uuid[]),
                    CAST(:tiers AS smallint[])) AS g(id, transition_id, tier)
        WHERE EXISTS (SELECT 1 FROM transition_tasks t
                      WHERE t.transition_id = g.transition_id AND t.tier < g.tier
                        AND t.id <> g.id AND t.state IN {UNFINISHED_SQL})
    """), {"ids": list(ids), "transitions": list(transitions), "tiers": list(tiers)}))


def open_tiers(session: Session, transition_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The lowest tier an unfinished task of each transition is in: tasks of that tier may act
    (ix_task_tier answers each with one index probe)."""
    return dict(session.execute(text(f"""
        SELECT t.id, (SELECT min(tier) FROM transition_tasks
                      WHERE transition_id = t.id AND state IN {UNFINISHED_SQL})
        FROM unnest(CAST(:ids AS uuid[])) AS t(id)
    """), {"ids": transition_ids}).all())


def wake_tier(session: Session, opened: dict[uuid.UUID, int], now) -> int:
    """Make the tasks that wait for an earlier tier due now, in each transition's open tier.
    Returns how many."""
    if not opened:
        return 0
    # SKIP LOCKED: a row a dispatcher holds is on its way already, and waiting for it would
    # keep its lock, after the re-check, until this commits (its claim would skip it).
    return session.execute(text(f"""
        UPDATE transition_tasks SET next_check_at = :now
        WHERE id IN (
            SELECT w.id FROM transition_tasks w
            JOIN unnest(CAST(:ids AS uuid[]), CAST(:tiers AS smallint[])) AS o(id, tier)
              ON w.transition_id = o.id AND w.tier = o.tier
            WHERE w.state IN {UNFINISHED_SQL} AND w.state = :deferred
              AND w.description = :waiting AND w.next_check_at > :now
            FOR UPDATE OF w SKIP LOCKED)
    """), {"ids": list(opened), "tiers": list(opened.values()), "now": now,
           "deferred": TaskState.DEFERRED, "waiting": outcomes.WAITING_FOR_TIER}).rowcount


@dataclass(frozen=True)
class FailedChild:
    xname: str
    description: str
    error: str


def failed_descendant(session: Session, transition_id: uuid.UUID,
                      xname: str) -> FailedChild | None:
    """A failed task of the transition on a component below `xname`, if any."""
    rows = session.execute(text("""
        SELECT xname, description, error FROM transition_tasks
        WHERE transition_id = :t AND state = :failed AND xname LIKE :prefix
        ORDER BY xname
    """), {"t": transition_id, "prefix": xname + "%", "failed": TaskState.FAILED}).all()
    return next((FailedChild(*row) for row in rows if is_descendant(row.xname, xname)), None)


def failed_fed_node(session: Session, transition_id: uuid.UUID,
                    outlet: str) -> FailedChild | None:
    """A node of the transition that failed to go off and that this outlet must keep powered
    (INTEGRATION.md §1, power maps): no outlet feeding it outside the transition is on, and of
    its feeds inside the transition this is the first, so that one outlet, not all, stays on."""
    row = session.execute(text("""
        SELECT n.xname, n.description, n.error FROM transition_tasks n
        JOIN components nc ON nc.id = n.component_id
        WHERE n.transition_id = :t AND n.state = :failed AND nc.powered_by ? :outlet
          AND NOT EXISTS (
              SELECT 1 FROM jsonb_array_elements_text(nc.powered_by) AS f(xname)
              JOIN components fc ON fc.xname = f.xname
              WHERE fc.power_state = 'on'
                AND NOT EXISTS (SELECT 1 FROM transition_tasks o
                                WHERE o.transition_id = :t AND o.xname = f.xname))
          AND :outlet = (
              SELECT min(f.xname) FROM jsonb_array_elements_text(nc.powered_by) AS f(xname)
              WHERE EXISTS (SELECT 1 FROM transition_tasks o
                            WHERE o.transition_id = :t AND o.xname = f.xname))
        ORDER BY n.xname LIMIT 1
    """), {"t": transition_id, "outlet": outlet, "failed": TaskState.FAILED}).first()
    return FailedChild(*row) if row else None


def ancestor_in_transition(session: Session, transition_id: uuid.UUID, xname: str) -> bool:
    """Whether the transition also acts on a component above `xname` (a slot or chassis whose
    power-on this component's controller must wait for)."""
    rows = session.scalars(text("""
        SELECT xname FROM transition_tasks
        WHERE transition_id = :t AND :name LIKE xname || '%' AND xname <> :name
    """), {"t": transition_id, "name": xname}).all()
    return any(is_descendant(xname, name) for name in rows)
