"""PCS v1 conventions (API.md part 1) against the real app: PostgreSQL, Redis, a celery worker."""
from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from http import HTTPStatus

import pytest
from sqlalchemy import func, select

from harness import post_transition, wait_transition
from pcs.api import create_app
from pcs.models import Transition

pytestmark = pytest.mark.integration

PREFIXES = ("", "/v1", "/apis/power-control/v1")
HEALTH_KEYS = {"KvStore", "DistLocking", "StateManager", "Vault", "TaskRunner"}
SUMMARY_KEYS = {"transitionID", "operation", "createTime", "automaticExpirationTime",
                "transitionStatus", "taskCounts"}
COUNT_KEYS = {"total", "new", "in-progress", "failed", "succeeded", "un-supported"}
UNKNOWN_NODE = "x9999c0s0b0n0"   # a valid node xname that is in no inventory: fails at once


def assert_problem(response, status: int) -> dict:
    """An RFC 7807 body with exactly the upstream keys; returns it."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.get_json(force=True)
    assert set(body) == {"type", "title", "status", "detail"}
    assert body["type"] == "about:blank"
    assert body["status"] == status and isinstance(body["status"], int)
    assert body["title"] == HTTPStatus(status).phrase
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def transition_count(db) -> int:
    with db.transaction() as s:
        return s.scalar(select(func.count()).select_from(Transition))


@pytest.fixture
def other_app(settings):
    """Build a second app from changed settings; its database pool is closed afterwards."""
    apps = []

    def _make(**changes):
        app = create_app(dataclasses.replace(settings, **changes))
        apps.append(app)
        return app.test_client()
    yield _make
    for app in apps:
        app.extensions["pcs"].db.dispose()


# -- service routes ---------------------------------------------------------------------------
def test_root_answers_the_plain_text_probe_string(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "hms-power-control"


def test_liveness_is_204(client):
    assert client.get("/liveness").status_code == 204


def test_health_has_exactly_the_upstream_keys_and_all_is_well_with_a_worker(client, worker):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == HEALTH_KEYS
    assert body["TaskRunner"] == "connected, responsive, local mode"
    assert body["Vault"] == "disabled"   # the local credential store (upstream's word)
    for key in HEALTH_KEYS - {"TaskRunner", "Vault"}:
        assert body[key] == "connected, responsive"


def test_readiness_is_204_with_database_broker_and_a_worker(client, worker):
    assert client.get("/readiness").status_code == 204


@pytest.mark.parametrize("path", ["/liveness", "/readiness", "/health"])
def test_other_methods_on_service_routes_are_405(client, path):
    assert_problem(client.post(path), 405)


# -- prefixes, unknown paths and methods ------------------------------------------------------
@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_route_answers_under_each_prefix(client, worker, prefix):
    assert client.get(f"{prefix}/").get_data(as_text=True) == "hms-power-control"
    assert client.get(f"{prefix}/liveness").status_code == 204
    assert client.get(f"{prefix}/readiness").status_code == 204
    assert set(client.get(f"{prefix}/health").get_json()) == HEALTH_KEYS
    created = client.post(f"{prefix}/transitions",
                          json={"operation": "on", "location": [{"xname": UNKNOWN_NODE}]})
    assert created.status_code == 200, created.get_json()
    tid = created.get_json()["transitionID"]
    assert client.get(f"{prefix}/transitions/{tid}").get_json()["transitionID"] == tid
    listed = client.get(f"{prefix}/transitions").get_json()["transitions"]
    assert tid in [t["transitionID"] for t in listed]
    assert "tasks" in client.get(f"{prefix}/power-cap").get_json()


@pytest.mark.parametrize("path", ["/nope", "/v1/nope", "/apis/power-control/v1/nope",
                                  "/v2/transitions"])
def test_unknown_path_is_404_problem(client, path):
    assert_problem(client.get(path), 404)


def test_wrong_method_on_a_known_path_is_405_with_allow(client):
    response = client.put("/transitions", json={})
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"] and "GET" in response.headers["Allow"]


# -- POST /transitions ------------------------------------------------------------------------
@pytest.mark.parametrize("given, canonical", [
    ("force-off", "Force-Off"), ("ON", "On"), ("off", "Off"), ("Soft-Off", "Soft-Off"),
    ("soft-restart", "Soft-Restart"), ("HARD-restart", "Hard-Restart"), ("init", "Init")])
def test_create_answers_200_with_id_and_canonical_operation_and_location(client, given,
                                                                         canonical):
    response = client.post("/transitions", json={"operation": given,
                                                  "location": [{"xname": UNKNOWN_NODE}]})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"transitionID", "operation"}
    assert body["operation"] == canonical
    assert str(uuid.UUID(body["transitionID"])) == body["transitionID"]
    assert response.headers["Location"] == f"../transitions/{body['transitionID']}"


@pytest.mark.parametrize("data", [b"{not json", b"", b"   ", b"[1, 2]", b"\"on\"", b"42",
                                  b"null"])
def test_create_with_a_body_that_is_not_a_json_object_is_400(client, db, data):
    before = transition_count(db)
    response = client.post("/transitions", data=data, content_type="application/json")
    assert_problem(response, 400)
    assert transition_count(db) == before


def test_create_with_a_bad_operation_is_400_with_the_upstream_text(client, db):
    before = transition_count(db)
    response = client.post("/transitions", json={"operation": "bogus",
                                                  "location": [{"xname": UNKNOWN_NODE}]})
    assert assert_problem(response, 400)["detail"] == "invalid Operation type bogus"
    assert transition_count(db) == before


def test_create_without_an_operation_is_400(client):
    response = client.post("/transitions", json={"location": [{"xname": UNKNOWN_NODE}]})
    assert assert_problem(response, 400)["detail"].startswith("invalid Operation type")


@pytest.mark.parametrize("deadline", ["5", 1.5, True, False, [5], {"m": 5}])
def test_create_with_a_non_integer_deadline_is_400_naming_the_field(client, deadline):
    response = client.post("/transitions", json={"operation": "on", "taskDeadlineMinutes":
                                                  deadline, "location": [{"xname": UNKNOWN_NODE}]})
    assert "taskDeadlineMinutes" in assert_problem(response, 400)["detail"]


def test_create_treats_a_deadline_below_minus_one_as_minus_one(client, db):
    response = client.post("/transitions", json={"operation": "on", "taskDeadlineMinutes": -7,
                                                  "location": [{"xname": UNKNOWN_NODE}]})
    assert response.status_code == 200, response.get_json()
    with db.transaction() as s:
        stored = s.get(Transition, uuid.UUID(response.get_json()["transitionID"]))
        assert stored.task_deadline_minutes == -1


@pytest.mark.parametrize("deadline", [-1, 0, 1, None])
def test_create_accepts_deadlines_of_minus_one_and_above_or_null(client, deadline):
    response = client.post("/transitions", json={"operation": "on", "taskDeadlineMinutes":
                                                  deadline, "location": [{"xname": UNKNOWN_NODE}]})
    assert response.status_code == 200


@pytest.mark.parametrize("location", ["x1000c0s0b0n0", {"xname": UNKNOWN_NODE}, 5])
def test_create_with_location_not_a_list_of_xnames_is_400_naming_location(client, location):
    response = client.post("/transitions", json={"operation": "on", "location": location})
    assert "location" in assert_problem(response, 400)["detail"]


@pytest.mark.parametrize("body", [{"operation": "on"}, {"operation": "on", "location": None},
                                  {"operation": "on", "location": []}])
def test_create_without_locations_answers_200_and_completes_at_once(client, body):
    response = client.post("/transitions", json=body)
    assert response.status_code == 200, response.get_json()
    found = client.get(f"/transitions/{response.get_json()['transitionID']}").get_json()
    assert found["transitionStatus"] == "completed"
    assert found["taskCounts"]["total"] == 0 and found["tasks"] == []


@pytest.mark.parametrize("entry", [{}, {"xname": None}, {"deputyKey": "k"}])
def test_a_location_without_an_xname_becomes_a_task_failed_with_invalid_xname(client, entry):
    response = client.post("/transitions", json={"operation": "on", "location": [entry]})
    assert response.status_code == 200, response.get_json()
    found = client.get(f"/transitions/{response.get_json()['transitionID']}").get_json()
    assert found["transitionStatus"] == "completed"
    assert [(t["taskStatus"], t["taskStatusDescription"], t["error"]) for t in found["tasks"]] \
        == [("failed", "Failed to achieve transition", "Invalid xname")]


@pytest.mark.parametrize("entry", [{"xname": 5}, {"xname": ["a"]}, "x1000c0s0b0n0"])
def test_create_with_an_xname_that_is_not_a_string_is_400_naming_the_field(client, db, entry):
    before = transition_count(db)
    response = client.post("/transitions", json={"operation": "on", "location": [entry]})
    detail = assert_problem(response, 400)["detail"]
    assert detail.startswith("location.0")
    if isinstance(entry, dict):
        assert "xname" in detail
    assert transition_count(db) == before


def test_unknown_request_fields_are_ignored(client):
    response = client.post("/transitions", json={
        "operation": "on", "extra": 1, "location": [{"xname": UNKNOWN_NODE, "other": "x"}]})
    assert response.status_code == 200, response.get_json()


def test_more_locations_than_the_limit_is_413_and_nothing_is_stored(other_app, db):
    small = other_app(max_locations=3)
    before = transition_count(db)
    locations = [{"xname": f"x9999c0s0b0n{i}"} for i in range(4)]
    response = small.post("/transitions", json={"operation": "on", "location": locations})
    assert "PCS_MAX_LOCATIONS" in assert_problem(response, 413)["detail"]
    assert transition_count(db) == before
    ok = small.post("/transitions", json={"operation": "on", "location": locations[:3]})
    assert ok.status_code == 200


# -- GET /transitions and /transitions/{id} ---------------------------------------------------
def test_unknown_transition_id_is_404(client):
    assert_problem(client.get(f"/transitions/{uuid.uuid4()}"), 404)


@pytest.mark.parametrize("bad, detail", [
    ("FAKE", "invalid UUID length: 4"), ("not-a-uuid", "invalid UUID length: 10"),
    ("9z99z999-999z-999z-z9zz-zz9z99z9zzzz", "invalid UUID format"),
    ("3f0c1a2b+4f86-456c-8118-6a6c731eb1de", "invalid UUID format"),
    ("{3f0c1a2b-4f86-456c-8118-6a6c731eb1dz}", "invalid UUID format")])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_transition_id_that_does_not_parse_is_400_with_the_upstream_text(client, bad, detail,
                                                                         method):
    response = client.open(f"/transitions/{bad}", method=method)
    assert assert_problem(response, 400)["detail"] == detail


@pytest.mark.parametrize("form", [str, lambda u: u.hex, lambda u: "{%s}" % u,
                                  lambda u: f"urn:uuid:{u}"])
def test_transition_id_in_any_form_upstream_accepts_is_looked_up(client, form):
    assert_problem(client.get(f"/transitions/{form(uuid.uuid4())}"), 404)


def test_transition_body_has_exactly_the_upstream_fields(client, fleet, worker):
    fleet.set_power("x1000c1s3b0", "Node1", "On")
    tid = post_transition(client, "on", ["x1000c1s3b0n1", UNKNOWN_NODE])
    body = wait_transition(client, tid)
    assert set(body) == SUMMARY_KEYS | {"tasks"}
    assert body["transitionID"] == tid and body["operation"] == "On"
    assert body["transitionStatus"] == "completed"
    assert body["taskCounts"] == {"total": 2, "new": 0, "in-progress": 0, "failed": 1,
                                  "succeeded": 1, "un-supported": 0}
    tasks = {t["xname"]: t for t in body["tasks"]}
    # `error` only when it says something.
    assert tasks["x1000c1s3b0n1"] == {"xname": "x1000c1s3b0n1", "taskStatus": "succeeded",
                                      "taskStatusDescription": "Component already in desired state"}
    assert tasks[UNKNOWN_NODE] == {"xname": UNKNOWN_NODE, "taskStatus": "failed",
                                   "taskStatusDescription": "Failed to achieve transition",
                                   "error": "Missing xname"}


def test_transition_of_a_new_task_has_every_count_key_and_rfc3339_times(client, settings):
    tid = post_transition(client, "off", [UNKNOWN_NODE])
    body = client.get(f"/transitions/{tid}").get_json()
    assert set(body["taskCounts"]) == COUNT_KEYS
    assert all(isinstance(v, int) for v in body["taskCounts"].values())
    for key in ("createTime", "automaticExpirationTime"):
        assert body[key].endswith("Z"), body[key]
        assert datetime.fromisoformat(body[key]).utcoffset() == timedelta(0)
    created = datetime.fromisoformat(body["createTime"])
    expires = datetime.fromisoformat(body["automaticExpirationTime"])
    # Tests run with a short minute (PCS_MINUTE_S); the rule is expire_time_mins minutes.
    assert expires - created == timedelta(seconds=settings.expire_time_mins * settings.minute_s)


def test_automatic_expiration_is_24_hours_after_creation_by_default(other_app):
    production_minutes = other_app(minute_s=60.0)
    tid = post_transition(production_minutes, "on", [UNKNOWN_NODE])
    body = production_minutes.get(f"/transitions/{tid}").get_json()
    created = datetime.fromisoformat(body["createTime"])
    assert datetime.fromisoformat(body["automaticExpirationTime"]) - created == timedelta(hours=24)


def test_times_are_utc_whatever_the_database_session_time_zone(other_app, settings):
    sep = "&" if "?" in settings.database_url else "?"
    new_york = other_app(database_url=settings.database_url + sep
                         + "options=-c%20TimeZone%3DAmerica/New_York")
    tid = post_transition(new_york, "on", [UNKNOWN_NODE])
    body = new_york.get(f"/transitions/{tid}").get_json()
    assert body["createTime"].endswith("Z"), body["createTime"]
    listed = {t["transitionID"]: t for t in new_york.get("/transitions").get_json()["transitions"]}
    assert listed[tid]["automaticExpirationTime"].endswith("Z")


def test_transition_list_has_the_summary_fields_and_no_tasks(client):
    tid = post_transition(client, "soft-off", [UNKNOWN_NODE, "not-an-xname"])
    response = client.get("/transitions")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"transitions"}
    listed = {t["transitionID"]: t for t in body["transitions"]}
    assert all(set(t) == SUMMARY_KEYS for t in body["transitions"])
    assert all(set(t["taskCounts"]) == COUNT_KEYS for t in body["transitions"])
    mine = listed[tid]
    detail = client.get(f"/transitions/{tid}").get_json()
    assert mine == {k: v for k, v in detail.items() if k != "tasks"}
    assert mine["operation"] == "Soft-Off" and mine["taskCounts"]["total"] == 2


# -- outages: 503 and nothing stored ----------------------------------------------------------
def test_broker_down_answers_503_and_stores_nothing(other_app, db):
    no_broker = other_app(broker_url="redis://127.0.0.1:1/0")
    before = transition_count(db)
    response = no_broker.post("/transitions", json={"operation": "on",
                                                     "location": [{"xname": UNKNOWN_NODE}]})
    assert_problem(response, 503)
    assert transition_count(db) == before
    assert no_broker.get("/readiness").status_code == 503
    assert no_broker.get("/health").get_json()["TaskRunner"] == "not connected"


def test_database_down_answers_503_and_stores_nothing(other_app, db):
    no_database = other_app(database_url="postgresql://postgres@127.0.0.1:1/pcs")
    before = transition_count(db)
    response = no_database.post("/transitions", json={"operation": "on",
                                                       "location": [{"xname": UNKNOWN_NODE}]})
    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "5"      # clients know when to ask again
    assert transition_count(db) == before
    assert no_database.get("/readiness").status_code == 503
    health = no_database.get("/health").get_json()
    assert set(health) == HEALTH_KEYS and health["KvStore"] == "not connected"
    assert_problem(no_database.get("/transitions"), 503)


# -- power capping (the routes' contract is in tests/test_power_cap.py) -------------------------
@pytest.mark.parametrize("method, path", [
    ("PUT", "/power-cap"), ("DELETE", "/power-cap"), ("PATCH", "/power-cap/snapshot"),
    ("DELETE", f"/power-cap/{uuid.uuid4()}"), ("PUT", "/v1/power-cap"),
    ("POST", f"/apis/power-control/v1/power-cap/{uuid.uuid4()}")])
def test_power_cap_routes_refuse_other_methods_with_a_problem(client, method, path):
    response = client.open(path, method=method, json={"xnames": ["x1000c0s0b0n0"]})
    assert response.status_code == 405
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_transitions_with_a_trailing_slash_answer_as_without_over_http(api_server, prefix):
    import requests
    created = requests.post(f"{api_server.url}{prefix}/transitions/", timeout=10, json={
        "operation": "on", "location": [{"xname": UNKNOWN_NODE}]})
    assert created.status_code == 200, created.text
    listed = requests.get(f"{api_server.url}{prefix}/transitions/", timeout=10)
    assert listed.status_code == 200, listed.text
    assert "transitions" in listed.json()
