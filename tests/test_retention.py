"""Expiry and retention of transitions, on the real database."""
from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update

from pcs.queue import retention, scheduler
from pcs.domain.operations import Operation
from pcs.models import Transition, TransitionTask

pytestmark = pytest.mark.integration


def _finished(db, settings, age: timedelta) -> uuid.UUID:
    """A completed transition created `age` ago (its one xname is unknown, so it ends at once)."""
    with db.transaction() as s:
        t = scheduler.submit(s, settings, Operation.ON, 5,
                             [scheduler.Location("x9999c0s0b0n0")], {})
        s.execute(update(Transition).where(Transition.id == t.id).values(
            created_at=Transition.created_at - age, expires_at=Transition.expires_at - age))
    return t.id


def _unfinished_expired(db) -> uuid.UUID:
    now = scheduler.utcnow()
    tid = uuid.uuid4()
    with db.transaction() as s:
        s.execute(insert(Transition).values(
            id=tid, operation="On", task_deadline_minutes=5, status="in-progress",
            created_at=now - timedelta(days=2), expires_at=now - timedelta(days=1),
            requested_by={}))
        # A queued task of no inventory component: nothing will ever promote it.
        s.execute(insert(TransitionTask).values(
            transition_id=tid, xname="x1000c0s0b0n0", component_id=None, state="queued",
            description="", error="", plan=[], phase="gather"))
    return tid


def _exists(db, tid) -> bool:
    with db.transaction() as s:
        return s.scalar(select(func.count()).where(Transition.id == tid)) == 1


def test_expired_finished_transitions_are_deleted_with_their_tasks(db, settings):
    old = _finished(db, settings, timedelta(days=2))
    young = _finished(db, settings, timedelta(0))
    with db.transaction() as s:
        retention.expire(s, settings)
    assert not _exists(db, old) and _exists(db, young)
    with db.transaction() as s:
        assert s.scalar(select(func.count()).where(TransitionTask.transition_id == old)) == 0


def test_expired_running_transition_is_aborted_then_deleted(db, settings):
    tid = _unfinished_expired(db)
    with db.transaction() as s:
        retention.expire(s, settings)
    with db.transaction() as s:
        status = s.scalar(select(Transition.status).where(Transition.id == tid))
        task = s.execute(select(TransitionTask.state, TransitionTask.error)
                         .where(TransitionTask.transition_id == tid)).one()
    assert status == "aborted"
    assert tuple(task) == ("failed", "Transition aborted")
    with db.transaction() as s:   # the next pass removes it, as any expired finished record
        retention.expire(s, settings)
    assert not _exists(db, tid)


def test_only_the_newest_finished_transitions_are_kept(db, settings):
    _finished(db, settings, timedelta(minutes=2))
    newer = _finished(db, settings, timedelta(minutes=1))
    with db.transaction() as s:
        kept = s.scalar(select(func.count()).where(Transition.status.in_(("completed",
                                                                          "aborted"))))
    # Keep all but one: the oldest finished transition goes.
    with db.transaction() as s:
        oldest = s.scalar(select(Transition.id).where(
            Transition.status.in_(("completed", "aborted"))).order_by(Transition.created_at))
        retention.expire(s, dataclasses.replace(settings, max_num_completed=kept - 1))
    assert not _exists(db, oldest)
    assert _exists(db, newer)
