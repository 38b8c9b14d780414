"""Plumbing shared by the benchmarks: machine facts, CPU and memory of processes read from /proc,
PostgreSQL activity and write counts, and the table + JSON report."""
from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine() -> dict:
    """What a figure was measured on: cores, memory, Python, date and the load at the time."""
    return {"cores": os.cpu_count(), "memory_gib": round(_meminfo_kib("MemTotal") / 2**20, 1),
            "arch": platform.machine(), "python": platform.python_version(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "load_average": load_average()}


def code_version(root: Path) -> str:
    """The commit measured, and whether the checkout had local changes."""
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "pcs",
                                "workers", "migrations"],
                               capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return commit.stdout.strip() + (" with local changes" if dirty.stdout.strip() else "")


def machine_line(facts: dict) -> str:
    return (f"{facts['cores']} cores, {facts['memory_gib']} GiB, {facts['arch']}, "
            f"Python {facts['python']}, {facts['date']}, load {facts['load_average']}")


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _meminfo_kib(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


# -- processes ----------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process (all its threads); None once it has gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: count fields after it.
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mb(pid: int) -> dict | None:
    """{"rss": now, "peak": VmHWM} in MB (10^6 bytes); None once the process has gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    found = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            kib = int(value.split()[0])
            found["rss" if key == "VmRSS" else "peak"] = round(kib * 1024 / 1e6, 1)
    return found


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class CpuLedger:
    """CPU seconds used by groups of processes between start() and stop().

    Groups may gain processes while running (PostgreSQL backends open as pools grow): a process
    first seen after start() counts from zero, one seen at start() from its reading then. A process
    that exits between samples loses its last slice, so sample often."""

    def __init__(self):
        self._start: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._group: dict[int, str] = {}
        self._started = False

    def track(self, group: str, pids) -> None:
        for pid in pids:
            if pid in self._group:
                continue
            used = cpu_seconds(pid)
            if used is None:
                continue
            self._group[pid] = group
            self._start[pid] = used if not self._started else 0.0
            self._last[pid] = used

    def start(self) -> None:
        for pid in self._group:
            used = cpu_seconds(pid)
            self._start[pid] = self._last[pid] = used if used is not None else 0.0
        self._started = True

    def sample(self) -> None:
        for pid in self._group:
            used = cpu_seconds(pid)
            if used is not None:
                self._last[pid] = used

    def by_group(self) -> dict[str, dict]:
        """{group: {"cpu_s": seconds, "processes": count}}"""
        totals: dict[str, dict] = {}
        for pid, group in self._group.items():
            entry = totals.setdefault(group, {"cpu_s": 0.0, "processes": 0})
            entry["cpu_s"] += max(0.0, self._last[pid] - self._start[pid])
            entry["processes"] += 1
        for entry in totals.values():
            entry["cpu_s"] = round(entry["cpu_s"], 2)
        return totals


# -- PostgreSQL ---------------------------------------------------------------------------------
def plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def postgres_pids(conn, database: str) -> dict[str, list[int]]:
    """Backends of the service in `database` and the server's own background processes (shared
    with every other database on the server)."""
    rows = conn.execute(
        "SELECT pid, datname, backend_type, application_name FROM pg_stat_activity").fetchall()
    service = [pid for pid, db, kind, app in rows
               if db == database and kind == "client backend" and app == "pcs"]
    background = [pid for pid, db, kind, app in rows
                  if kind != "client backend" and (db is None or db == database)]
    return {"postgres": service, "postgres-background": background}


class ActivitySampler:
    """What the service's backends are doing, counted over samples of pg_stat_activity."""

    def __init__(self, database: str):
        self.database = database
        self.samples = 0
        self.active = 0
        self.waits: Counter = Counter()
        self.queries: Counter = Counter()

    def sample(self, conn) -> None:
        rows = conn.execute(
            "SELECT wait_event_type, wait_event, query FROM pg_stat_activity "
            "WHERE datname = %s AND application_name = 'pcs' AND state = 'active'",
            (self.database,)).fetchall()
        self.samples += 1
        self.active += len(rows)
        for wait_type, wait, query in rows:
            self.waits[f"{wait_type}:{wait}" if wait_type else "CPU"] += 1
            self.queries[" ".join(query.split())[:90]] += 1

    def summary(self, top: int = 6) -> dict:
        per = max(1, self.samples)
        return {"samples": self.samples, "active_backends_avg": round(self.active / per, 2),
                "waits": dict(self.waits.most_common(top)),
                "queries": dict(self.queries.most_common(top))}


