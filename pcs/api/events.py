"""The event streams (an addition): Server-Sent Events of task and transition events.

GET /v1/transitions/{id}/events replays the transition's events (or those after Last-Event-ID),
then follows it live with a progress event at least every PROGRESS_S, and ends with an `end`
event once the transition has ended and all its events are out. GET /v1/events (?xname= filters
task events by component) starts live, or after Last-Event-ID.

A stream holds one server thread, a Redis pub/sub subscription that wakes it when events commit,
and no database connection between reads: every read is a short transaction. The rows are the
truth; the table is read at least every POLL_S in case a publish was lost.
"""
from __future__ import annotations

import json
import logging
import select
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import redis
from flask import Blueprint, Response, current_app, request
from sqlalchemy import exists
from sqlalchemy import select as sql_select

from pcs import events, metrics, queries
from pcs.api.schemas import rfc3339, summary_fast
from pcs.api.services import Services, services
from pcs.api.targets import expand
from pcs.api.ids import parse_uuid
from pcs.config import Settings
from pcs.domain.states import TRANSITION_ENDED
from pcs.errors import (ConfigurationError, DatabaseUnavailable, InvalidRequest, NotFound,
                        TooManyStreams)
from pcs.models import Transition

log = logging.getLogger(__name__)
bp = Blueprint("events", __name__)

POLL_S = 1.0          # read the table at least this often, whatever Redis says
PROGRESS_S = 2.0      # progress events of a transition's stream, at least this often
KEEPALIVE_S = 15.0    # a comment on an idle /v1/events stream, so that proxies keep it open
MIN_READ_GAP_S = 0.1  # a burst of commits wakes a stream once per gap, not once per commit
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _per_app(state) -> None:
    # One Redis connection pool per app; each stream's subscription takes one connection.
    settings = state.app.extensions["pcs"].settings
    state.app.extensions["pcs.event_redis"] = redis.Redis.from_url(
        settings.broker_url, socket_connect_timeout=3, socket_timeout=10)
    state.app.extensions["pcs.event_progress"] = SharedProgress()
    state.app.extensions["pcs.stream_slots"] = StreamSlots(stream_limit(settings))


