"""What a Redfish task monitor says of an action a BMC accepted with 202 (pure)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pcs.redfish.messages import quote_messages, redfish_message

# TaskState values (Redfish Task schema) of a task that has not ended yet.
RUNNING_STATES = {"new", "starting", "running", "pending", "stopping", "suspended", "service"}
FAILED_STATES = {"exception", "killed", "cancelled", "interrupted"}


class TaskProgress(str, Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class TaskReading:
    progress: TaskProgress
    message: str = ""


def read_task_monitor(status_code: int | None, body: dict | None) -> TaskReading:
    """One reading of a task monitor. Per Redfish, the monitor answers 202 while the task runs
    and the operation's own response once it ended; a monitor that is gone (404, 410) belonged
    to a task that ended. A Task body's TaskState decides when one is given."""
    body = body if isinstance(body, dict) else {}
    state = str(body.get("TaskState") or "").lower()
    if state in FAILED_STATES or str(body.get("TaskStatus") or "").lower() == "critical":
        name = body.get("Id") or body.get("Name") or "task"
        words = quote_messages(body.get("Messages")) or redfish_message(body) or "no message"
        return TaskReading(TaskProgress.FAILED,
                           f"BMC task {name} ended {body.get('TaskState') or 'in error'}: {words}")
    if status_code == 202 or state in RUNNING_STATES:
        return TaskReading(TaskProgress.RUNNING)
    if status_code is not None and status_code >= 400 and status_code not in (404, 410):
        return TaskReading(TaskProgress.RUNNING)   # a monitor read failed: ask again
    return TaskReading(TaskProgress.DONE)

