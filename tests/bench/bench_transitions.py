"""`make bench`: whole-machine transitions through the whole stack, against the simulator.

Each scenario gets a fresh database (on the local PostgreSQL), the API under gunicorn over real
HTTP, `celery worker` processes as `pcs up` starts them (PCS_WORKER_PROCESSES, default one per
core, PCS_WORKER_CONCURRENCY threads each, task events on) and a simulator with four nodes per BMC
(eight in the 40-node scenario). Beside each scenario it measures the floor (bench_floor.py: the
same Redfish requests from urllib3, no database, no Celery) and reports pcs's time as a ratio.
It times POST /transitions to `completed`, task latencies, GET /transitions/{id}, and records
peak RSS and CPU seconds of every process (api, workers, PostgreSQL backends, Redis, simulator)
and the rows written per node. Prints tables and writes bench-results.json; figures are checked
against the targets when run at 10,000 nodes. tests/test_bench_scenarios.py runs the
same code at 200 nodes.

    python tests/bench/bench_transitions.py [--nodes 10000] [--scenario on-instant ...]
                                      [--timeout 900] [--profile DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import requests

# benchlib beside this file, harness one level up (tests/)
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from benchlib import (ActivitySampler, CpuLedger, children, code_version,  # noqa: E402
                      flush_table_writes, load_average, machine, machine_line, memory_mb,
                      percentile, plain_url, postgres_pids, settled_table_writes,
                      start_profilers, stop_profilers, table_writes, top_frames, write_json,
                      writes_delta)
from harness import (ROOT, ApiServer, LoggedProcess, Simulator, Worker, answers,  # noqa: E402
                     migrated_database)

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
# Each BMC has a port of its own in one block below the ephemeral range. On a shared host other
# servers may leave no free block that large: then more nodes share a BMC (the run says so).
FALLBACK_NODES_PER_BMC = (4, 8)
PORT_BLOCK_ATTEMPTS = 5
POLL_S = 0.5
TARGET_NODES = 10000     # the targets are stated for this size
TABLES = ("transitions", "transition_tasks", "bmc_exchanges", "events", "components")


@dataclass(frozen=True)
class Scenario:
    name: str
    operation: str
    power_delay_s: float
    nodes_start_on: bool
    target_complete_s: float | None   # the target at 10,000 nodes (or at fixed_nodes)
    nodes_per_bmc: int = 4            # 2,500 BMCs for 10,000 nodes, as the targets state
    fixed_nodes: int | None = None    # a small transition: this many nodes whatever --nodes
    repeat: int = 1                   # runs of which the median counts
    target_floor_ratio: float | None = None


SCENARIOS = {s.name: s for s in (
    Scenario("on-instant", "On", 0.0, False, 30.0, target_floor_ratio=1.5),
    Scenario("on-5s", "On", 5.0, False, 40.0),
    Scenario("hard-restart-2s", "Hard-Restart", 2.0, True, 60.0),
    # An operator powering a few nodes: 40 nodes behind 5 BMCs, BMCs taking 1 s; timed from
    # the POST to the event stream's `end`, median of 3.
    Scenario("on-40-1s", "On", 1.0, False, 1.3, nodes_per_bmc=8, fixed_nodes=40, repeat=3),
)}
POST_TARGET_S, GET_TARGET_S, RSS_TARGET_MB, CPU_TARGET_MS = 1.0, 1.0, 600.0, 5.0


def start_beat(env: dict, scratch: Path) -> LoggedProcess:
    """`celery beat` as `pcs up` runs it: its reaper takes back a step whose worker lost it
    (a database that refused a connection, say), so such a run still completes."""
    return LoggedProcess([sys.executable, "-m", "celery", "-A", "workers.celery_app", "beat",
                          "--loglevel", "WARNING", "--schedule",
                          str(scratch / "celerybeat-schedule")], scratch / "beat.log", env)


@dataclass
class Stack:
    """The service's processes for one scenario, and where they log."""
    settings: object
    sim: Simulator
    api: ApiServer
    workers: list[Worker]
    beat: LoggedProcess
    scratch: Path

    def service_pids(self) -> dict[str, list[int]]:
        pids = {"api": [self.api.process.pid, *children(self.api.process.pid)]}
        for i, worker in enumerate(self.workers, 1):
            pids[f"worker-{i}"] = [worker.process.pid]
        pids["beat"] = [self.beat.process.pid]
        pids["simulator"] = [self.sim.process.pid]
        return pids

    def stop_service(self) -> None:
        """Stop the API, the workers and beat together (each waits for its process to exit)."""
        parts = [self.api, *self.workers, self.beat]
        with ThreadPoolExecutor(len(parts)) as pool:
            for stopped in [pool.submit(part.stop) for part in parts]:
                stopped.result()

    def stop(self) -> None:
        self.stop_service()
        self.sim.stop()


