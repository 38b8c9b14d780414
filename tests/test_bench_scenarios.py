"""The benchmark's scenarios at 200 nodes, through the same code as `make bench`, so that it
never rots. Correctness only: every task succeeds and every figure is reported (no timing
asserts; the figures at this size say nothing)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
import bench_transitions as bench  # noqa: E402

NODES = 200
FIGURES = ("post_transitions_s", "get_transition_s", "time_to_complete_s", "nodes_per_s",
           "task_latency_p50_s", "task_latency_p99_s", "worker_cpu_ms_per_step")


@pytest.mark.parametrize("name", list(bench.SCENARIOS))
def test_scenario_completes_with_every_task_succeeded_and_reports_every_figure(
        name, server_urls, tmp_path):
    admin_url, broker_url = server_urls
    # Eight threads per worker and in the API, as in the other tests: the defaults would hold
    # many connections of a PostgreSQL that other test sessions share.
    results = bench.run_scenario(bench.SCENARIOS[name], NODES, admin_url, broker_url,
                                 timeout_s=120,
                                 overrides={"worker_concurrency": 8, "api_threads": 8})

    nodes = bench.SCENARIOS[name].fixed_nodes or NODES
    assert results["completed"], results["note"]
    assert results["task_counts"]["total"] == nodes
    assert results["task_counts"]["succeeded"] == nodes, results["task_counts"]
    assert results["tasks_returned"] == nodes
    assert isinstance(results["floor_s"], float) and results["floor_s"] > 0
    assert isinstance(results["floor_ratio"], float)
    assert isinstance(results["end_event_s"], float)
    for figure in FIGURES:
        assert isinstance(results[figure], (int, float)), (figure, results[figure])
    workers = results["worker_processes"]
    assert set(results["peak_rss_mb"]) >= {"api-master", "api-worker-1", "beat", "simulator",
                                            *(f"worker-{i}" for i in range(1, workers + 1))}
    assert set(results["cpu_ms_per_node"]) >= {"api", "workers", "beat", "postgres", "simulator",
                                               "service", "all"}
    runs = bench.SCENARIOS[name].repeat   # each run is one more transition on the same stack
    assert results["rows_per_node"]["transition_tasks"] <= runs
    assert results["writes_per_node"]["transition_tasks"]["ins"] <= runs
    if not bench.SCENARIOS[name].fixed_nodes:   # targets are for 10,000 nodes
        assert results["targets"]["post_transitions_s"]["pass"] is None

    # The report a `make bench` run writes holds the machine and this scenario.
    output = tmp_path / "bench-results.json"
    bench.report({"machine": bench.machine(), "scenarios": {name: results}}, str(output))
    written = json.loads(output.read_text())
    assert {"cores", "memory_gib", "python", "date", "load_average"} <= set(written["machine"])
    assert written["scenarios"][name]["time_to_complete_s"] == results["time_to_complete_s"]
