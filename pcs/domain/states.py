"""Task and transition states (DESIGN.md, task lifecycle), as enums; the sets of them that SQL
tests, as SQL text made here: no list of states is typed twice."""
from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class TaskState(StrEnum):
    QUEUED = "queued"            # behind earlier tasks of its component
    READY = "ready"              # heads its component's queue, waits for a dispatcher
    DISPATCHED = "dispatched"    # its ID is in the broker
    RUNNING = "running"          # a worker's step holds it (attempt, lease)
    DEFERRED = "deferred"        # waits for next_check_at, still holding its component
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"


class TransitionStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in-progress"
    ABORT_SIGNALED = "abort-signaled"
    ABORTED = "aborted"
    COMPLETED = "completed"


# The states that hold the component's single slot (a partial unique index enforces it).
ACTIVE = (TaskState.READY, TaskState.DISPATCHED, TaskState.RUNNING, TaskState.DEFERRED)
UNFINISHED = (TaskState.QUEUED, *ACTIVE)
FINAL = (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.UNSUPPORTED)
IN_FLIGHT = (TaskState.DISPATCHED, TaskState.RUNNING)   # counted against a BMC's limit
# Not executing an action right now: an abort fails these at once (a running step ends itself).
ABORTABLE = (TaskState.QUEUED, TaskState.READY, TaskState.DISPATCHED, TaskState.DEFERRED)
TRANSITION_UNFINISHED = (TransitionStatus.NEW, TransitionStatus.IN_PROGRESS,
                         TransitionStatus.ABORT_SIGNALED)
TRANSITION_ENDED = (TransitionStatus.COMPLETED, TransitionStatus.ABORTED)

# Power-cap tasks take the same states; an active patch holds its component's patch slot (a
# partial unique index), and none of them is ever deferred.
CAP_ACTIVE = (TaskState.READY, TaskState.DISPATCHED, TaskState.RUNNING)
CAP_UNFINISHED = (TaskState.QUEUED, *CAP_ACTIVE)

# The PCS taskStatus each state shows (DESIGN.md: the PCS status is derived).
TASK_STATUS_FOR = {TaskState.QUEUED: "new", TaskState.READY: "new", TaskState.DISPATCHED: "new",
                   TaskState.RUNNING: "in-progress", TaskState.DEFERRED: "in-progress",
                   TaskState.SUCCEEDED: "succeeded", TaskState.FAILED: "failed",
                   TaskState.UNSUPPORTED: "unsupported"}


def sql_list(states: Iterable[StrEnum], separator: str = ",") -> str:
    """The states as a literal SQL list, for `state IN <list>`: ('ready','dispatched').

    Why literal, not a bound parameter: PostgreSQL uses a partial index (uq_task_active_component,
    ix_task_runnable, ix_task_unfinished, the power-cap ones) only when it can prove from
    constants that the query's predicate implies the index's. psycopg prepares a statement that
    runs often, and PostgreSQL may then run it with a generic plan, made without the parameters'
    values, which could not use those indexes. For the same reason a single state in a predicate
    that a partial index answers is written in as '{TaskState.QUEUED}'; elsewhere (SET, CASE,
    rows found by id) it is a bound parameter. `separator` lets index predicates keep the exact
    text their migrations wrote."""
    values = [str(s) for s in states]
    if any("'" in v for v in values):   # no state holds one; the quoting below relies on it
        raise ValueError(f"a state with a quote: {values}")
    return "(" + separator.join(f"'{v}'" for v in values) + ")"


ACTIVE_SQL = sql_list(ACTIVE)
UNFINISHED_SQL = sql_list(UNFINISHED)
FINAL_SQL = sql_list(FINAL)
IN_FLIGHT_SQL = sql_list(IN_FLIGHT)
ABORTABLE_SQL = sql_list(ABORTABLE)
TRANSITION_UNFINISHED_SQL = sql_list(TRANSITION_UNFINISHED)
TRANSITION_ENDED_SQL = sql_list(TRANSITION_ENDED)
CAP_ACTIVE_SQL = sql_list(CAP_ACTIVE)
CAP_UNFINISHED_SQL = sql_list(CAP_UNFINISHED)
