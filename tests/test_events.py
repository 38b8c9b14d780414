"""Task and transition events: stored with a monotonic id, published on Redis after commit, and
streamed as Server-Sent Events (GET /v1/transitions/{id}/events, GET /v1/events) over real
HTTP under gunicorn, with a real worker and simulated BMCs."""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import defaultdict

import pytest
import redis
import requests
from harness import ApiServer, post_transition, wait_for, wait_transition
from sqlalchemy import text

from pcs import events
from pcs.cli.sse import SseEvent, parse_events
from pcs.config import Settings

pytestmark = pytest.mark.integration

# BMCs of the session fleet that no other test module powers.
A, B = "x1000c1s4b0", "x1000c1s7b0"
STORED = ("task", "transition")


class Stream:
    """An event stream over real HTTP, read by a background thread."""

    def __init__(self, url: str, last_event_id: int | None = None, **params):
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.response = requests.get(url, headers=headers, params=params, stream=True,
                                     timeout=(5, 60))
        self.socket = self.response.raw.connection.sock
        self.events: list[SseEvent] = []
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            lines = self.response.iter_lines(chunk_size=1024, decode_unicode=True)
            for event in parse_events(lines):
                self.events.append(event)
        except (requests.RequestException, OSError, AttributeError, ValueError):
            pass   # the test closed the connection
        finally:
            self.closed.set()

    def stored(self) -> list[SseEvent]:
        return [e for e in self.events if e.event in STORED]

    def ids(self) -> list[int]:
        return [int(e.id) for e in self.stored()]

    def wait_closed(self, timeout: float = 60.0) -> list[SseEvent]:
        """Wait until the server ended the stream; every event it sent."""
        assert self.closed.wait(timeout), "the stream did not end"
        return self.events

    def wait_for(self, predicate, timeout: float = 30.0, what: str = "events"):
        return wait_for(lambda: predicate(list(self.events)), timeout=timeout, what=what)

    def leave(self) -> None:
        """Hang up as a client does (the server is not told otherwise)."""
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.response.close()
        self.closed.wait(10)


def task_events_by_xname(stream_events: list[SseEvent]) -> dict[str, list[dict]]:
    out = defaultdict(list)
    for e in stream_events:
        if e.event == "task":
            out[e.json()["xname"]].append(e.json())
    return out


def subscribers(settings) -> int:
    client = redis.Redis.from_url(settings.broker_url)
    try:
        return dict(client.pubsub_numsub(events.channel(settings)))[
            events.channel(settings).encode()]
    finally:
        client.close()


@pytest.fixture
def power_off(fleet):
    def _off(*bmcs):
        for bmc in bmcs:
            for node in ("Node0", "Node1"):
                fleet.set_power(bmc, node, "Off")
    return _off


