"""Tables of the listing commands. Cells are Text, never markup: errors quote BMCs verbatim."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text

from pcs.cli.outcome import group_tasks
from pcs.cli.targets import fold

STATUS_STYLE = {"succeeded": "green", "failed": "red", "unsupported": "red",
                "in-progress": "yellow", "completed": "green", "aborted": "red",
                "abort-signaled": "red", "on": "green", "off": "dim", "undefined": "red"}


def _table(*columns: str) -> Table:
    return Table(*columns, box=None, pad_edge=False, header_style="bold")


def _cell(value, style: str | None = None) -> Text:
    text = "" if value is None else str(value)
    return Text(text, style=style if style is not None else STATUS_STYLE.get(text, ""))


def transitions_table(transitions: list[dict]) -> Table:
    table = _table("transition", "operation", "status", "created", "total", "succeeded",
                   "failed", "in progress", "new")
    for t in transitions:
        c = t["taskCounts"]
        table.add_row(_cell(t["transitionID"]), _cell(t["operation"]),
                      _cell(t["transitionStatus"]), _cell(t["createTime"]), _cell(c["total"]),
                      _cell(c["succeeded"]), _cell(c["failed"] + c["un-supported"]),
                      _cell(c["in-progress"]), _cell(c["new"]))
    return table


def task_groups_table(tasks: list[dict]) -> Table:
    """Tasks with the same status and outcome on one row, xnames as ranges."""
    table = _table("status", "count", "xnames", "outcome")
    for group in group_tasks(tasks):
        table.add_row(_cell(group.status), _cell(len(group.xnames)), _cell(group.ranges, ""),
                      _cell(group.reason, ""))
    return table


def tasks_table(tasks: list[dict]) -> Table:
    table = _table("xname", "status", "description", "error")
    for t in tasks:
        table.add_row(_cell(t["xname"]), _cell(t["taskStatus"]),
                      _cell(t.get("taskStatusDescription", ""), ""), _cell(t.get("error", ""), "red"))
    return table


def status_table(status: list[dict]) -> Table:
    table = _table("xname", "power", "management", "supported", "last updated", "error")
    for s in status:
        table.add_row(_cell(s["xname"]), _cell(s["powerState"]), _cell(s["managementState"]),
                      _cell(", ".join(s.get("supportedPowerTransitions") or []), ""),
                      _cell(s.get("lastUpdated", "")), _cell(s.get("error", ""), "red"))
    return table


def status_groups_table(status: list[dict]) -> Table:
    """Components by (power, management, error), xnames folded: readable at 10,000 nodes."""
    groups: dict[tuple, list[str]] = {}
    for s in status:
        key = (s["powerState"], s["managementState"], s.get("error", ""))
        groups.setdefault(key, []).append(s["xname"])
    table = _table("power", "management", "count", "xnames", "error")
    for (power, management, error), names in sorted(groups.items(),
                                                    key=lambda item: -len(item[1])):
        table.add_row(_cell(power), _cell(management), _cell(len(names)), _cell(fold(names), ""),
                      _cell(error, "red"))
    return table


def queue_table(queues: list[dict]) -> Table:
    table = _table("xname", "active transition", "operation", "status", "running s",
                   "queued behind it")
    for q in queues:
        active = q.get("active") or {}
        waiting = ", ".join(f"{w['position']}. {w['operation']} {w['transitionID']}"
                            for w in q.get("queued", []))
        running = active.get("runningSeconds")
        table.add_row(_cell(q["xname"]), _cell(active.get("transitionID", "-")),
                      _cell(active.get("operation", "")), _cell(active.get("taskStatus", "")),
                      _cell(f"{running:.1f}" if running is not None else ""),
                      _cell(waiting or "-", ""))
    return table


def locks_table(locks: list[dict]) -> Table:
    table = _table("xname", "reason", "locked by", "since")
    for lock in locks:
        who = lock.get("lockedBy") or {}
        table.add_row(_cell(lock["xname"]), _cell(lock.get("reason", ""), ""),
                      _cell(who.get("address", ""), ""), _cell(lock.get("createdAt", "")))
    return table


def bmcs_table(bmcs: list[dict]) -> Table:
    table = _table("xname", "address", "scheme", "user", "verify TLS", "components")
    for b in bmcs:
        table.add_row(_cell(b["xname"]), _cell(b["address"]), _cell(b["scheme"]),
                      _cell(b["username"]), _cell("yes" if b["verifyTls"] else "no", ""),
                      _cell(fold(b.get("components") or []), ""))
    return table


def components_table(components: list[dict]) -> Table:
    table = _table("xname", "type", "bmc", "power", "management", "last polled", "error")
    for c in components:
        table.add_row(_cell(c["xname"]), _cell(c["type"]), _cell(c["bmc"]),
                      _cell(c.get("powerState", "")), _cell(c.get("managementState", "")),
                      _cell(c.get("lastPolled", "")), _cell(c.get("error", ""), "red"))
    return table
