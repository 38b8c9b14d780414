"""The floor of a benchmark scenario: the same Redfish requests pcs sends, at pcs's cadence and
concurrency, straight from urllib3 to the simulator, with no database, broker or Celery.

For each node: read its power state, send the action, read at once and then at pcs's
adaptive cadence (up to `confirm_interval_s`) until the target state (for a Hard-Restart:
GracefulShutdown to Off, then On). The work is split as pcs splits it: `processes` processes
of `threads` threads, a BMC's nodes in one process, at most `per_bmc` steps of one BMC at once;
between reads a node waits without a thread, as a deferred task does in pcs. What this takes
is the least any service on this machine could take for the work; pcs's time is reported as a
ratio to it.
"""
from __future__ import annotations

import base64
import heapq
import json
import multiprocessing
import queue
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
    """One process's share. A node waiting for its next read holds no thread, as pcs defers a
    task between steps: a heap of due times feeds at most `threads` steps at once, and new
    nodes (due at once, in order) go before reads, as pcs dispatches ready tasks first."""
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

    def step(node: _Node) -> float | None:
        """One step of a node's work; the monotonic time its next step is due, or None."""
        with limits[node.base]:
            if node.action is None:             # pcs's first step: read, then act
                request("GET", node.base + node.path)
                node.action = 0
            while True:
                reset_type, target = ACTIONS[operation][node.action]
                if node.sent_at is None:
                    request("POST", f"{node.base}{node.path}/Actions/ComputerSystem.Reset",
                            {"ResetType": reset_type})
                    node.sent_at = time.monotonic()
                if request("GET", node.base + node.path).get("PowerState") != target:
                    break
                node.action, node.sent_at = node.action + 1, None
                if node.action == len(ACTIONS[operation]):
                    return None
        now = time.monotonic()
        if now > deadline:
            with lock:
                counted["failed"] += 1
            return None
        # pcs defers the task this long (its adaptive cadence, domain/confirmation.py)
        return now + until_next_read(now - node.sent_at, confirm_interval_s)

    nodes = [_Node(base, path) for base, paths in share.items() for path in paths]
    due = [(0.0, n, node) for n, node in enumerate(nodes)]   # (due time, order, node)
    heapq.heapify(due)
    finished: queue.SimpleQueue = queue.SimpleQueue()
    running = 0

    def run(order: int, node: _Node) -> None:
        try:
            finished.put((order, node, step(node)))
        except Exception:
            with lock:
                counted["failed"] += 1
            finished.put((order, node, None))

    with ThreadPoolExecutor(threads) as pool:
        while due or running:
            now = time.monotonic()
            while due and running < threads and due[0][0] <= now:
                _, order, node = heapq.heappop(due)
                pool.submit(run, order, node)
                running += 1
            wait = None if running >= threads or not due else max(0.0, due[0][0] - now)
            try:
                order, node, next_at = finished.get(timeout=wait)
            except queue.Empty:
                continue
            running -= 1
            if next_at is not None:
                heapq.heappush(due, (next_at, order, node))
    http.clear()
    return counted


class _Node:
    __slots__ = ("base", "path", "action", "sent_at")

    def __init__(self, base: str, path: str):
        self.base, self.path = base, path
        self.action: int | None = None       # index into ACTIONS[operation]; None: not begun
        self.sent_at: float | None = None    # when that action was sent
