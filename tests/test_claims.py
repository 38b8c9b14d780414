"""Claiming a dispatched task: a row that another statement holds locked only for a moment is
still claimed (not left for the reaper's re-send a minute later); one that the other statement
ended is not."""
from __future__ import annotations

import threading
import uuid

import psycopg
import pytest

from pcs.queue import scheduler

pytestmark = pytest.mark.integration


def _dispatched_task(database_url: str) -> int:
    """A transition with one dispatched task, of a component no worker knows."""
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        transition_id = uuid.uuid4()
        conn.execute(
            "INSERT INTO transitions (id, operation, task_deadline_minutes, status, created_at, "
            "expires_at, requested_by, multi_tier) VALUES (%s, 'On', 5, 'in-progress', now(), "
            "now() + interval '1 hour', '{}', false)", (transition_id,))
        return conn.execute(
            "INSERT INTO transition_tasks (transition_id, xname, state, description, error, "
            "plan, phase, attempt, resends, enqueued_at, dispatched_at) VALUES (%s, "
            "'x9990c0s0b0n0', 'dispatched', '', '', '[]', 'gather', 0, 0, now(), now()) "
            "RETURNING id", (transition_id,)).fetchone()[0]


def _claim_while_locked(db, database_url: str, task_id: int, holder_does: str) -> list[int]:
    """Claim the task while another connection holds its row, which runs `holder_does` and
    commits 0.3 s later."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as holder:
        holder.execute("SELECT id FROM transition_tasks WHERE id = %s FOR UPDATE", (task_id,))

        def release():
            if holder_does:
                holder.execute(holder_does, (task_id,))
            holder.commit()

        timer = threading.Timer(0.3, release)
        timer.start()
        with db.transaction() as session:
            claimed = scheduler.claim_batch(session, [task_id], lease_s=60)
        timer.join()
    return [claim.task_id for claim, _ in claimed]


def test_a_row_locked_for_a_moment_is_claimed_once_it_is_free(db, settings):
    task_id = _dispatched_task(settings.database_url)
    assert _claim_while_locked(db, settings.database_url, task_id, "") == [task_id]


def test_a_row_the_holder_ended_is_not_claimed(db, settings):
    task_id = _dispatched_task(settings.database_url)
    ended = "UPDATE transition_tasks SET state = 'failed', finished_at = now() WHERE id = %s"
    assert _claim_while_locked(db, settings.database_url, task_id, ended) == []