def table_writes(conn) -> dict[str, dict]:
    """Cumulative inserted/updated/deleted rows per table of the connection's database, and its
    committed and rolled-back transactions (as the table "(transactions)")."""
    rows = conn.execute("SELECT relname, n_tup_ins, n_tup_upd, n_tup_del "
                        "FROM pg_stat_user_tables").fetchall()
    counts = {name: {"ins": ins, "upd": upd, "del": dele} for name, ins, upd, dele in rows}
    commits, rollbacks = conn.execute(
        "SELECT xact_commit, xact_rollback FROM pg_stat_database "
        "WHERE datname = current_database()").fetchone()
    counts["(transactions)"] = {"commit": commits, "rollback": rollbacks}
    return counts


def flush_table_writes(conn, database: str) -> None:
    """Make the service's idle backends report their write counts now, by ending them (a
    backend that exits reports at once; an idle one may hold its counts for up to 10 s). Their
    pools open new connections on the next checkout (pre-ping)."""
    conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                 "AND application_name = 'pcs' AND state = 'idle'", (database,))


def settled_table_writes(conn, quiet_s: float = 0.5, limit_s: float = 12.0) -> dict:
    """table_writes() once it stops moving for quiet_s."""
    deadline = time.monotonic() + limit_s
    last, since = table_writes(conn), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = table_writes(conn)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return last


def writes_delta(before: dict, after: dict) -> dict[str, dict]:
    delta = {}
    for name, counts in after.items():
        base = before.get(name, dict.fromkeys(counts, 0))
        change = {k: counts[k] - base[k] for k in counts}
        if any(change.values()):
            delta[name] = change
    return delta


# -- report -------------------------------------------------------------------------------------
def report(results: dict, output: str) -> None:
    """Print a measure/value table and write the figures as JSON (the benchmarks without
    targets use this; bench_transitions prints its own tables)."""
    from rich.console import Console
    from rich.table import Table
    facts = results["machine"]
    table = Table("measure", "value", title=f"pcs benchmark ({machine_line(facts)})")
    for key, value in results.items():
        if key != "machine":
            table.add_row(key, str(value))
    Console().print(table)
    write_json(results, output)


def write_json(results: dict, output: str) -> None:
    Path(output).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {output}")


# -- profiles -----------------------------------------------------------------------------------
def start_profilers(targets: list[tuple[str, int]], directory: Path) -> list:
    """py-spy (installed in the venv) on each (name, pid), until stop_profilers()."""
    directory.mkdir(parents=True, exist_ok=True)
    py_spy = Path(sys.executable).with_name("py-spy")
    running = []
    for name, pid in targets:
        path = directory / f"{name}.txt"
        process = subprocess.Popen(
            # --gil: samples of the thread holding the GIL, i.e. where Python spends CPU.
            [str(py_spy), "record", "--nonblocking", "--gil", "--format", "raw", "--rate",
             "100", "-o", str(path), "--pid", str(pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        running.append((name, process, path))
    time.sleep(1.0)   # py-spy attaches before the clock starts
    return running


def stop_profilers(profilers: list) -> None:
    for _, process, _ in profilers:
        process.send_signal(signal.SIGINT)   # py-spy writes its output on SIGINT
    for _, process, _ in profilers:
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


def top_frames(raw_profile: Path, top: int = 15) -> dict:
    """Self and inclusive sample shares of a py-spy `--format raw` profile (collapsed stacks),
    by function and by package (pcs, sqlalchemy, requests, celery, stdlib modules ...)."""
    own: Counter = Counter()
    inclusive: Counter = Counter()
    package_own: Counter = Counter()
    package_inclusive: Counter = Counter()
    total = 0
    for line in raw_profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        packages = [_package(f) for f in stack.split(";")]
        own[frames[-1]] += n
        package_own[packages[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
        for package in set(packages):
            package_inclusive[package] += n

    def shares(counts: Counter) -> dict:
        return {k: round(100 * v / max(1, total), 1) for k, v in counts.most_common(top)}
    return {"samples": total, "self_pct": shares(own), "inclusive_pct": shares(inclusive),
            "package_self_pct": shares(package_own),
            "package_inclusive_pct": shares(package_inclusive)}


def _package(frame: str) -> str:
    # py-spy names files from their import root: "sqlalchemy/sql/elements.py", "threading.py".
    path = frame.partition(" (")[2].rstrip(")").rsplit(":", 1)[0]
    top = path.split("/", 1)[0].removesuffix(".py")
    return f"stdlib {top}" if top in sys.stdlib_module_names else top or "?"


def _short(frame: str) -> str:
    # "function (sqlalchemy/sql/elements.py:534)" -> "function (sqlalchemy/sql/elements.py)"
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rstrip(')').rsplit(':', 1)[0]})"
