"""Task and transition states (DESIGN.md, task lifecycle), as enums that SQL takes as bound
parameters: no list of states is typed twice."""
from __future__ import annotations

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
TRANSITION_UNFINISHED = (TransitionStatus.NEW, TransitionStatus.IN_PROGRESS,
                         TransitionStatus.ABORT_SIGNALED)

# The PCS taskStatus each state shows (DESIGN.md: the PCS status is derived).
TASK_STATUS_FOR = {TaskState.QUEUED: "new", TaskState.READY: "new", TaskState.DISPATCHED: "new",
                   TaskState.RUNNING: "in-progress", TaskState.DEFERRED: "in-progress",
                   TaskState.SUCCEEDED: "succeeded", TaskState.FAILED: "failed",
                   TaskState.UNSUPPORTED: "unsupported"}