def test_transition_stream_tells_each_task_from_queued_to_succeeded_then_ends(
        client, api_server, worker, power_off):
    power_off(A)
    nodes = [f"{A}n0", f"{A}n1"]
    tid = post_transition(client, "on", nodes)
    stream = Stream(f"{api_server.url}/v1/transitions/{tid}/events")
    assert stream.response.status_code == 200
    assert stream.response.headers["Content-Type"] == "text/event-stream"
    assert stream.response.headers["Cache-Control"] == "no-cache"
    assert stream.response.headers["X-Accel-Buffering"] == "no"
    received = stream.wait_closed()

    assert [e.event for e in received][-2:] == ["progress", "end"]
    ids = stream.ids()
    assert ids == sorted(set(ids)), "stored events come once each, in id order"
    by_xname = task_events_by_xname(received)
    for node in nodes:
        assert [e["event"] for e in by_xname[node]] == [
            "queued", "started", "action-sent", "confirmed", "succeeded"]
        assert [e["taskStatus"] for e in by_xname[node]] == [
            "new", "in-progress", "in-progress", "in-progress", "succeeded"]
        queued, _, sent, confirmed, succeeded = by_xname[node]
        assert sent["action"] == "On" and confirmed["action"] == "On"
        assert confirmed["description"] == "Transition confirmed, on"
        assert succeeded["description"] == "Transition confirmed, on"
        assert succeeded["error"] == "" and succeeded["transitionID"] == tid
        assert set(queued) == {"id", "transitionID", "xname", "event", "taskStatus",
                               "description", "error", "time"}
        assert queued["time"].endswith("Z")
    transitions = [e.json() for e in received if e.event == "transition"]
    assert [t["transitionStatus"] for t in transitions] == ["new", "in-progress", "completed"]
    assert set(transitions[0]) == {"id", "transitionID", "transitionStatus", "time"}
    # Each stored event's data carries its own id.
    assert all(e.json()["id"] == int(e.id) for e in stream.stored())

    progress = [e.json() for e in received if e.event == "progress"]
    end = received[-1].json()
    assert end["transitionStatus"] == "completed"
    assert end["taskCounts"] == {"total": 2, "new": 0, "in-progress": 0, "failed": 0,
                                 "succeeded": 2, "un-supported": 0}
    assert end["taskCounts"] == client.get(f"/transitions/{tid}").get_json()["taskCounts"]
    assert progress and all(set(p) == {"transitionID", "transitionStatus", "taskCounts", "time"}
                            for p in progress)
    assert all(e.id is None for e in received if e.event in ("progress", "end"))


def test_reconnect_with_last_event_id_replays_exactly_the_missed_events(
        client, api_server, worker, power_off):
    power_off(A)
    tid = post_transition(client, "on", [f"{A}n0", f"{A}n1"])
    url = f"{api_server.url}/v1/transitions/{tid}/events"
    first = Stream(url)
    first.wait_for(lambda evs: len([e for e in evs if e.event in STORED]) >= 4,
                   what="the first four stored events")
    first.leave()
    seen = first.ids()
    second = Stream(url, last_event_id=seen[-1])
    second.wait_closed()
    wait_transition(client, tid)

    # The whole history, replayed at once from a stream on the ended transition.
    whole = Stream(url)
    whole_events = whole.wait_closed()
    assert [e.event for e in whole_events if e.event not in STORED] == ["progress", "end"]
    assert seen + second.ids() == whole.ids(), "no gap and no duplicate across the reconnect"

    # The query parameter does the same for clients that cannot set the header.
    by_query = Stream(url, lastEventId=whole.ids()[-3])
    by_query.wait_closed()
    assert by_query.ids() == whole.ids()[-2:]
    assert [e.event for e in by_query.events if e.event not in STORED] == ["progress", "end"]


def test_a_transactions_events_are_written_at_commit_in_the_order_recorded(db, client):
    """A step records several events; they go in as one statement at the commit, ids in the
    order recorded, and before any event inserted at once later in the transaction."""
    tid = uuid.UUID(post_transition(client, "on", ["not-an-xname"]))   # ends at once
    with db.transaction() as session:
        events.task(session, tid, f"{A}n0", events.STARTED, "in-progress")
        events.task(session, tid, f"{A}n1", events.STARTED, "in-progress")
        assert session.scalar(text("SELECT count(*) FROM events WHERE transition_id = :t "
                                   "AND kind = 'task' AND xname LIKE :a"),
                              {"t": tid, "a": f"{A}%"}) == 0, "not yet written"
        events.transitions_changed(session, [tid], "in-progress")   # inserted at once
        events.task(session, tid, f"{A}n0", events.SUCCEEDED, "succeeded")
    with db.transaction() as session:
        rows = session.execute(text(
            "SELECT coalesce(xname, '-') AS who, kind FROM events WHERE transition_id = :t "
            "AND (xname LIKE :a OR (kind = 'transition' AND data->>'transitionStatus' = "
            "'in-progress')) ORDER BY id"), {"t": tid, "a": f"{A}%"}).all()
    assert [(r.who, r.kind) for r in rows] == [
        (f"{A}n0", "task"), (f"{A}n1", "task"), ("-", "transition"), (f"{A}n0", "task")]