def run_scenario(scenario: Scenario, nodes: int, admin_url: str = DEFAULT_ADMIN_URL,
                 broker_url: str = DEFAULT_BROKER, timeout_s: float = 1800.0,
                 profile_dir: Path | None = None, overrides: dict | None = None) -> dict:
    """Run one scenario on a stack of its own; returns its figures (never raises on a slow
    run: a transition not completed within timeout_s is aborted and reported as such).
    `overrides` are Settings fields that win over the caller's PCS_* variables."""
    nodes = scenario.fixed_nodes or nodes
    scratch = Path(tempfile.mkdtemp(prefix=f"pcs-bench-{scenario.name}-"))
    scratch.chmod(0o711)
    with migrated_database(admin_url, "pcs_bench") as database:
        stack = start_stack(scenario, nodes, database, broker_url, scratch, overrides or {})
        try:
            xnames = register_fleet(stack, nodes)
            runs = []
            for _ in range(scenario.repeat):
                set_start_state(stack.sim, xnames, "On" if scenario.nodes_start_on else "Off")
                runs.append(measure(scenario, stack, database, xnames, timeout_s, profile_dir))
            results = median_run(runs)
        except BaseException:
            print(f"logs kept in {scratch}", file=sys.stderr)
            stack.stop()
            raise
        stack.stop_service()   # closing their connections makes PostgreSQL count their writes
        with psycopg.connect(plain_url(database), application_name="pcs-bench") as conn:
            results["writes_per_node"] = per_node(
                writes_delta(results.pop("_writes_before"), table_writes(conn)), nodes)
        stack.sim.stop()
    results.update(floor_of(scenario, nodes, stack.settings, timeout_s))
    took = results["end_event_s" if scenario.fixed_nodes else "time_to_complete_s"]
    results["floor_ratio"] = round(took / results["floor_s"], 2) if took and results[
        "floor_s"] else None
    results["targets"] = check_targets(scenario, results)
    if results["completed"] and not results["failures"]:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        results["logs"] = str(scratch)
    return results


def start_stack(scenario: Scenario, nodes: int, database: str, broker_url: str,
                scratch: Path, overrides: dict) -> Stack:
    from pcs.config import Settings
    # PCS_* variables of the caller apply (as with `pcs up`); the bench sets where things are.
    # Beat's power-status sweep of every BMC has its own benchmark (bench_sweep.py); here it
    # would blur the transition's figures, so it waits an hour unless the caller sets it.
    quiet = ({} if "PCS_POWER_SAMPLE_INTERVAL" in os.environ
             else {"power_sample_interval_s": 3600.0})
    settings = Settings.from_env(
        **{**quiet, **overrides}, database_url=database, broker_url=broker_url,
        secret_key="bench-key", state_dir=str(scratch / "state"),
        queue_name=f"pcs-bench-{uuid.uuid4().hex[:6]}")
    sim = start_simulator(nodes, scenario.power_delay_s, scenario.nodes_per_bmc)
    env = settings.as_env()
    processes = settings.worker_processes or (os.cpu_count() or 1)
    futures = []
    try:
        with ThreadPoolExecutor(processes + 1) as pool:   # each waits for its process to be ready
            futures.append(pool.submit(ApiServer, env, scratch / "api.log", settings.api_threads))
            futures += [pool.submit(Worker, env, scratch / f"worker-{i}.log",
                                    settings.worker_concurrency, f"bench{i}", True)
                        for i in range(1, processes + 1)]
        api, *workers = [f.result() for f in futures]
        beat = start_beat(env, scratch)
    except BaseException:
        sim.stop()
        for future in futures:
            if future.done() and not future.cancelled() and future.exception() is None:
                future.result().stop()
        raise
    return Stack(settings, sim, api, workers, beat, scratch)


