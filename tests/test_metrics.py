"""GET /metrics on the API under gunicorn, with a worker process writing to the same metrics
directory: a transition against the simulator shows in the counters of both processes."""
from __future__ import annotations

import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from harness import ApiServer, Simulator, Worker, wait_for
from pcs.simulator import bmc_xname

pytestmark = pytest.mark.integration


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, labels): value} of one scrape."""
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def metered_stack(private_stack_factory, scratch_dir):
    """An API and a worker sharing a metrics directory, on a private database and queue, with
    three BMCs: one healthy, one whose actions fail with 500, one down."""
    settings, sim, _ = private_stack_factory(Simulator(bmcs=3, nodes_per_bmc=2,
                                                       power_delay_s=0.2))
    name = uuid.uuid4().hex[:6]
    env = {**settings.as_env(), "PCS_METRICS_DIR": str(scratch_dir / f"metrics-{name}")}
    worker = Worker(env, scratch_dir / f"metrics-worker-{name}.log", concurrency=4,
                    name=f"metrics-{name}")
    api = ApiServer(env, scratch_dir / f"metrics-api-{name}.log", threads=4)
    try:
        yield api, sim
    finally:
        api.stop()
        worker.stop()


def test_a_transition_is_counted_by_the_api_and_the_worker(metered_stack):
    api, sim = metered_stack
    sim.set_fault(bmc_xname(1), fault="status", status=500, message="Fan controller fault")
    sim.set_fault(bmc_xname(2), fault="down")
    xnames = [f"{bmc_xname(i)}n{n}" for i in range(3) for n in range(2)]
    before = scrape(api.url)
    assert value(before, "pcs_database_up") == 1
    assert value(before, "pcs_transitions_created_total", operation="On") == 0

    response = requests.post(f"{api.url}/transitions", timeout=10, json={
        "operation": "on", "location": [{"xname": x} for x in xnames]})
    assert response.status_code == 200
    tid = response.json()["transitionID"]

    def completed():
        body = requests.get(f"{api.url}/transitions/{tid}", timeout=10).json()
        return body["transitionStatus"] == "completed"
    wait_for(completed, timeout=60, what="the transition to complete")
    # The worker counts a task once its outcome commits, the transition's end a moment later.
    after = wait_for(lambda: (lambda s: s if value(
        s, "pcs_transitions_finished_total", operation="On", status="completed") else None)(
        scrape(api.url)), timeout=10, what="the transition's end in the metrics")

    assert value(after, "pcs_transitions_created_total", operation="On") == 1
    assert value(after, "pcs_tasks_finished_total", operation="On", outcome="succeeded") == 2
    assert value(after, "pcs_tasks_finished_total", operation="On", outcome="failed") == 4
    assert value(after, "pcs_task_duration_seconds_count", operation="On") == 6
    assert value(after, "pcs_task_duration_seconds_bucket", operation="On", le="+Inf") == 6
    # The healthy BMC read and powered; the failing one answered the POSTs with 500; the down
    # one refused every read (each retried).
    assert value(after, "pcs_bmc_requests_total", method="POST", status_class="2xx") >= 2
    assert value(after, "pcs_bmc_requests_total", method="POST", status_class="5xx") >= 2
    assert value(after, "pcs_bmc_requests_total", method="GET", status_class="none") >= 2
    assert value(after, "pcs_bmc_errors_total", error="http", status="500") >= 2
    assert value(after, "pcs_bmc_errors_total", error="refused", status="") >= 2
    assert value(after, "pcs_bmc_request_duration_seconds_count", method="GET") == sum(
        v for (n, labels), v in after.items()
        if n == "pcs_bmc_requests_total" and ("method", "GET") in labels)
    # Nothing is left in the queue, and the figures say so.
    for state in ("queued", "ready", "dispatched", "running", "deferred"):
        assert value(after, "pcs_tasks", state=state) == 0
    assert value(after, "pcs_queue_oldest_task_age_seconds") == 0
    assert value(after, "pcs_bmc_steps_in_flight_limit") >= 1
    # The API's requests, by route template, and both processes' database pools.
    assert value(after, "pcs_api_request_duration_seconds_count", method="POST",
                 route="/transitions", status="200") == 1
    assert value(after, "pcs_api_request_duration_seconds_count", method="GET",
                 route="/transitions/<transition_id>", status="200") >= 1
    assert value(after, "pcs_db_connections_limit", role="api") > 0
    assert value(after, "pcs_db_connections_limit", role="worker") > 0


def test_open_event_streams_are_counted(metered_stack):
    api, _ = metered_stack
    with requests.get(f"{api.url}/v1/events", stream=True, timeout=10) as stream:
        lines = stream.iter_lines()   # kept: dropping the iterator closes the connection
        assert next(lines) == b": connected"
        assert value(scrape(api.url), "pcs_event_streams_open") == 1
    wait_for(lambda: value(scrape(api.url), "pcs_event_streams_open") == 0, timeout=10,
             what="the closed stream to be uncounted")


def test_each_response_names_its_request(client):
    assert client.get("/liveness", headers={"X-Request-ID": "lb-7f3a.1"}).headers[
        "X-Request-ID"] == "lb-7f3a.1"
    made_up = client.get("/liveness", headers={"X-Request-ID": "x\" forged=1"}).headers[
        "X-Request-ID"]
    assert len(made_up) == 32 and made_up.isalnum()   # not the client's text in our logs
