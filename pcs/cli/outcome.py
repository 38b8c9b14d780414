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
    """taskCounts while a transition runs, from two sources that race: the server's progress
    reports (a database snapshot, every 2 s at most) and task events (each component's
    latest status, in event order). Either may be ahead of the other, so an ended count is
    the larger of the two (both only grow), and what has not ended is split between in
    progress and new so that the counts add up to the total. The next report corrects any
    guess."""

    def __init__(self) -> None:
        self.report = dict.fromkeys(COUNT_KEYS, 0)
        self._status: dict[str, str] = {}

    def reported(self, counts: dict) -> None:
        self.report = {key: int(counts.get(key, 0)) for key in COUNT_KEYS}

    def task_changed(self, xname: str, status: str) -> None:
        if status in COUNT_KEY_FOR:
            self._status[xname] = status

    @property
    def counts(self) -> dict:
        seen = dict.fromkeys(COUNT_KEYS, 0)
        for status in self._status.values():
            seen[COUNT_KEY_FOR[status]] += 1
        out = {"total": max(self.report["total"], len(self._status))}
        for key in ("succeeded", "failed", "un-supported"):
            out[key] = max(self.report[key], seen[key])
        ended = sum(out[k] for k in ("succeeded", "failed", "un-supported"))
        reported_ended = sum(self.report[k] for k in ("succeeded", "failed", "un-supported"))
        # What ended since the report was, most likely, in progress then.
        running = self.report["in-progress"] - max(0, ended - reported_ended)
        open_ = max(0, out["total"] - ended)
        out["in-progress"] = min(open_, max(running, seen["in-progress"], 0))
        out["new"] = open_ - out["in-progress"]
        return {key: out[key] for key in COUNT_KEYS}

    @property
    def ended(self) -> int:
        c = self.counts
        return c["succeeded"] + c["failed"] + c["un-supported"]


def rate_and_eta(ended: int, total: int, ended_at_start: int,
                 elapsed_s: float) -> tuple[float | None, float | None]:
    """(components ended per second since watching began, seconds left at that rate); None
    until something has ended while watching (a replayed history is not a rate)."""
    done = ended - ended_at_start
    if done <= 0 or elapsed_s <= 0:
        return None, None
    rate = done / elapsed_s
    return rate, max(total - ended, 0) / rate