def start_simulator(nodes: int, power_delay_s: float, nodes_per_bmc: int) -> Simulator:
    """That many nodes per BMC when a block of ports that large is free, else more per BMC."""
    for per_bmc in (nodes_per_bmc, *(n for n in FALLBACK_NODES_PER_BMC if n > nodes_per_bmc)):
        for attempt in range(PORT_BLOCK_ATTEMPTS):
            try:
                return Simulator(bmcs=-(-nodes // per_bmc), nodes_per_bmc=per_bmc,
                                 power_delay_s=power_delay_s)
            except RuntimeError as exc:
                if "no free block of ports" not in str(exc):
                    raise
                time.sleep(2.0)   # other tests' servers come and go
    raise RuntimeError(f"no free block of ports for {nodes} nodes, even at "
                       f"{FALLBACK_NODES_PER_BMC[-1]} nodes per BMC")


def register_fleet(stack: Stack, nodes: int) -> list[str]:
    """POST every simulated BMC to the API (discovery included); returns the node xnames."""
    local = threading.local()

    def register(i: int) -> str:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        body = stack.sim.bmc_body(i)
        r = local.session.post(f"{stack.api.url}/v1/inventory/bmcs", json=body, timeout=60)
        assert r.status_code == 201, r.text
        return body["xname"]

    with ThreadPoolExecutor(stack.settings.api_threads) as pool:
        bmcs = list(pool.map(register, range(stack.sim.bmcs)))
    per_bmc = stack.sim.nodes_per_bmc
    return [f"{bmc}n{n}" for bmc in bmcs for n in range(per_bmc)][:nodes]


def set_start_state(sim: Simulator, xnames: list[str], state: str) -> None:
    """Every node in this state (the admin endpoint sets it at once, without the delay)."""
    def set_state(xname: str) -> None:
        bmc, node = xname.rsplit("n", 1)
        sim.set_power(bmc, f"Node{node}", state)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(set_state, xnames))


