"""How a followed transition looks: a live progress bar on a terminal, one line per finished
component when piped, nothing until the end with --quiet/--json; then the summary."""
from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task,
                           TextColumn)
from rich.table import Column
from rich.text import Text

from pcs.cli.outcome import ENDED_TASK, RunningCounts, failure_groups, rate_and_eta

VIEWS = ("progress", "plain", "quiet", "json")


def choose_view(is_terminal: bool, plain: bool = False, quiet: bool = False,
                as_json: bool = False) -> str:
    """json > quiet > plain > progress: an animation only on a terminal that did not ask
    for plain output."""
    if as_json:
        return "json"
    if quiet:
        return "quiet"
    if plain or not is_terminal:
        return "plain"
    return "progress"


def components(n: int) -> str:
    """'1 component', '8 components'."""
    return f"{n} component" + ("" if n == 1 else "s")


def task_line(data: dict) -> str:
    """'x1000c0s0b0n0 failed: Failed to apply transition, on: BMC answered 500 …'"""
    status = data.get("taskStatus", "")
    words = [w for w in (data.get("description", ""), data.get("error", "")) if w]
    return f"{data.get('xname', '?')} {status}" + (f": {': '.join(words)}" if words else "")


class CountingSink:
    """Keeps the running counts; prints nothing (--quiet and --json)."""

    def __init__(self) -> None:
        self.counts = RunningCounts()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def task(self, data: dict) -> None:
        self.counts.task_changed(data.get("xname", ""), data.get("taskStatus", ""))

    def transition(self, data: dict) -> None:
        pass

    def progress(self, data: dict) -> None:
        self.counts.reported(data.get("taskCounts") or {})


class PlainSink(CountingSink):
    """One line per component that finished, no animation: for pipes, logs and --plain."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self._ended: set[str] = set()

    def task(self, data: dict) -> None:
        super().task(data)
        # Several events may carry an ended status (confirmed, succeeded): one line each.
        if data.get("taskStatus") in ENDED_TASK and data.get("xname") not in self._ended:
            self._ended.add(data.get("xname"))
            self.console.print(Text(task_line(data)), soft_wrap=True)


class CountsColumn(ProgressColumn):
    """succeeded / failed / in progress / queued, from the task's fields."""

    def render(self, task: Task) -> Text:
        f = task.fields
        text = Text()
        text.append(f"{f.get('succeeded', 0)} succeeded", style="green")
        text.append("  ")
        text.append(f"{f.get('failed', 0)} failed", style="red" if f.get("failed") else "dim")
        text.append("  ")
        text.append(f"{f.get('in_progress', 0)} in progress", style="yellow")
        text.append("  ")
        text.append(f"{f.get('queued', 0)} queued", style="dim")
        return text


class RateColumn(ProgressColumn):
    """Components ended per second since watching began, and the time left at that rate."""

    def render(self, task: Task) -> Text:
        start = task.fields.get("watch_start")
        if start is None:
            return Text("-/s  eta -:--", style="cyan")
        rate, eta = rate_and_eta(int(task.completed), int(task.total or 0), start[1],
                                 time.monotonic() - start[0])
        if rate is None:
            return Text("-/s  eta -:--", style="cyan")
        minutes, seconds = divmod(int(eta + 0.5), 60)
        return Text(f"{rate:.1f}/s  eta {minutes}:{seconds:02d}", style="cyan")


class ProgressSink(CountingSink):
    """A live bar on a terminal; failures are printed above it as they happen."""

    def __init__(self, console: Console, title: str) -> None:
        super().__init__()
        # Only the bar gives way on a narrow terminal; the figures never wrap.
        fixed = {"table_column": Column(no_wrap=True)}
        self.live = Progress(TextColumn("{task.description}", **fixed),
                             BarColumn(bar_width=None), MofNCompleteColumn(**fixed),
                             CountsColumn(**fixed), RateColumn(**fixed), console=console)
        self.bar = self.live.add_task(title, total=None, watch_start=None)
        self.watching_since: tuple[float, int] | None = None

    def __enter__(self):
        self.live.start()
        return self

    def __exit__(self, *exc) -> None:
        self.live.stop()

    def task(self, data: dict) -> None:
        super().task(data)
        if data.get("taskStatus") in ("failed", "unsupported"):
            self.live.console.print(Text(task_line(data), style="red"), soft_wrap=True)
        self._show()

    def progress(self, data: dict) -> None:
        super().progress(data)
        if self.watching_since is None:
            # The first report follows the replay: the rate counts from here.
            self.watching_since = (time.monotonic(), self.counts.ended)
            self.live.update(self.bar, watch_start=self.watching_since)
        self._show()

    def _show(self) -> None:
        c = self.counts.counts
        self.live.update(self.bar, total=c["total"] or None, completed=self.counts.ended,
                         succeeded=c["succeeded"], failed=c["failed"] + c["un-supported"],
                         in_progress=c["in-progress"], queued=c["new"])


def make_sink(view: str, console: Console, title: str) -> CountingSink:
    if view == "progress":
        return ProgressSink(console, title)
    if view == "plain":
        return PlainSink(console)
    return CountingSink()


def summary_lines(detail: dict) -> list[str]:
    """The end of a run: status, counts, then failures grouped by error with their xnames
    folded into ranges (`failed (4): x1000c0s[1-2]b0n[0-1]: BMC answered 503 …`)."""
    counts = detail.get("taskCounts", {})
    lines = [f"Transition {detail.get('transitionID')} ({detail.get('operation')}): "
             f"{detail.get('transitionStatus')}"]
    parts = [f"{counts.get('succeeded', 0)} succeeded"]
    for key, label in (("failed", "failed"), ("un-supported", "unsupported"),
                       ("in-progress", "in progress"), ("new", "not started")):
        if counts.get(key):
            parts.append(f"{counts[key]} {label}")
    lines.append(f"{components(counts.get('total', 0))}: {', '.join(parts)}")
    for group in failure_groups(detail.get("tasks") or []):
        lines.append(f"{group.status} ({len(group.xnames)}): {group.ranges}: {group.reason}")
    return lines


def print_summary(console: Console, detail: dict) -> None:
    for i, line in enumerate(summary_lines(detail)):
        style = "bold" if i == 0 else ("red" if i > 1 else "")
        console.print(Text(line, style=style), soft_wrap=True)


def result_document(detail: dict) -> dict:
    """--json: one document a script can act on."""
    tasks = detail.get("tasks") or []
    return {
        "transitionID": detail.get("transitionID"),
        "operation": detail.get("operation"),
        "transitionStatus": detail.get("transitionStatus"),
        "taskCounts": detail.get("taskCounts"),
        "failures": [{"xname": t["xname"], "taskStatus": t["taskStatus"],
                      "taskStatusDescription": t.get("taskStatusDescription", ""),
                      "error": t.get("error", "")}
                     for t in tasks if t.get("taskStatus") in ("failed", "unsupported")],
        "failureGroups": [{"taskStatus": g.status, "error": g.reason, "count": len(g.xnames),
                           "xnames": g.ranges} for g in failure_groups(tasks)],
    }