def stream_limit(settings: Settings) -> int:
    """Streams open at once: below the thread count, so that probes and other requests always
    find a thread. Raises ConfigurationError for a PCS_MAX_STREAMS that leaves none."""
    threads = settings.api_threads
    if settings.max_streams >= threads:
        raise ConfigurationError(f"PCS_MAX_STREAMS={settings.max_streams} must be below "
                                 f"PCS_API_THREADS={threads}: each stream holds a thread")
    return settings.max_streams or max(1, threads - max(4, threads // 4))


class StreamSlots:
    """A count of the streams open in this process, refusing one more than the limit."""

    def __init__(self, limit: int):
        self.limit = limit
        self._free = threading.BoundedSemaphore(limit)

    def hold(self, response: Response) -> Response:
        """The response, holding a slot until it is closed. Raises TooManyStreams."""
        if not self._free.acquire(blocking=False):
            raise TooManyStreams(f"all {self.limit} event streams of this API process are "
                                 "open (PCS_MAX_STREAMS); try again later")
        # Closed by the server when the client leaves or the stream ends, started or not.
        response.call_on_close(self._free.release)
        return response


bp.record_once(_per_app)


@bp.get("/transitions/<transition_id>/events")
def transition_events(transition_id: str):
    tid = parse_uuid(transition_id)
    after = last_event_id()
    svc = services()
    with svc.db.transaction() as session:
        if not session.scalar(sql_select(exists().where(Transition.id == tid))):
            raise NotFound(f"transition {tid} not found")
    feed = events.EventFeed(after or 0, transition_id=tid)
    return _response(EventStream(svc, feed, _subscriber(svc), tid,
                                 current_app.extensions["pcs.event_progress"]).run())


@bp.get("/events")
def all_events():
    names = expand(request.args.getlist("xname")) or None
    after = last_event_id()
    svc = services()
    if after is None:   # live events only: start after the last id handed out so far
        with svc.db.transaction() as session:
            after = events.last_allocated(session)
    feed = events.EventFeed(after, xnames=names)
    return _response(EventStream(svc, feed, _subscriber(svc)).run())


def last_event_id() -> int | None:
    """The resume point: the Last-Event-ID header, else ?lastEventId=. Raises InvalidRequest."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("lastEventId")
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidRequest(f"invalid Last-Event-ID '{raw}': give the id of an event")
    return value


def _response(body: Iterator[str]) -> Response:
    # content_type, not mimetype: exactly text/event-stream, without a charset parameter.
    response = Response(body, content_type="text/event-stream", headers=HEADERS)
    return current_app.extensions["pcs.stream_slots"].hold(response)


def _subscriber(svc: Services) -> Subscriber:
    return Subscriber(current_app.extensions["pcs.event_redis"], events.channel(svc.settings),
                      request.environ.get("gunicorn.socket"))


class Subscriber:
    """What wakes a stream: a publish on the events channel, or the poll interval. Also tells
    when the client has gone (under gunicorn, whose socket the request exposes)."""

    def __init__(self, client: redis.Redis, channel: str, client_socket: socket.socket | None):
        self._client, self._channel, self._socket = client, channel, client_socket
        self._pubsub = None

    def open(self) -> None:
        try:
            self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            self._pubsub.subscribe(self._channel)
        except redis.RedisError as exc:
            log.warning("event stream without Redis (reading the table every %g s): %s",
                        POLL_S, exc)
            self.close()

    def close(self) -> None:
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except redis.RedisError:
                pass
            self._pubsub = None

    def wait(self, timeout: float, transition_id: uuid.UUID | None, any_commit: bool) -> None:
        """Return on a publish that concerns the stream (any, when `any_commit`) or after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self._pubsub is None:
                time.sleep(min(left, POLL_S))
                return
            try:
                message = self._pubsub.get_message(timeout=min(left, POLL_S))
            except (redis.RedisError, OSError) as exc:
                log.warning("event stream lost Redis (reading the table instead): %s", exc)
                self.close()
                continue
            if message and (any_commit or _concerns(message, transition_id)):
                return

    def client_gone(self) -> bool:
        """True when the client closed its connection (readable, and nothing to read)."""
        if self._socket is None:
            return False
        try:
            readable, _, _ = select.select([self._socket], [], [], 0)
            return bool(readable) and self._socket.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return False   # a TLS socket cannot peek; the next write tells instead


def _concerns(message: dict, transition_id: uuid.UUID | None) -> bool:
    if transition_id is None:
        return True
    try:
        return str(transition_id) in json.loads(message["data"])["transitions"]
    except (ValueError, KeyError, TypeError):
        return True   # unreadable: read the table rather than risk missing something


class SharedProgress:
    """A transition's status and task counts, counted at most once per MAX_AGE_S in an API
    process however many streams follow it (counting 10,000 tasks takes some 35 ms)."""
    MAX_AGE_S = 1.0

    def __init__(self):
        self._lock = threading.Lock()
        self._read_at: dict[uuid.UUID, tuple[float, tuple[str, dict] | None]] = {}

    def get(self, svc: Services, transition_id: uuid.UUID,
            fresh: bool = False) -> tuple[str, dict] | None:
        """(transitionStatus, taskCounts), or None once the transition is gone. `fresh`: read
        now (the final counts of an `end` event)."""
        now = time.monotonic()
        with self._lock:
            read_at, value = self._read_at.get(transition_id, (0.0, None))
        if now - read_at < self.MAX_AGE_S and not fresh:
            return value
        with svc.db.transaction() as session:
            try:
                summary = summary_fast(queries.get_transition(session, transition_id))
                value = summary["transitionStatus"], summary["taskCounts"]
            except NotFound:
                value = None
        with self._lock:
            self._read_at = {t: v for t, v in self._read_at.items()
                             if now - v[0] < 10 * self.MAX_AGE_S}
            self._read_at[transition_id] = (now, value)
        return value


class EventStream:
    """One client's stream. run() yields SSE text; closing it (the client left) unsubscribes."""

    def __init__(self, svc: Services, feed: events.EventFeed, subscriber: Subscriber,
                 transition_id: uuid.UUID | None = None,
                 progress: SharedProgress | None = None):
        self.svc, self.feed, self.subscriber = svc, feed, subscriber
        self.transition_id, self.progress = transition_id, progress
        self._end_at: int | None = None     # the transition ended: end once the feed is here

    def run(self) -> Iterator[str]:
        self.subscriber.open()   # before the first read: a commit after it wakes the stream
        metrics.EVENT_STREAMS.inc()
        try:
            # A comment first, so the client has the response headers before any event exists.
            yield ": connected\n\n"
            yield from self._follow()
        except DatabaseUnavailable as exc:
            # The client resumes from its last event id when the database is back.
            log.warning("event stream closed: %s", exc)
        finally:
            self.subscriber.close()
            metrics.EVENT_STREAMS.dec()

    def _follow(self) -> Iterator[str]:
        # The first progress event follows the replay (every id handed out before the client
        # came), unless ids held back make that take longer than PROGRESS_S.
        replay_to: int | None = None
        if self.transition_id is not None:
            with self.svc.db.transaction() as session:
                replay_to = events.last_allocated(session)
        progress_due = time.monotonic() + PROGRESS_S
        last_sent = time.monotonic()
        while True:
            last_read = time.monotonic()
            for chunk, ended in self._read():
                yield chunk
                last_sent = time.monotonic()
                if ended:
                    self._end_at = self.feed.after
            now = time.monotonic()
            if replay_to is not None and self.feed.after >= replay_to:
                replay_to, progress_due = None, now
            if self.transition_id is not None:
                if now >= progress_due or self._end_reached():
                    data = self._progress(fresh=self._end_reached())
                    if data is None:
                        return    # the transition was deleted (retention) while streaming
                    yield sse("progress", data)
                    last_sent, progress_due = now, now + PROGRESS_S
                    if self._end_reached():
                        yield sse("end", data)
                        return
            elif now - last_sent >= KEEPALIVE_S:
                yield ": keep-alive\n\n"
                last_sent = now
            if self.subscriber.client_gone():
                return
            timeout = POLL_S
            if self.transition_id is not None:
                timeout = min(timeout, max(0.0, progress_due - time.monotonic()))
            self.subscriber.wait(timeout, self.transition_id, self.feed.holding_back)
            # Coalesce: many commits in a burst make one read.
            time.sleep(max(0.0, last_read + MIN_READ_GAP_S - time.monotonic()))

    def _read(self) -> Iterator[tuple[str, bool]]:
        """Every settled event not yet sent, as SSE text in batches; True with the batch that
        holds the transition's final event."""
        more = True
        while more:
            with self.svc.db.transaction() as session:
                rows, more = self.feed.read(session)
            if rows:
                yield "".join(sse(row.kind, wire(row), row.id) for row in rows), any(
                    row.kind == events.TRANSITION and row.transition_id == self.transition_id
                    and row.data.get("transitionStatus") in TRANSITION_ENDED
                    for row in rows)

    def _end_reached(self) -> bool:
        return self._end_at is not None and self.feed.after >= self._end_at

    def _progress(self, fresh: bool) -> dict | None:
        """The transition's status and task counts, as GET /transitions/{id} reports them.
        When it has ended, the stream ends once the feed has passed every id handed out by
        then (its last events included)."""
        found = self.progress.get(self.svc, self.transition_id, fresh)
        if found is None:
            return None
        status, counts = found
        if status in TRANSITION_ENDED and self._end_at is None:
            with self.svc.db.transaction() as session:   # after the status was read
                self._end_at = events.last_allocated(session)
        return {"transitionID": str(self.transition_id), "transitionStatus": status,
                "taskCounts": counts, "time": rfc3339(_now())}


def wire(row: events.StoredEvent) -> dict:
    """A stored event's data on the wire (the field order of the contract)."""
    head = {"id": row.id, "transitionID": str(row.transition_id) if row.transition_id else ""}
    if row.kind == events.TASK:
        head["xname"] = row.xname
    return {**head, **row.data, "time": rfc3339(row.created_at)}


def sse(event: str, data: dict, event_id: int | None = None) -> str:
    """One event in the text/event-stream format; JSON on one line (it escapes newlines)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _now() -> datetime:
    return datetime.now(UTC)