def median_run(runs: list[dict]) -> dict:
    """The run whose time to complete is the median (the only run, when there is one); the
    times of every run are kept beside it."""
    if len(runs) == 1:
        return runs[0]
    ordered = sorted(runs, key=lambda r: r["time_to_complete_s"] or float("inf"))
    chosen = dict(ordered[len(ordered) // 2])
    chosen["runs_s"] = [r["time_to_complete_s"] for r in runs]
    return chosen


def floor_of(scenario: Scenario, nodes: int, settings, timeout_s: float) -> dict:
    """The same Redfish work sent straight to a simulator like pcs's (bench_floor.py), with
    pcs's processes, threads, per-BMC limit and cadence; median of the scenario's runs."""
    from bench_floor import run_floor
    processes = settings.worker_processes or (os.cpu_count() or 1)
    times = []
    for _ in range(scenario.repeat):
        sim = start_simulator(nodes, scenario.power_delay_s, scenario.nodes_per_bmc)
        try:
            xnames = [f"{bmc}n{n}" for bmc in (sim.bmc_body(i)["xname"] for i in range(sim.bmcs))
                      for n in range(sim.nodes_per_bmc)][:nodes]
            set_start_state(sim, xnames, "On" if scenario.nodes_start_on else "Off")
            targets = [(f"http://{sim.address(i)}", f"/redfish/v1/Systems/Node{n}")
                       for i in range(sim.bmcs) for n in range(sim.nodes_per_bmc)][:nodes]
            times.append(run_floor(targets, scenario.operation, processes,
                                   settings.worker_concurrency, settings.bmc_max_inflight,
                                   settings.confirm_interval_s, "root", sim.password,
                                   timeout_s)["floor_s"])
        finally:
            sim.stop()
    return {"floor_s": statistics.median(times), "floor_runs_s": times}


def measure(scenario: Scenario, stack: Stack, database: str, xnames: list[str],
            timeout_s: float, profile_dir: Path | None) -> dict:
    dbname = database.rsplit("/", 1)[1]
    conn = psycopg.connect(plain_url(database), application_name="pcs-bench", autocommit=True)
    session = requests.Session()
    ledger, activity = CpuLedger(), ActivitySampler(dbname)
    flush_table_writes(conn, dbname)   # so that registration's writes stay out of the delta
    writes_before = settled_table_writes(conn)
    for group, pids in {**stack.service_pids(), **postgres_pids(conn, dbname),
                        **broker_pids(stack.settings.broker_url)}.items():
        ledger.track(group, pids)
    ledger.track("bench", [os.getpid()])
    profilers = start_profilers(profiled(stack), profile_dir) if profile_dir else []
    load_start = load_average()
    ledger.start()

    posted_at = datetime.now(timezone.utc)
    started = time.monotonic()
    r = session.post(f"{stack.api.url}/transitions", timeout=120, json={
        "operation": scenario.operation, "location": [{"xname": x} for x in xnames]})
    post_s = time.monotonic() - started
    assert r.status_code == 200, r.text
    tid = r.json()["transitionID"]
    ended_by_stream = EndWatcher(f"{stack.api.url}/v1/transitions/{tid}/events", started,
                                 timeout_s)

    summary, completed, poll_errors = None, False, []
    while time.monotonic() - started < timeout_s:
        time.sleep(POLL_S)
        activity.sample(conn)
        ledger.track("postgres", postgres_pids(conn, dbname)["postgres"])
        ledger.sample()
        # The summary list (one transition in this database), not the 10,000-task body. An
        # error answer (a shared PostgreSQL out of connections, say) is counted; polling goes on.
        listed = session.get(f"{stack.api.url}/transitions", timeout=60)
        if listed.status_code != 200:
            poll_errors.append(f"{listed.status_code} {listed.text[:160]}")
            continue
        summary = next(t for t in listed.json()["transitions"] if t["transitionID"] == tid)
        if summary["transitionStatus"] in ("completed", "aborted"):
            completed = summary["transitionStatus"] == "completed"
            break
    observed_s = time.monotonic() - started
    ledger.sample()
    load_end = load_average()
    stop_profilers(profilers)
    if not completed:
        session.delete(f"{stack.api.url}/transitions/{tid}", timeout=60)

    get_times, detail = [], {"taskCounts": (summary or {}).get("taskCounts"), "tasks": []}
    for _ in range(3):
        t0 = time.monotonic()
        answer = session.get(f"{stack.api.url}/transitions/{tid}", timeout=120)
        if answer.status_code != 200:
            poll_errors.append(f"{answer.status_code} {answer.text[:160]}")
            continue
        get_times.append(time.monotonic() - t0)
        detail = answer.json()

    nodes = len(xnames)
    timing = task_timing(conn, tid)
    finished_at = conn.execute("SELECT finished_at FROM transitions WHERE id = %s",
                               (tid,)).fetchone()[0]
    complete_s = (finished_at - posted_at).total_seconds() if completed and finished_at else None
    cpu = ledger.by_group()
    results = {
        "scenario": scenario.name, "operation": scenario.operation, "nodes": nodes,
        "bmcs": stack.sim.bmcs, "nodes_per_bmc": stack.sim.nodes_per_bmc,
        "power_delay_s": scenario.power_delay_s,
        "nodes_start_on": scenario.nodes_start_on,
        "worker_processes": len(stack.workers),
        "worker_threads": stack.settings.worker_concurrency, "task_events": True,
        "api_threads": stack.settings.api_threads,
        "confirm_interval_s": stack.settings.confirm_interval_s,
        "max_dispatched": stack.settings.max_dispatched, "beat": True,
        "power_sample_interval_s": stack.settings.power_sample_interval_s,
        "load_average_start": load_start, "load_average_end": load_end,
        "completed": completed,
        "note": "" if completed else (f"not completed within {timeout_s:g} s "
                                      f"({summary and summary['transitionStatus']}); aborted"),
        "task_counts": detail["taskCounts"],
        "failures": failures(conn, tid),
        "api_errors": {"count": len(poll_errors), "first": poll_errors[:1]},
        "tasks_returned": len(detail["tasks"]),
        "post_transitions_s": round(post_s, 3),
        "get_transition_s": round(statistics.median(get_times), 3) if get_times else None,
        "time_to_complete_s": round(complete_s, 2) if complete_s is not None else None,
        "observed_by_poll_s": round(observed_s, 2),
        "end_event_s": ended_by_stream.seconds(),
        "nodes_per_s": round(nodes / complete_s, 1) if complete_s else None,
        **timing,
        "peak_rss_mb": peak_rss(stack),
        "cpu_s": {group: v["cpu_s"] for group, v in sorted(cpu.items())},
        "processes": {group: v["processes"] for group, v in sorted(cpu.items())},
        "cpu_ms_per_node": cpu_per_node(cpu, nodes),
        "rows_per_node": rows_per_node(conn, nodes),
        "postgres_activity": activity.summary(),
        "_writes_before": writes_before,
    }
    steps = timing["steps"]
    worker_cpu = sum(v["cpu_s"] for g, v in cpu.items() if g.startswith("worker-"))
    results["worker_cpu_ms_per_step"] = round(1000 * worker_cpu / steps, 2) if steps else None
    if profilers:
        results["profile"] = {name: top_frames(path) for name, _, path in profilers
                              if path.exists()}
    conn.close()
    results["targets"] = check_targets(scenario, results)
    return results


class EndWatcher(threading.Thread):
    """Reads the transition's event stream from just after the POST until its `end` event; the
    time from before the POST to that event is what an operator waiting on the CLI sees."""

    def __init__(self, url: str, started: float, timeout_s: float):
        super().__init__(daemon=True)
        self.url, self.started, self.timeout_s = url, started, timeout_s
        self.ended_at: float | None = None
        self.start()

    def run(self) -> None:
        try:
            with requests.get(self.url, stream=True, timeout=(5, self.timeout_s)) as stream:
                for line in stream.iter_lines(decode_unicode=True):
                    if line == "event: end":
                        self.ended_at = time.monotonic()
                        return
        except requests.RequestException:
            return

    def seconds(self) -> float | None:
        self.join(timeout=30)
        return round(self.ended_at - self.started, 3) if self.ended_at else None


def broker_pids(broker_url: str) -> dict[str, list[int]]:
    """The Redis server's pid when it runs on this host (its INFO names it)."""
    import redis
    host = redis.Redis.from_url(broker_url).connection_pool.connection_kwargs.get("host")
    if host not in ("127.0.0.1", "localhost"):
        return {}
    pid = redis.Redis.from_url(broker_url).info("server")["process_id"]
    return {"redis": [pid]} if Path(f"/proc/{pid}").exists() else {}


def profiled(stack: Stack) -> list[tuple[str, int]]:
    """The processes worth a py-spy profile: each worker and the API's gunicorn worker."""
    targets = [(f"worker-{i}", w.process.pid) for i, w in enumerate(stack.workers, 1)]
    return targets + [("api", pid) for pid in children(stack.api.process.pid)[:1]]


def failures(conn, transition_id: str, shown: int = 5) -> list[str]:
    """A few tasks that did not succeed, with what they said."""
    rows = conn.execute(
        "SELECT xname, state, description, error FROM transition_tasks WHERE transition_id = %s "
        "AND state <> 'succeeded' ORDER BY xname LIMIT %s", (transition_id, shown)).fetchall()
    return [f"{x}: {state}, {description}; {error}" for x, state, description, error in rows]


def task_timing(conn, transition_id: str) -> dict:
    rows = conn.execute(
        "SELECT extract(epoch FROM finished_at - enqueued_at), attempt FROM transition_tasks "
        "WHERE transition_id = %s", (transition_id,)).fetchall()
    latencies = sorted(float(r[0]) for r in rows if r[0] is not None)
    figures = {"steps": sum(r[1] for r in rows)}   # claims: one per task step that ran
    if latencies:
        figures.update(task_latency_p50_s=round(statistics.median(latencies), 2),
                       task_latency_p99_s=round(percentile(latencies, 99), 2))
    else:
        figures.update(task_latency_p50_s=None, task_latency_p99_s=None)
    return figures


def peak_rss(stack: Stack) -> dict[str, float]:
    """Peak resident memory (VmHWM) of each service process, and of the simulator."""
    peaks = {}
    master = stack.api.process.pid
    for label, pid in [("api-master", master)] + [
            (f"api-worker-{i}", pid) for i, pid in enumerate(children(master), 1)] + [
            (f"worker-{i}", w.process.pid) for i, w in enumerate(stack.workers, 1)] + [
            ("beat", stack.beat.process.pid), ("simulator", stack.sim.process.pid)]:
        memory = memory_mb(pid)
        if memory:
            peaks[label] = memory["peak"]
    return peaks


def cpu_per_node(cpu: dict, nodes: int) -> dict[str, float]:
    """CPU milliseconds per node by component; `service` sums what a site runs (api, workers,
    PostgreSQL, Redis), `all` adds the simulated BMCs and the bench's own polling."""
    rollup: dict[str, float] = {}
    for group, v in cpu.items():
        component = "workers" if group.startswith("worker-") else group
        rollup[component] = rollup.get(component, 0.0) + v["cpu_s"]
    per = {k: round(1000 * v / nodes, 2) for k, v in sorted(rollup.items())}
    service = [k for k in rollup if k not in ("simulator", "bench")]   # beat is a service
    per["service"] = round(sum(1000 * rollup[k] / nodes for k in service), 2)
    per["all"] = round(sum(1000 * v / nodes for v in rollup.values()), 2)
    return per


def rows_per_node(conn, nodes: int) -> dict[str, float]:
    return {table: round(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] / nodes, 2)
            for table in TABLES}


def per_node(delta: dict[str, dict], nodes: int) -> dict[str, dict]:
    return {table: {k: round(v / nodes, 2) for k, v in counts.items()}
            for table, counts in sorted(delta.items())}


def check_targets(scenario: Scenario, r: dict) -> dict[str, dict]:
    """The targets, each with the measured value and pass/fail (None: not applicable at
    this size; the targets are stated for 10,000 nodes)."""
    at_scale = r["nodes"] >= TARGET_NODES
    rows = {}

    def check(figure: str, value, limit: float, unit: str) -> None:
        ok = None if not at_scale else (value is not None and value <= limit)
        rows[figure] = {"target": f"<= {limit:g} {unit}", "value": value, "pass": ok}

    if scenario.fixed_nodes:   # a small transition: its own size is the size of the target
        at_scale = True
    if scenario.target_complete_s is not None:
        figure = "end_event_s" if scenario.fixed_nodes else "time_to_complete_s"
        check(figure, r[figure], scenario.target_complete_s, "s")
    check("post_transitions_s", r["post_transitions_s"], POST_TARGET_S, "s")
    check("get_transition_s", r["get_transition_s"], GET_TARGET_S, "s")
    if scenario.target_floor_ratio is not None and r.get("floor_ratio") is not None:
        check("floor_ratio", r["floor_ratio"], scenario.target_floor_ratio, "x the floor")
    if scenario.fixed_nodes:
        return rows
    service_peaks = [v for k, v in r["peak_rss_mb"].items() if k != "simulator"]
    check("max_service_rss_mb", max(service_peaks), RSS_TARGET_MB, "MB")
    if scenario.name == "on-instant":
        check("service_cpu_ms_per_node", r["cpu_ms_per_node"]["service"], CPU_TARGET_MS, "ms")
    return rows


# -- report -------------------------------------------------------------------------------------
def report(results: dict, output: str) -> None:
    """Print a table per scenario and write everything as JSON."""
    print_tables(results)
    write_json(results, output)


def print_tables(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table
    console = Console()
    console.print(f"pcs transition benchmark on {machine_line(report['machine'])}; "
                  f"code {report.get('code', 'unknown')}")
    for name, r in report["scenarios"].items():
        table = Table("measure", "value", "target", "result",
                      title=f"{name}: {r['operation']} of {r['nodes']} nodes, {r['bmcs']} BMCs "
                            f"({r['nodes_per_bmc']} nodes each), {r['power_delay_s']:g} s delay "
                            f"({r['worker_processes']} workers x {r['worker_threads']} threads; "
                            f"load {r['load_average_start']} -> {r['load_average_end']})")
        targets = r["targets"]
        shown = ["completed", "note", "task_counts", "failures", "post_transitions_s",
                 "get_transition_s", "time_to_complete_s", "nodes_per_s", "task_latency_p50_s",
                 "task_latency_p99_s", "end_event_s", "runs_s", "floor_s", "floor_ratio",
                 "steps", "worker_cpu_ms_per_step", "peak_rss_mb",
                 "cpu_s", "cpu_ms_per_node", "rows_per_node", "writes_per_node"]
        for key in shown:
            if key in ("note", "failures") and not r[key]:
                continue
            target = targets.get(key)
            table.add_row(key, _cell(r.get(key)), target["target"] if target else "",
                          _verdict(target))
        for key, target in targets.items():
            if key not in shown:
                table.add_row(key, _cell(target["value"]), target["target"], _verdict(target))
        console.print(table)


def _cell(value) -> str:
    if isinstance(value, dict):
        return "\n".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return str(value)


def _verdict(target: dict | None) -> str:
    if target is None:
        return ""
    return {True: "pass", False: "FAIL", None: "n/a"}[target["pass"]]


def _interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=TARGET_NODES)
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS),
                        help="run only these (repeatable); default: all")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds a scenario's transition may take before it is aborted")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record py-spy profiles of the workers and the API here")
    parser.add_argument("--output", default="bench-results.json")
    args = parser.parse_args()
    # Started in the background, a process ignores SIGINT; both signals must still stop the
    # stack this run started (the finally clauses), not orphan it.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    if not (answers("127.0.0.1", 5432) and answers("127.0.0.1", 6379)):
        print("needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379")
        return 2
    results = {"machine": machine(), "code": code_version(ROOT), "scenarios": {}}
    for name in args.scenario or list(SCENARIOS):
        print(f"running {name} with {args.nodes} nodes ...", flush=True)
        profile = args.profile / name if args.profile else None
        results["scenarios"][name] = run_scenario(SCENARIOS[name], args.nodes,
                                                  timeout_s=args.timeout, profile_dir=profile)
    report(results, args.output)
    return 0 if all(r["completed"] for r in results["scenarios"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
