"""GET /metrics: the Prometheus metrics of every process (from the metrics directory, or this
process alone), and the queue's figures read from the database at scrape time.

The queue's figures are facts of the whole cell, not of a process: counting them once, where they
are stored, keeps them right whatever the number of workers.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Response, request
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from pcs import metrics
from pcs.api.services import Services, services
from pcs.domain.states import ACTIVE_SQL, IN_FLIGHT_SQL, UNFINISHED, TaskState
from pcs.errors import PcsError

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

TOP_BMCS = 10   # BMCs shown by steps in flight: a bounded set of series, not one per BMC
WAITING_STATES = (TaskState.QUEUED, TaskState.READY, TaskState.DISPATCHED)   # not started yet

_ACTIVE = text(f"""
    SELECT state, count(*) AS n, extract(epoch FROM now() - min(enqueued_at)) AS oldest_s
    FROM transition_tasks WHERE state IN {ACTIVE_SQL}
    GROUP BY state""")
# Apart from the active states: each statement matches one partial index.
_QUEUED = text(f"""
    SELECT '{TaskState.QUEUED}' AS state, count(*) AS n,
           extract(epoch FROM now() - min(enqueued_at)) AS oldest_s
    FROM transition_tasks WHERE state = '{TaskState.QUEUED}'""")
_IN_FLIGHT = text(f"""
    SELECT b.xname, count(*) AS n, count(*) OVER () AS bmcs
    FROM transition_tasks t JOIN components c ON c.id = t.component_id
    JOIN bmcs b ON b.id = c.bmc_id
    WHERE t.state IN {IN_FLIGHT_SQL}
    GROUP BY b.xname ORDER BY n DESC, b.xname LIMIT :top""")
_READINGS = text("""
    SELECT extract(epoch FROM now() - min(last_polled)) AS oldest_s,
           count(*) FILTER (WHERE last_polled IS NULL) AS never
    FROM components""")


@bp.get("/metrics")
def scrape():
    # The format the scraper asks for: Prometheus's text format or OpenMetrics.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    registry = CollectorRegistry()
    registry.register(QueueFigures(services()))
    if metrics.DIRECTORY:
        MultiProcessCollector(registry, metrics.DIRECTORY)
    else:
        registry.register(_ThisProcess())
    return Response(encode(registry), content_type=content_type)


class _ThisProcess:
    """The metrics of this process alone, when no directory gathers every process's."""

    def collect(self):
        return REGISTRY.collect()


class QueueFigures:
    """A collector: tasks per queue state, the oldest waiting task, the BMCs with the most steps
    in flight, and the oldest power-status reading."""

    def __init__(self, svc: Services):
        self.svc = svc

    def collect(self):
        up = GaugeMetricFamily("pcs_database_up", "Whether the queue's figures could be read "
                               "from the database at this scrape")
        try:
            with self.svc.db.transaction() as session:
                states = [*session.execute(_ACTIVE), *session.execute(_QUEUED)]
                in_flight = session.execute(_IN_FLIGHT, {"top": TOP_BMCS}).all()
                readings = session.execute(_READINGS).one()
        except (PcsError, SQLAlchemyError) as exc:
            log.warning("metrics without the queue's figures: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._tasks(states)
        yield from self._in_flight(in_flight)
        oldest = GaugeMetricFamily(
            "pcs_power_status_oldest_reading_age_seconds", "Age of the oldest power-state "
            "reading of any component (the sweep refreshes them all)")
        oldest.add_metric([], float(readings.oldest_s or 0))
        never = GaugeMetricFamily("pcs_power_status_unread_components",
                                  "Components whose power state no sweep has read yet")
        never.add_metric([], readings.never)
        yield oldest
        yield never

    def _tasks(self, states):
        counts = {state.value: 0 for state in UNFINISHED}
        waited = [0.0]
        for row in states:
            counts[row.state] = row.n
            if row.state in WAITING_STATES and row.oldest_s is not None:
                waited.append(float(row.oldest_s))
        tasks = GaugeMetricFamily("pcs_tasks", "Tasks in each queue state now", labels=["state"])
        for state, n in counts.items():
            tasks.add_metric([state], n)
        oldest = GaugeMetricFamily(
            "pcs_queue_oldest_task_age_seconds", "Time the oldest task not yet started (queued, "
            "ready or dispatched) has waited since its submission")
        oldest.add_metric([], max(waited))
        yield tasks
        yield oldest

    def _in_flight(self, rows):
        per_bmc = GaugeMetricFamily(
            "pcs_bmc_steps_in_flight", f"Task steps dispatched or running against a BMC, for the "
            f"{TOP_BMCS} BMCs with the most", labels=["bmc"])
        for row in rows:
            per_bmc.add_metric([row.xname], row.n)
        busy = GaugeMetricFamily("pcs_bmcs_with_steps_in_flight",
                                 "BMCs with at least one task step dispatched or running")
        busy.add_metric([], rows[0].bmcs if rows else 0)
        limit = GaugeMetricFamily("pcs_bmc_steps_in_flight_limit",
                                  "Steps in flight allowed per BMC (PCS_BMC_MAX_INFLIGHT)")
        limit.add_metric([], self.svc.settings.bmc_max_inflight)
        yield per_bmc
        yield busy
        yield limit
