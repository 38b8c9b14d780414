"""Prometheus metrics, defined once, updated where things happen.

Where the values live: with PCS_METRICS_DIR (or prometheus_client's own PROMETHEUS_MULTIPROC_DIR)
set, every process of a host writes its values to files in that directory and the API's /metrics
adds them up (prometheus_client's multiprocess mode), so one scrape covers the API and every
worker, and a restarted worker's counters are not lost. Unset, each process keeps its values in
memory and the API's /metrics shows the API's alone.

prometheus_client decides where a value lives when the value is created, before any settings
object exists in most processes: hence the environment is read here, at import.

Counts of things that a transaction decides (a task finished, a transition created) are taken
after that transaction commits (`after_commit`), so a rolled-back step is never counted.
"""
from __future__ import annotations

import os
import socket

from prometheus_client import Counter, Gauge, Histogram, values
from sqlalchemy import event
from sqlalchemy.orm import Session

DIRECTORY = os.environ.get("PCS_METRICS_DIR") or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_HOST = socket.gethostname()


def process_id() -> str:
    """The name of this process's files: host and pid, since containers that share the
    directory each have their own pid 1."""
    return f"{_HOST}-{os.getpid()}"


if DIRECTORY:
    os.makedirs(DIRECTORY, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = DIRECTORY   # where the collector reads them
    values.ValueClass = values.MultiProcessValue(process_identifier=process_id)

# Seconds; a step's BMC exchange is milliseconds when healthy and up to the timeouts when not.
BMC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# A task lasts from a second (an instant BMC) to its deadline (minutes), or waits in a queue.
TASK_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 7200)
SWEEP_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
API_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

TRANSITIONS_CREATED = Counter(
    "pcs_transitions_created_total", "Transitions stored, by operation", ["operation"])
TRANSITIONS_FINISHED = Counter(
    "pcs_transitions_finished_total", "Transitions that ended, by operation and final status "
    "(completed or aborted)", ["operation", "status"])
TASKS_FINISHED = Counter(
    "pcs_tasks_finished_total", "Tasks that ended, by operation and outcome (succeeded, failed, "
    "unsupported, aborted)", ["operation", "outcome"])
TASK_DURATION = Histogram(
    "pcs_task_duration_seconds", "Time from a task's submission (queued) to its end, for tasks "
    "that ran", ["operation"], buckets=TASK_BUCKETS)
BMC_REQUESTS = Counter(
    "pcs_bmc_requests_total", "HTTP requests to BMCs, by method and status class (2xx, 4xx, ... "
    "or none when no answer came)", ["method", "status_class"])
BMC_REQUEST_DURATION = Histogram(
    "pcs_bmc_request_duration_seconds", "Time from sending a request to a BMC to its answer or "
    "failure", ["method"], buckets=BMC_BUCKETS)
BMC_ERRORS = Counter(
    "pcs_bmc_errors_total", "BMC requests that failed, by error (timeout, refused, closed, "
    "connection, tls, http) and HTTP status (http only)", ["error", "status"])
SWEEP_DURATION = Histogram(
    "pcs_power_sweep_duration_seconds", "Time of one power-status sweep of every BMC",
    buckets=SWEEP_BUCKETS)
EVENT_STREAMS = Gauge(
    "pcs_event_streams_open", "Server-sent event streams open now", multiprocess_mode="livesum")
EVENT_STREAMS.set(0)   # not what a restarted process with the same name left in its file
DB_CONNECTIONS_IN_USE = Gauge(
    "pcs_db_connections_in_use", "Database connections checked out of the pools now, by "
    "process role", ["role"], multiprocess_mode="livesum")
DB_CONNECTIONS_LIMIT = Gauge(
    "pcs_db_connections_limit", "Database connections the pools may open at most, by process "
    "role", ["role"], multiprocess_mode="livesum")
API_REQUEST_DURATION = Histogram(
    "pcs_api_request_duration_seconds", "API requests by method, route template and status, "
    "and their time to the response headers", ["method", "route", "status"],
    buckets=API_BUCKETS)


def status_class(status_code: int | None) -> str:
    return f"{status_code // 100}xx" if status_code else "none"


def bmc_request_done(method: str, status_code: int | None, error: str | None,
                     seconds: float) -> None:
    """One BMC exchange. `error`: None, or timeout | refused | closed | connection | tls |
    auth | http."""
    BMC_REQUESTS.labels(method, status_class(status_code)).inc()
    BMC_REQUEST_DURATION.labels(method).observe(seconds)
    if error:
        http = status_code is not None and error in ("auth", "http")
        BMC_ERRORS.labels("http" if http else error, str(status_code) if http else "").inc()


def watch_pool(engine, role: str, limit: int) -> None:
    """Keep the connections in use and the limit of an SQLAlchemy engine's pool up to date.
    Each event sets the pool's own count, so a missed event cannot make the gauge drift."""
    pool = engine.pool
    # set, not inc: a container restarted as pid 1 reopens its old file and its old values.
    DB_CONNECTIONS_LIMIT.labels(role).set(limit)
    in_use = DB_CONNECTIONS_IN_USE.labels(role)

    def changed(*_):
        in_use.set(pool.checkedout())
    event.listen(engine, "checkout", changed)
    event.listen(engine, "checkin", changed)


def forget_process(pid: int) -> None:
    """Drop the live gauges of a process that ended (a gunicorn worker): its counters stay."""
    if DIRECTORY:
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(f"{_HOST}-{pid}", DIRECTORY)


# -- counted when the transaction commits --------------------------------------------------------
_PENDING = "pcs.metrics.pending"


def after_commit(session: Session, update, *args) -> None:
    """Call update(*args) once the session's transaction has committed; never if it rolls
    back."""
    session.info.setdefault(_PENDING, []).append((update, args))


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for update, args in session.info.pop(_PENDING, ()):
        update(*args)


@event.listens_for(Session, "after_transaction_end")
def _forget_uncommitted(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def transition_created(operation: str) -> None:
    TRANSITIONS_CREATED.labels(operation).inc()


def transition_finished(operation: str, status: str) -> None:
    TRANSITIONS_FINISHED.labels(operation, status).inc()


def tasks_finished(operation: str, outcome: str, durations_s: list[float]) -> None:
    """Tasks of one operation that ended with one outcome; a duration for each that ran."""
    TASKS_FINISHED.labels(operation, outcome).inc(len(durations_s))
    histogram = TASK_DURATION.labels(operation)
    for seconds in durations_s:
        if seconds is not None:
            histogram.observe(seconds)
