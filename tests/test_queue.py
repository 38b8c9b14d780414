"""The per-component queue: database-enforced single active task, FIFO behind a busy component."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from harness import post_transition, wait_transition
from pcs.models import Component, Transition, TransitionTask

pytestmark = pytest.mark.integration


def _transition(session) -> uuid.UUID:
    now = datetime.now(timezone.utc)
    tid = uuid.uuid4()
    session.execute(insert(Transition).values(id=tid, operation="On", task_deadline_minutes=5,
                                              status="new", created_at=now, expires_at=now,
                                              requested_by={}))
    return tid


def _task(component_id, tid, state):
    return {"transition_id": tid, "xname": "x", "component_id": component_id, "state": state,
            "description": "", "error": "", "plan": [], "phase": "gather"}


@pytest.mark.parametrize("first,second", [("ready", "running"), ("dispatched", "deferred"),
                                          ("running", "running")])
def test_database_refuses_two_active_tasks_for_one_component(db, fleet, first, second):
    with db.transaction() as s:
        component_id = s.scalar(select(Component.id).where(Component.xname == "x1000c1s3b0n0"))
    with pytest.raises(IntegrityError, match="uq_task_active_component"):
        with db.transaction() as s:
            tid = _transition(s)
            s.execute(insert(TransitionTask), [_task(component_id, tid, first),
                                               _task(component_id, tid, second)])


def test_queued_and_finished_tasks_may_share_a_component(db, fleet):
    with db.transaction() as s:
        component_id = s.scalar(select(Component.id).where(Component.xname == "x1000c1s3b0n0"))
        tid = _transition(s)
        s.execute(insert(TransitionTask), [_task(component_id, tid, st) for st in
                                           ("queued", "queued", "succeeded", "failed")])
        s.rollback()


def test_busy_component_makes_later_work_wait_in_fifo_order(client, fleet, worker, db):
    """Three transitions on one node: each waits for the previous; the BMC sees them in order."""
    fleet.set_power("x1000c1s2b0", "Node0", "Off")
    try:
        first = post_transition(client, "on", ["x1000c1s2b0n0"])
        second = post_transition(client, "force-off", ["x1000c1s2b0n0"])
        third = post_transition(client, "on", ["x1000c1s2b0n0"])
        # While the first holds the node, the others are new (queued), not rejected.
        body = client.get(f"/transitions/{third}").get_json()
        assert body["tasks"][0]["taskStatus"] == "new"
        results = [wait_transition(client, t, timeout=60) for t in (first, second, third)]
    finally:
        fleet.clear_fault("x1000c1s2b0")
    assert [r["tasks"][0]["taskStatusDescription"] for r in results] == [
        "Transition confirmed, on", "Transition confirmed, forceoff", "Transition confirmed, on"]
    with db.transaction() as s:
        rows = s.execute(select(TransitionTask.transition_id, TransitionTask.started_at,
                                TransitionTask.finished_at)
                         .where(TransitionTask.transition_id.in_([uuid.UUID(t) for t in
                                                                  (first, second, third)]))
                         ).all()
    spans = {str(r.transition_id): (r.started_at, r.finished_at) for r in rows}
    # Never two at once: each started after the previous one finished.
    assert spans[first][1] <= spans[second][0] and spans[second][1] <= spans[third][0]
    resets = [e["body"]["ResetType"] for e in fleet.log("x1000c1s2b0")
              if e["method"] == "POST" and "Node0" in e["path"]]
    assert resets[-3:] == ["On", "ForceOff", "On"]


def test_messages_carry_task_ids_only(settings, fleet, worker, client):
    """The Celery message of a step names task IDs (and argsrepr the xnames): no credentials."""
    import redis
    r = redis.Redis.from_url(settings.broker_url)
    # Publish through the service with no worker consuming a private queue, then read it raw.
    import dataclasses
    from pcs.broker import Publisher
    private = dataclasses.replace(settings, queue_name=f"{settings.queue_name}-inspect")
    Publisher(private).publish([(12345, "x1000c0s0b0n0")])
    raw = r.lrange(private.queue_name, 0, -1)
    r.delete(private.queue_name)
    assert len(raw) == 1
    text = raw[0].decode()
    assert "initial0" not in text and "password" not in text.lower()
    import base64
    import json
    envelope = json.loads(text)
    body = json.loads(base64.b64decode(envelope["body"]))
    assert body[0] == [[12345]]
    assert envelope["headers"]["task"] == "pcs.run_steps"
    assert envelope["headers"]["argsrepr"] == "([12345], ['x1000c0s0b0n0'])"


def test_reaper_resends_a_task_whose_message_was_lost(client, fleet, worker, db, settings):
    """A task left dispatched with no message (broker restart) is sent again by the reaper."""
    from datetime import timedelta

    from sqlalchemy import update

    from pcs.queue import scheduler
    from pcs.broker import Publisher
    from pcs.domain.operations import Operation

    fleet.set_power("x1000c1s3b0", "Node1", "Off")
    with db.transaction() as s:
        transition = scheduler.submit(s, settings, Operation.ON, 5,
                                      [scheduler.Location("x1000c1s3b0n1")], {})
        # As if the dispatcher had marked it and the message died with the broker.
        s.execute(update(TransitionTask).where(TransitionTask.transition_id == transition.id)
                  .values(state="dispatched",
                          dispatched_at=scheduler.utcnow() - timedelta(hours=1)))
    tid = str(transition.id)
    assert client.get(f"/transitions/{tid}").get_json()["tasks"][0]["taskStatus"] == "new"
    Publisher(settings).celery.send_task("pcs.reap", queue=settings.queue_name)
    body = wait_transition(client, tid, timeout=30)
    assert body["tasks"][0]["taskStatusDescription"] == "Transition confirmed, on"


def test_overlapping_submissions_queue_in_one_order_on_every_shared_component(db, fleet,
                                                                              settings):
    """The rule that prevents deadlock between transitions: submissions lock their components
    in name order and take sequence numbers under those locks, so of two transitions sharing
    components one is ahead of the other on all of them, whatever order their requests named."""
    import threading

    from pcs.queue import scheduler
    from pcs.domain.operations import Operation

    shared = ["x1000c0s3b0n1", "x1000c0s4b0n1", "x1000c0s6b0n1"]
    ids: list[uuid.UUID] = []
    barrier = threading.Barrier(4)

    def submit(order):
        barrier.wait()
        with db.transaction() as s:
            t = scheduler.submit(s, settings, Operation.FORCE_OFF, 5,
                                 [scheduler.Location(x) for x in order], {})
        ids.append(t.id)

    orders = [shared, shared[::-1], shared[1:] + shared[:1], [shared[2], shared[0], shared[1]]]
    threads = [threading.Thread(target=submit, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with db.transaction() as s:
        rows = s.execute(select(TransitionTask.transition_id, TransitionTask.xname,
                                TransitionTask.seq)
                         .where(TransitionTask.transition_id.in_(ids))).all()
    order_on = {x: [r.transition_id for r in sorted(rows, key=lambda r: r.seq) if r.xname == x]
                for x in shared}
    assert len(ids) == 4
    assert order_on[shared[0]] == order_on[shared[1]] == order_on[shared[2]]
