"""Following a transition to its end: its event stream, resumed from the last event id after a
drop, or polling GET /transitions/{id} on a server without streams."""
from __future__ import annotations

import time
from typing import Callable, Protocol

from pcs.cli.client import ApiError, ApiUnreachable, PcsClient
from pcs.cli.outcome import ENDED_TRANSITION
from pcs.cli.sse import SseEvent

RECONNECT_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0)   # then give up and say how to resume
POLL_INTERVAL_S = 1.0


class Sink(Protocol):
    """Where a followed transition's events go (a progress bar, plain lines, nothing)."""
    def task(self, data: dict) -> None: ...          # a task event (stored, with an id)
    def transition(self, data: dict) -> None: ...    # the transition's status changed
    def progress(self, data: dict) -> None: ...      # taskCounts, as GET /transitions/{id}


class StreamLost(Exception):
    """The server stayed unreachable through every reconnect; the transition goes on."""


class _Resume:
    """Stored event ids seen so far: the resume point, and a guard against a replay overlap."""

    def __init__(self, since: int | None):
        self.last_id = since
        self.seen: set[int] = set()

    def is_new(self, event: SseEvent) -> bool:
        if event.id is None:
            return True              # progress and end are not stored and never repeat
        try:
            number = int(event.id)
        except ValueError:
            return True
        if number in self.seen:
            return False
        self.seen.add(number)
        self.last_id = number if self.last_id is None else max(self.last_id, number)
        return True


def follow(client: PcsClient, transition_id: str, sink: Sink, since: int | None = None,
           sleep: Callable[[float], None] = time.sleep) -> dict:
    """Feed `sink` until the transition has ended; return the `end` data (transitionID,
    transitionStatus, taskCounts). `since`: start after this event id instead of replaying
    the whole history.

    Raises ApiError (unknown transition), ApiUnreachable (no server to begin with) or
    StreamLost (the connection dropped and every reconnect failed)."""
    resume = _Resume(since)
    try:
        events = client.transition_events(transition_id, since)
    except ApiError as exc:
        if exc.status != 404:
            raise
        client.get_transition(transition_id)   # unknown transition: this 404 is the answer
        return poll(client, transition_id, sink, sleep)   # a server without event streams
    failures = 0
    while True:
        try:
            for event in events:
                failures = 0
                if not resume.is_new(event):
                    continue
                end = _deliver(event, sink)
                if end is not None:
                    return end
            reason = "the server closed the event stream before the transition ended"
        except ApiUnreachable as exc:
            reason = str(exc)
        if failures == len(RECONNECT_DELAYS_S):
            raise StreamLost(reason)
        sleep(RECONNECT_DELAYS_S[failures])
        failures += 1
        events = _reconnect(client, transition_id, resume.last_id)


def _reconnect(client: PcsClient, transition_id: str, last_id: int | None):
    """The stream again from after `last_id`; an empty stream when the server is (still) away,
    so that the caller counts it as one more failure."""
    try:
        return client.transition_events(transition_id, last_id)
    except ApiUnreachable:
        return iter(())
    except ApiError as exc:
        if exc.status >= 500:    # restarting behind a proxy, or out of database connections
            return iter(())
        raise


def _deliver(event: SseEvent, sink: Sink) -> dict | None:
    """Hand one event to the sink; the end data when it is the `end` event."""
    try:
        data = event.json()
    except ValueError:
        return None              # not ours to guess at; the next progress report corrects
    if event.event == "task":
        sink.task(data)
    elif event.event == "transition":
        sink.transition(data)
    elif event.event in ("progress", "end"):
        sink.progress(data)
        if event.event == "end":
            return data
    return None


def poll(client: PcsClient, transition_id: str, sink: Sink,
         sleep: Callable[[float], None] = time.sleep) -> dict:
    """Follow by reading the transition every second; each task whose status changed becomes
    a task event. Raises StreamLost when the server stays away through every retry."""
    known: dict[str, str] = {}
    failures = 0
    while True:
        try:
            body = client.get_transition(transition_id)
        except ApiUnreachable as exc:
            if failures == len(RECONNECT_DELAYS_S):
                raise StreamLost(str(exc)) from None
            sleep(RECONNECT_DELAYS_S[failures])
            failures += 1
            continue
        failures = 0
        for task in body.get("tasks") or []:
            if known.get(task["xname"]) != task["taskStatus"]:
                known[task["xname"]] = task["taskStatus"]
                sink.task(task_event(body["transitionID"], task))
        data = {"transitionID": body["transitionID"],
                "transitionStatus": body["transitionStatus"], "taskCounts": body["taskCounts"]}
        sink.progress(data)
        if body["transitionStatus"] in ENDED_TRANSITION:
            return data
        sleep(POLL_INTERVAL_S)


def task_event(transition_id: str, task: dict) -> dict:
    """A task of GET /transitions/{id} in the shape of a stream's task event."""
    status = task["taskStatus"]
    happened = {"new": "queued", "in-progress": "started"}.get(status, status)
    return {"transitionID": transition_id, "xname": task["xname"], "event": happened,
            "taskStatus": status, "description": task.get("taskStatusDescription", ""),
            "error": task.get("error", "")}
