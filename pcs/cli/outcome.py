"""What a transition's result means for the operator: failures grouped by error, the exit
status, and running counts kept between the server's progress reports. Pure functions."""
from __future__ import annotations

from dataclasses import dataclass

from pcs.cli.targets import fold

EXIT_ALL_SUCCEEDED = 0
EXIT_SOME_FAILED = 1
EXIT_ERROR = 2            # bad usage, server unreachable, an HTTP error, a lost stream
EXIT_INTERRUPTED = 130    # Ctrl-C (128 + SIGINT), as shells report it

ENDED_TRANSITION = ("completed", "aborted")
ENDED_TASK = ("succeeded", "failed", "unsupported")
COUNT_KEYS = ("total", "new", "in-progress", "failed", "succeeded", "un-supported")
# taskStatus → its taskCounts key (upstream spells the count "un-supported").
COUNT_KEY_FOR = {"new": "new", "in-progress": "in-progress", "failed": "failed",
                 "succeeded": "succeeded", "unsupported": "un-supported"}


def exit_status(counts: dict) -> int:
    """0 only if every component succeeded (an empty transition succeeded at nothing: 1)."""
    total = counts.get("total", 0)
    return EXIT_ALL_SUCCEEDED if total and counts.get("succeeded", 0) == total \
        else EXIT_SOME_FAILED


@dataclass(frozen=True)
class TaskGroup:
    status: str      # taskStatus
    reason: str      # the error, or the description when there is no error
    xnames: list

    @property
    def ranges(self) -> str:
        return fold(self.xnames)


def group_tasks(tasks: list[dict], statuses: tuple[str, ...] | None = None) -> list[TaskGroup]:
    """Tasks of the given statuses grouped by (status, error or description), largest first.

    tasks: the `tasks` of GET /transitions/{id} (xname, taskStatus, taskStatusDescription,
    error?)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for task in tasks:
        status = task.get("taskStatus", "")
        if statuses is not None and status not in statuses:
            continue
        reason = task.get("error") or task.get("taskStatusDescription") or ""
        groups.setdefault((status, reason), []).append(task["xname"])
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [TaskGroup(status, reason, names) for (status, reason), names in ordered]


def failure_groups(tasks: list[dict]) -> list[TaskGroup]:
    """The components that did not succeed, grouped by what went wrong."""
    return group_tasks(tasks, ("failed", "unsupported"))


class RunningCounts:
    """taskCounts between two progress reports of the server.

    The server's `progress` counts are the truth whenever they arrive (every 2 s at most);
    task events in between move one component from its last known status (else from
    in-progress, else new) to its new one, so that the bar moves with every event."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(COUNT_KEYS, 0)
        self._status: dict[str, str] = {}

    def reported(self, counts: dict) -> None:
        self.counts = {key: int(counts.get(key, 0)) for key in COUNT_KEYS}

    def task_changed(self, xname: str, status: str) -> None:
        new_key = COUNT_KEY_FOR.get(status)
        if new_key is None:
            return
        old_status = self._status.get(xname)
        self._status[xname] = status
        if old_status == status:
            return
        old_key = COUNT_KEY_FOR.get(old_status) if old_status else None
        for key in ([old_key] if old_key else ["in-progress", "new"]):
            if self.counts[key] > 0:
                self.counts[key] -= 1
                break
        self.counts[new_key] += 1
        # Before the first report (a replay) the total is what has been seen.
        self.counts["total"] = max(self.counts["total"], sum(
            self.counts[k] for k in COUNT_KEYS if k != "total"))

    @property
    def ended(self) -> int:
        return self.counts["succeeded"] + self.counts["failed"] + self.counts["un-supported"]
