"""`make bench`, part two: API latency at machine scale, without BMC traffic.

Stores 10,000 components (and 20,000 finished transitions) straight into a fresh database, then
times POST /transitions with every component, GET /transitions/{id} of that 10,000-task
transition, GET /transitions, and /power-status for all components and for one. No worker runs: the tasks stay queued, which is what the API
sees at the moment of the request.
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

# benchlib beside this file, harness one level up (tests/)
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from benchlib import machine, plain_url, report  # noqa: E402
from harness import answers, migrated_database  # noqa: E402


def store_finished_transitions(database: str, count: int) -> None:
    """Bulk-insert finished transitions with one task each, as a long-running site keeps."""
    import psycopg
    with psycopg.connect(plain_url(database)) as conn:
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


def store_components(database: str, count: int) -> list[str]:
    import psycopg
    names = [f"x{1000 + i // 64}c{(i // 8) % 8}s{i % 8}b0n{j}" for i in range(count // 2)
             for j in range(2)]
    with psycopg.connect(plain_url(database)) as conn:
        bmc_id = conn.execute(
            "INSERT INTO bmcs (xname, address, scheme, username, password_encrypted, verify_tls)"
            " VALUES ('x9999c0s0b0', '127.0.0.1:1', 'http', 'root', '\\x00', false)"
            " RETURNING id").fetchone()[0]
        with conn.cursor().copy("COPY components (xname, type, bmc_id, redfish_path, "
                                "reset_target, allowable_values, power_state, "
                                "management_state, status_error) FROM STDIN") as copy:
            for name in names:
                copy.write_row((name, "Node", bmc_id, "/redfish/v1/Systems/Node0",
                                "/redfish/v1/Systems/Node0/Actions/ComputerSystem.Reset",
                                '["On", "ForceOff", "GracefulShutdown"]', "off", "available",
                                ""))
    return names


def _best_of(n: int, request) -> float:
    """Server time of the fastest of n requests (in-process: no network in the figure)."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        assert request().status_code == 200
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--components", type=int, default=10000)
    parser.add_argument("--stored-transitions", type=int, default=20000)
    parser.add_argument("--output", default="bench-api-results.json")
    args = parser.parse_args()
    if not (answers("127.0.0.1", 5432) and answers("127.0.0.1", 6379)):
        print("needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379")
        return 2
    from pcs.api import create_app
    from pcs.config import Settings
    with migrated_database("postgresql://postgres@127.0.0.1:5432/postgres",
                           "pcs_bench_api") as database:
        names = store_components(database, args.components)
        store_finished_transitions(database, args.stored_transitions)
        app = create_app(Settings(database_url=database, broker_url="redis://127.0.0.1:6379/0",
                                  secret_key="bench", max_dispatched=0,
                                  queue_name=f"pcs-bench-api-{uuid.uuid4().hex[:6]}"))
        client = app.test_client()
        client.get("/transitions")   # warm the pools
        started = time.perf_counter()
        response = client.post("/transitions", json={
            "operation": "on", "location": [{"xname": x} for x in names]})
        post_s = time.perf_counter() - started
        tid = response.get_json()["transitionID"]
        started = time.perf_counter()
        detail = client.get(f"/transitions/{tid}").get_json()
        get_s = time.perf_counter() - started
        started = time.perf_counter()
        listed = client.get("/transitions").get_json()["transitions"]
        list_s = time.perf_counter() - started
        status_all_s = _best_of(3, lambda: client.post("/power-status", json={"xname": names}))
        status_one_s = _best_of(5, lambda: client.get(f"/power-status?xname={names[0]}"))
        app.extensions["pcs"].db.dispose()
    results = {"machine": machine(), "locations": len(names),
               "post_transitions_s": round(post_s, 3), "tasks_returned": len(detail["tasks"]),
               "get_transition_s": round(get_s, 3), "stored_transitions": len(listed),
               "get_transitions_list_s": round(list_s, 3),
               "post_power_status_all_ms": round(status_all_s * 1000, 1),
               "get_power_status_one_ms": round(status_one_s * 1000, 1)}
    report(results, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
