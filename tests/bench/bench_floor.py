"""The floor of a benchmark scenario: the same Redfish requests pcs sends, at pcs's cadence and
concurrency, straight from urllib3 to the simulator, with no database, broker or Celery.

For each node: read its power state, send the action, read at once and then at pcs's
adaptive cadence (up to `confirm_interval_s`) until the target state (for a Hard-Restart: GracefulShutdown to Off, then
On). The work is split as pcs splits it: `processes` processes of `threads` threads, a BMC's
nodes in one process, at most `per_bmc` steps of one BMC at once. What this takes is the least
any service on this machine could take for the work; pcs's time is reported as a ratio to it.
"""
from __future__ import annotations

import base64
import json
import multiprocessing
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import urllib3

from pcs.domain.confirmation import until_next_read

# operation -> the (ResetType, state it leads to) sent in turn
ACTIONS = {"On": [("On", "On")],
           "Hard-Restart": [("GracefulShutdown", "Off"), ("On", "On")]}


def run_floor(targets: list[tuple[str, str]], operation: str, processes: int, threads: int,
              per_bmc: int, confirm_interval_s: float, username: str, password: str,
              timeout_s: float = 900.0) -> dict:
    """targets: (BMC base URL, system path) per node. Returns the wall time and request count."""
    by_bmc: dict[str, list[str]] = defaultdict(list)
    for base, path in targets:
        by_bmc[base].append(path)
    shares: list[dict[str, list[str]]] = [{} for _ in range(processes)]
    for i, (base, paths) in enumerate(sorted(by_bmc.items())):
        shares[i % processes][base] = paths
    auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    job = (operation, threads, per_bmc, confirm_interval_s, auth, timeout_s)
    started = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.starmap(_run_share, [(share, *job) for share in shares if share])
    return {"floor_s": round(time.monotonic() - started, 2),
            "requests": sum(r["requests"] for r in results),
            "failed": sum(r["failed"] for r in results)}


def _run_share(share: dict[str, list[str]], operation: str, threads: int, per_bmc: int,
               confirm_interval_s: float, auth: str, timeout_s: float) -> dict:
    http = urllib3.PoolManager(maxsize=per_bmc, headers={"Authorization": auth,
                                                          "Content-Type": "application/json"},
                               timeout=urllib3.Timeout(connect=5, read=40), retries=False)
    limits = {base: threading.Semaphore(per_bmc) for base in share}
    counted = {"requests": 0, "failed": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + timeout_s

    def request(method: str, url: str, body: dict | None = None) -> dict:
        with lock:
            counted["requests"] += 1
        answer = http.request(method, url, body=json.dumps(body) if body else None)
        return answer.json() if answer.data and answer.status < 300 else {}

    def node(base: str, path: str) -> None:
        with limits[base]:                      # pcs's first step: read, act, read at once
            request("GET", base + path)
        for reset_type, target in ACTIONS[operation]:
            first = True
            while time.monotonic() < deadline:
                with limits[base]:
                    if first:
                        request("POST", f"{base}{path}/Actions/ComputerSystem.Reset",
                                {"ResetType": reset_type})
                        first, sent_at = False, time.monotonic()
                    if request("GET", base + path).get("PowerState") == target:
                        break
                # pcs defers the task this long (its adaptive cadence, domain/confirmation.py)
                time.sleep(until_next_read(time.monotonic() - sent_at, confirm_interval_s))
            else:
                with lock:
                    counted["failed"] += 1
                return

    jobs = [(base, path) for base, paths in share.items() for path in paths]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda job: node(*job), jobs))
    http.clear()
    return counted
