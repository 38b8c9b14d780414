"""Resets accepted as Redfish Tasks (the 'task' fault) and the TaskService bodies. Pure.

A task ends ``duration`` seconds after the POST; its outcome is settled lazily, at the first
request to its BMC (or admin read) after that: "completed" applies the reset at the end time,
"exception" changes nothing. Task Ids count from 1 per BMC.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .faults import consume
from .model import BMC, KNOWN_RESET_TYPES, FleetError, Task
from .resources import collection

TASK_SERVICE = "/redfish/v1/TaskService"
TASKS = f"{TASK_SERVICE}/Tasks"
DEFAULT_TASK_ERROR = "The reset of {system} did not complete: internal BMC error."


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


class TasksMixin:
    """Mixed into Fleet (after FaultsMixin and HierarchyMixin)."""

    hierarchy: bool

    def bmc(self, xname: str) -> BMC:  # pragma: no cover - provided by Fleet
        raise NotImplementedError

    def start_task(self, xname: str, system: str, reset_type: str, target_uri: str, body: Any,
                   now: float) -> Task | None:
        """A Task for this reset if a 'task' fault covers the system (counted), else None.

        Raises Unreachable (hierarchy mode) like :meth:`Fleet.reset`.
        """
        b = self.bmc(xname)
        if system not in b.systems:
            raise FleetError(f"unknown system {system!r} on {xname}")
        if reset_type not in KNOWN_RESET_TYPES:
            raise FleetError(f"unsupported ResetType {reset_type!r}")
        if self.hierarchy:
            self.check_node_bmc(b, now)
        f = self.active_fault(b, system, "task")
        if f is None:
            return None
        consume(f)
        task = Task(id=str(len(b.tasks) + 1), system=system, reset_type=reset_type,
                    target_uri=target_uri, body=body, start=now, due=now + f["duration"],
                    outcome=f["outcome"],
                    message=f.get("message") or DEFAULT_TASK_ERROR.format(system=system))
        b.tasks[task.id] = task
        self.settle_tasks(b, now)
        return task

    def settle_tasks(self, b: BMC, now: float) -> None:
        """Apply the outcome of every task of ``b`` that has ended by ``now``."""
        for task in b.tasks.values():
            if not task.settled and now >= task.due:
                task.settled = True
                if task.outcome == "completed":
                    self.power_reset(b, task.system, task.reset_type, task.due)


# ---- Redfish bodies ------------------------------------------------------------------
def task_uri(task: Task) -> str:
    return f"{TASKS}/{task.id}"


def task_resource(task: Task, now: float) -> dict[str, Any]:
    state = task.state(now)
    span = task.due - task.start
    done = 100 if state != "Running" else int(100 * (now - task.start) / span) if span else 0
    body: dict[str, Any] = {
        "@odata.id": task_uri(task),
        "@odata.type": "#Task.v1_4_3.Task",
        "Id": task.id,
        "Name": f"Task {task.id}",
        "TaskState": state,
        "TaskStatus": "Critical" if state == "Exception" else "OK",
        "StartTime": _iso(task.start),
        "PercentComplete": min(done, 100),
        "TaskMonitor": task_uri(task),
        "Messages": [],
        "Payload": {"HttpOperation": "POST", "TargetUri": task.target_uri,
                    "JsonBody": json.dumps(task.body), "HttpHeaders": []},
    }
    if state != "Running":
        body["EndTime"] = _iso(task.due)
    if state == "Exception":
        body["Messages"] = [{
            "@odata.type": "#Message.v1_1_1.Message",
            "MessageId": "Base.1.8.GeneralError",
            "Message": task.message,
            "MessageArgs": [],
            "Severity": "Critical",
            "Resolution": "None.",
        }]
    return body


def task_service() -> dict[str, Any]:
    return {
        "@odata.id": TASK_SERVICE,
        "@odata.type": "#TaskService.v1_1_4.TaskService",
        "Id": "TaskService",
        "Name": "Task Service",
        "ServiceEnabled": True,
        "Status": {"State": "Enabled", "Health": "OK"},
        "Tasks": {"@odata.id": TASKS},
    }


def tasks_collection(b: BMC) -> dict[str, Any]:
    body = collection("TaskService/Tasks", "Task", [task_uri(t) for t in b.tasks.values()])
    body["Name"] = "Task Collection"
    return body