def test_events_of_a_transaction_that_rolls_back_never_happen(db, client):
    tid = uuid.UUID(post_transition(client, "on", ["not-an-xname"]))
    session = db.sessions()
    try:
        session.begin()
        events.task(session, tid, f"{B}n0", events.STARTED, "in-progress")
        session.rollback()
        session.begin()   # the same session, a new transaction: the rolled-back event stays out
        events.task(session, tid, f"{B}n1", events.STARTED, "in-progress")
        session.commit()
    finally:
        session.close()
    with db.transaction() as session:
        xnames = session.scalars(text("SELECT xname FROM events WHERE transition_id = :t AND "
                                      "xname LIKE :b ORDER BY id"),
                                 {"t": tid, "b": f"{B}%"}).all()
    assert xnames == [f"{B}n1"]


def test_a_late_committing_event_is_held_back_not_skipped(db, settings, client, api_server):
    events.publish_after_commit(db, settings)
    tid = post_transition(client, "on", ["not-an-xname"])   # ends at once; any id will do
    live = Stream(f"{api_server.url}/v1/events")   # live from here on
    with db.transaction() as session:
        start = events.last_allocated(session)
    feed = events.EventFeed(start, transition_id=uuid.UUID(tid))
    late = db.sessions()
    late.begin()
    try:
        events.task(late, uuid.UUID(tid), f"{A}n0", events.STARTED, "in-progress")
        events.write_recorded(late)           # takes its id now, commits last
        with db.transaction() as session:    # takes a later id, commits first
            events.task(session, uuid.UUID(tid), f"{A}n1", events.STARTED, "in-progress")
        with db.transaction() as session:
            visible = session.scalars(text(
                "SELECT xname FROM events WHERE id > :start AND transition_id = :tid"),
                {"start": start, "tid": uuid.UUID(tid)}).all()
            assert visible == [f"{A}n1"], "the later id is committed, the earlier one is not"
            held, _ = feed.read(session)
            assert held == [], "nothing is delivered past an id that may still commit"
        # Let the live stream read the table (more than once) while the first is still open.
        time.sleep(2.5)
        late.commit()
    finally:
        late.close()
    with db.transaction() as session:
        rows, _ = feed.read(session)
    assert [r.xname for r in rows] == [f"{A}n0", f"{A}n1"]
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    def fresh_read():
        # A new reader sees the same rows once no writer is open; other tests' workers may
        # still hold a transaction for a moment, so it may need to ask again.
        with db.transaction() as session:
            return events.EventFeed(start, transition_id=uuid.UUID(tid)).read(session)[0]
    assert wait_for(fresh_read, timeout=15, what="a fresh reader to settle") == rows

    live.wait_for(lambda evs: {r.id for r in rows} <= {int(e.id) for e in evs if e.id},
                  what="both events on the live stream")
    live.leave()
    delivered = [int(e.id) for e in live.stored() if int(e.id) in {r.id for r in rows}]
    assert delivered == [r.id for r in rows], "the late one first: ids in order, none skipped"


def test_events_stream_filters_task_events_by_xname(client, api_server, worker, power_off,
                                                    settings):
    power_off(A, B)
    filtered = Stream(f"{api_server.url}/v1/events", xname=f"{A}n[0-1]")
    first = post_transition(client, "on", [f"{A}n0", f"{B}n0", f"{B}n1"])
    wait_transition(client, first)
    marker = post_transition(client, "on", [f"{A}n1"])   # after every event of the first
    wait_transition(client, marker)
    filtered.wait_for(
        lambda evs: any(e.event == "task" and e.json()["transitionID"] == marker
                        and e.json()["event"] == "succeeded" for e in evs),
        what="the marker's task to succeed on the filtered stream")
    filtered.leave()
    received = filtered.events
    assert {e.event for e in received} == {"task"}
    assert {e.json()["xname"] for e in received} == {f"{A}n0", f"{A}n1"}
    assert [e["event"] for e in task_events_by_xname(received)[f"{A}n0"]] == [
        "queued", "started", "action-sent", "confirmed", "succeeded"]


