"""`make bench`: an N-node On transition through the whole stack against the simulator.

Starts its own database (on the local PostgreSQL, else embedded), uses the local Redis (else
embedded Valkey), `celery worker` processes (one per core), the API under gunicorn and a
simulator with two nodes per BMC. Prints time from POST to completed, nodes/s and task latency
percentiles, and writes them to bench-results.json. Not a pass/fail test.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (ROOT, Simulator, Worker, admin_execute, answers,  # noqa: E402
                     free_port_block, wait_for, with_database)


def machine() -> str:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem_gib:.0f} GiB, {platform.machine()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--power-delay", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=16, help="threads per worker")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes (one per core by default)")
    parser.add_argument("--events", action="store_true", help="worker sends task events (-E)")
    parser.add_argument("--stored-transitions", type=int, default=20000,
                        help="finished transitions stored before timing GET /transitions")
    parser.add_argument("--output", default="bench-results.json")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="pcs-bench-"))
    scratch.chmod(0o711)
    servers = []
    if answers("127.0.0.1", 5432):
        admin_url = "postgresql://postgres@127.0.0.1:5432/postgres"
    else:
        from pcs.embedded import start_postgres
        servers.append(start_postgres(scratch / "embedded", free_port_block(1)))
        admin_url = servers[-1].url
    if answers("127.0.0.1", 6379):
        broker = "redis://127.0.0.1:6379/0"
    else:
        from pcs.embedded import start_valkey
        servers.append(start_valkey(scratch / "embedded", free_port_block(1)))
        broker = servers[-1].url
    name = f"pcs_bench_{uuid.uuid4().hex[:8]}"
    admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    database = with_database(admin_url, name)
    from pcs.migrate import upgrade
    upgrade(database)

    api_port = free_port_block(1)
    env = {"PCS_DATABASE_URL": database, "PCS_BROKER_URL": broker,
           "PCS_SECRET_KEY": "bench-key", "PCS_QUEUE_NAME": f"pcs-bench-{uuid.uuid4().hex[:6]}",
           "PCS_STATE_DIR": str(scratch / "state"), "PCS_API_PORT": str(api_port),
           "PCS_WORKER_CONCURRENCY": str(args.concurrency), "PCS_CONFIRM_INTERVAL_S": "0.5",
           "PCS_LOG_LEVEL": "WARNING"}
    bmcs = (args.nodes + 1) // 2
    sim = Simulator(bmcs=bmcs, nodes_per_bmc=2, power_delay_s=args.power_delay)
    workers = [Worker(env, scratch / f"worker{i}.log", concurrency=args.concurrency,
                      name=f"bench{i}", events=args.events) for i in range(args.workers)]
    api_log = open(scratch / "api.log", "wb")
    api = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{api_port}",
                            "--worker-class", "gthread", "--threads", "8",
                            "pcs.api:create_app()"], env={**os.environ, **env}, cwd=ROOT,
                           stdout=api_log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{api_port}"
    try:
        wait_for(lambda: answers("127.0.0.1", api_port), timeout=30, what="the API")
        session = requests.Session()
        for i in range(bmcs):
            r = session.post(f"{url}/v1/inventory/bmcs", json=sim.bmc_body(i), timeout=30)
            assert r.status_code == 201, r.text
        xnames = [f"{b['xname']}n{n}" for b in map(sim.bmc_body, range(bmcs))
                  for n in range(2)][:args.nodes]

        started = time.monotonic()
        r = session.post(f"{url}/transitions", json={
            "operation": "on", "location": [{"xname": x} for x in xnames]}, timeout=120)
        post_s = time.monotonic() - started
        tid = r.json()["transitionID"]

        def done():
            # The summary list, not the 1,000-task body: the poll must not load the API.
            listed = session.get(f"{url}/transitions", timeout=60).json()["transitions"]
            body = next(t for t in listed if t["transitionID"] == tid)
            return body if body["transitionStatus"] == "completed" else None
        body = wait_for(done, timeout=3600, interval=0.5, what="the transition")
        total_s = time.monotonic() - started
        get_started = time.monotonic()
        session.get(f"{url}/transitions/{tid}", timeout=60)
        get_s = time.monotonic() - get_started
        latencies = task_latencies(database, tid)
        store_finished_transitions(database, args.stored_transitions)
        list_started = time.monotonic()
        listed = session.get(f"{url}/transitions", timeout=120).json()["transitions"]
        list_s = time.monotonic() - list_started
        results = {
            "machine": machine(), "nodes": args.nodes, "bmcs": bmcs,
            "power_delay_s": args.power_delay, "worker_processes": args.workers, "worker_threads": args.concurrency,
            "task_events": args.events,
            "succeeded": body["taskCounts"]["succeeded"], "failed": body["taskCounts"]["failed"],
            "post_transitions_s": round(post_s, 3), "get_transition_s": round(get_s, 3),
            "time_to_complete_s": round(total_s, 2),
            "get_transitions_list_s": round(list_s, 3), "transitions_listed": len(listed),
            "nodes_per_s": round(args.nodes / total_s, 1),
            "task_latency_p50_s": round(statistics.median(latencies), 2),
            "task_latency_p99_s": round(percentile(latencies, 99), 2),
        }
    finally:
        api.terminate()
        for worker in workers:
            worker.stop()
        sim.stop()
        api.wait(20)
        admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for server in servers:
            server.stop()
    report(results, args.output)
    return 0


def task_latencies(database: str, transition_id: str) -> list[float]:
    import psycopg
    with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://")) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM finished_at - enqueued_at) FROM transition_tasks "
            "WHERE transition_id = %s", (transition_id,)).fetchall()
    return sorted(float(r[0]) for r in rows)


def store_finished_transitions(database: str, count: int) -> None:
    """Bulk-insert finished transitions with one task each, as a long-running site keeps."""
    import psycopg
    with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("""
            WITH t AS (
              INSERT INTO transitions (id, operation, task_deadline_minutes, status, created_at,
                                       expires_at, finished_at, requested_by, multi_tier)
              SELECT gen_random_uuid(), 'On', 5, 'completed', now() - interval '1 hour',
                     now() + interval '23 hours', now(), '{}', false
              FROM generate_series(1, %s)
              RETURNING id)
            INSERT INTO transition_tasks (transition_id, xname, state, description, error, plan,
                                          phase, attempt, resends)
            SELECT id, 'x9000c0s0b0n0', 'succeeded', 'Transition confirmed, on', '', '[]',
                   'confirm', 1, 0 FROM t""", (count,))


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


def report(results: dict, output: str) -> None:
    """Print the table and write the figures as JSON."""
    print_table(results)
    Path(output).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {output}")


def print_table(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table
    table = Table("measure", "value", title=f"pcs benchmark ({results['machine']})")
    for key, value in results.items():
        if key != "machine":
            table.add_row(key, str(value))
    Console().print(table)


if __name__ == "__main__":
    sys.exit(main())