def test_failed_tasks_events_carry_the_error_at_once_or_from_the_bmc(
        client, api_server, worker, fleet, power_off):
    power_off(B)
    fleet.set_fault(B, fault="status", status=500, message="Fan controller fault")
    try:
        tid = post_transition(client, "on", [f"{B}n0", "not-an-xname", "x1000c7s9b0n0"])
        stream = Stream(f"{api_server.url}/v1/transitions/{tid}/events")
        received = stream.wait_closed()
    finally:
        fleet.clear_fault(B)
    by_xname = task_events_by_xname(received)
    refused = by_xname[f"{B}n0"][-1]
    assert refused["event"] == "failed" and refused["taskStatus"] == "failed"
    assert refused["description"] == "Failed to apply transition, on"
    assert refused["error"].startswith("BMC answered 500")
    assert "Fan controller fault" in refused["error"]
    # Failed at submission: one event each, stored with the transition itself.
    assert [(e["event"], e["error"]) for e in by_xname["not-an-xname"]] == [
        ("failed", "Invalid xname")]
    assert [(e["event"], e["error"]) for e in by_xname["x1000c7s9b0n0"]] == [
        ("failed", "Missing xname")]
    new = next(e for e in received if e.event == "transition")
    assert int(new.id) < min(int(by_xname[x][0]["id"]) for x in by_xname)
    assert received[-1].json()["taskCounts"]["failed"] == 3


def test_abort_is_streamed_with_progress_while_waiting(client, api_server, worker, fleet,
                                                       power_off):
    power_off(A)
    fleet.set_fault(A, fault="slow", delay=120)   # the On takes two minutes
    try:
        tid = post_transition(client, "on", [f"{A}n0"], taskDeadlineMinutes=-1)
        stream = Stream(f"{api_server.url}/v1/transitions/{tid}/events")
        stream.wait_for(lambda evs: sum(e.event == "progress" for e in evs) >= 2 and any(
            e.event == "task" and e.json()["event"] == "action-sent" for e in evs),
            what="the action sent and two progress events")
        assert client.delete(f"/transitions/{tid}").status_code == 202
        received = stream.wait_closed()
    finally:
        fleet.clear_fault(A)
    last_task = task_events_by_xname(received)[f"{A}n0"][-1]
    assert last_task["event"] == "aborted" and last_task["taskStatus"] == "failed"
    assert last_task["error"] == "Transition aborted"
    statuses = [e.json()["transitionStatus"] for e in received if e.event == "transition"]
    assert statuses[:2] == ["new", "in-progress"] and statuses[-1] == "aborted"
    assert received[-1].event == "end" and received[-1].json()["transitionStatus"] == "aborted"
    waiting = [e.json() for e in received if e.event == "progress"]
    assert any(p["taskCounts"]["in-progress"] == 1 for p in waiting)


def test_a_client_leaving_ends_its_stream_and_unsubscribes(settings, api_server):
    before = subscribers(settings)
    streams = [Stream(f"{api_server.url}/v1/events") for _ in range(3)]
    wait_for(lambda: subscribers(settings) == before + 3, timeout=15,
             what="three subscriptions")
    for stream in streams:
        stream.leave()
    wait_for(lambda: subscribers(settings) == before, timeout=15,
             what="the subscriptions to go with their clients")


def test_stream_errors_are_problem_json(client):
    unknown = client.get("/v1/transitions/6f0c3e0e-0000-4000-8000-000000000000/events")
    assert unknown.status_code == 404
    assert unknown.headers["Content-Type"] == "application/problem+json"
    assert unknown.get_json()["status"] == 404
    assert client.get("/v1/transitions/not-a-uuid/events").status_code == 400
    bad = client.get("/v1/events", headers={"Last-Event-ID": "yesterday"})
    assert bad.status_code == 400 and "Last-Event-ID" in bad.get_json()["detail"]
    assert client.get("/v1/events?xname=x1000c0s0b0n[").status_code == 400


def test_events_are_published_after_commit_with_their_ids(db, settings):
    events.publish_after_commit(db, settings)
    listener = redis.Redis.from_url(settings.broker_url).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(events.channel(settings))

    def next_message() -> dict:
        # Ours name no transition; others (the reaper's, say) may come between.
        def ours():
            message = listener.get_message(timeout=1.0)
            data = json.loads(message["data"]) if message else None
            return data if data and data["transitions"] == [] else None
        return wait_for(ours, timeout=10, what="a message on the events channel")

    try:
        open_tx = db.sessions()
        open_tx.begin()
        events.task(open_tx, None, "x1000c1s4b0n0", events.STARTED, "in-progress")
        rolled_back = db.sessions()
        rolled_back.begin()
        events.task(rolled_back, None, "x1000c1s4b0n0", events.STARTED, "in-progress")
        rolled_back.rollback()
        with db.transaction() as session:
            events.task(session, None, "x1000c1s4b0n1", events.STARTED, "in-progress")
            events.task(session, None, "x1000c1s4b0n1", events.CONFIRMED, "in-progress")
        committed = next_message()           # one message for the transaction, both ids
        open_tx.commit()
        later = next_message()
    finally:
        listener.close()
    with db.transaction() as session:
        mine = session.execute(text("SELECT id, xname FROM events WHERE transition_id IS NULL "
                                    "ORDER BY id DESC LIMIT 3")).all()
        session.execute(text("DELETE FROM events WHERE transition_id IS NULL"))
    n1 = sorted(r.id for r in mine if r.xname.endswith("n1"))
    n0 = [r.id for r in mine if r.xname.endswith("n0")]
    assert committed == {"ids": [[n1[0], n1[1]]], "transitions": []}
    assert later == {"ids": [[n0[0], n0[0]]], "transitions": []}


def test_the_event_id_sequence_hands_out_ids_one_at_a_time(db):
    # EventFeed relies on it: a cached block of ids would be handed out without a new lock.
    with db.transaction() as session:
        cache = session.scalar(text("SELECT seqcache FROM pg_sequence WHERE seqrelid = "
                                    "CAST(pg_get_serial_sequence('events', 'id') AS regclass)"))
    assert cache == 1


def test_a_transactions_ids_are_published_as_few_ranges():
    assert events.merged([(9, 9), (3, 4), (5, 5)]) == [[3, 5], [9, 9]]
    assert events.merged([(1, 10000), (10001, 10001), (10003, 10004)]) == [[1, 10001],
                                                                          [10003, 10004]]


def test_the_default_thread_count_serves_many_concurrent_streams(
        settings, scratch_dir, client, worker, power_off):
    """Each stream holds a gunicorn thread: the default PCS_API_THREADS must leave room."""
    count = 20
    threads = Settings().api_threads
    assert threads > count
    server = ApiServer({**settings.as_env(), "PCS_API_THREADS": str(threads)},
                       scratch_dir / "api-many.log", threads=threads)
    streams = []
    try:
        before = subscribers(settings)
        streams = [Stream(f"{server.url}/v1/events", xname=f"{A}n0") for _ in range(count)]
        wait_for(lambda: subscribers(settings) == before + count, timeout=30,
                 what=f"{count} streams open at once")
        power_off(A)
        tid = post_transition(client, "on", [f"{A}n0"])
        for stream in streams:
            stream.wait_for(lambda evs: any(e.event == "task" and e.json()["transitionID"] == tid
                                            and e.json()["event"] == "succeeded" for e in evs),
                            what="every stream to see the task succeed")
        assert len({tuple(s.ids()) for s in streams}) == 1, "all saw the same events"
        assert [e.json()["event"] for e in streams[0].stored()] == [
            "queued", "started", "action-sent", "confirmed", "succeeded"]
        # A request other than a stream is still served.
        assert requests.get(f"{server.url}/liveness", timeout=5).status_code == 204
    finally:
        for stream in streams:
            stream.leave()
        server.stop()
