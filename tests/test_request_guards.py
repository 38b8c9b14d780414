"""What a request may be before anything works on it: browser-forged bodies, huge bodies, huge
hostlists, and more event streams than the API has threads to spare."""
from __future__ import annotations

import dataclasses
import time

import pytest
import requests

from harness import ApiServer, wait_for

pytestmark = pytest.mark.integration

MISSING = "x9999c0s0b0n0"
TRANSITION = {"operation": "on", "location": [{"xname": MISSING}]}


# -- browser-driven requests ---------------------------------------------------------------
def test_a_foreign_origin_is_403_whatever_the_body(client):
    for origin in ("http://evil.example", "null", "http://localhost:9999"):
        response = client.post("/transitions", json=TRANSITION, headers={"Origin": origin})
        assert response.status_code == 403, origin
        assert "Origin" in response.get_json()["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_a_body_sent_with_an_origin_must_be_json(client, content_type):
    import json
    response = client.post("/v1/locks", data=json.dumps({"xnames": [MISSING]}),
                           headers={"Origin": "http://localhost", "Content-Type": content_type})
    assert response.status_code == 415
    assert response.content_type == "application/problem+json"


def test_same_origin_json_and_origin_less_scripts_are_served(client):
    import json
    same = client.post("/transitions", json=TRANSITION, headers={"Origin": "http://localhost"})
    assert same.status_code == 200, same.get_json()
    # curl -d '{...}' sends application/x-www-form-urlencoded and no Origin: still JSON to us.
    curl = client.post("/transitions", data=json.dumps(TRANSITION),
                       content_type="application/x-www-form-urlencoded")
    assert curl.status_code == 200, curl.get_json()
    charset = client.post("/transitions", data=json.dumps(TRANSITION),
                          content_type="application/json; charset=utf-8",
                          headers={"Origin": "http://localhost"})
    assert charset.status_code == 200


def test_without_authentication_a_hostname_other_than_localhost_is_refused(client):
    """DNS rebinding: a hostile name that resolves to 127.0.0.1 is same-origin to the page."""
    for host in ("rebind.evil.example", "rebind.evil.example:28007"):
        response = client.get("/transitions", headers={"Host": host})
        assert response.status_code == 403, host
    for host in ("localhost:28007", "127.0.0.1:28007", "[::1]:28007", "10.1.2.3"):
        assert client.get("/transitions", headers={"Host": host}).status_code == 200, host
    assert client.get("/liveness", headers={"Host": "rebind.evil.example"}).status_code == 204


# -- sizes ---------------------------------------------------------------------------------
@pytest.fixture
def small_app(settings):
    from pcs.api import create_app
    app = create_app(dataclasses.replace(settings, max_body_bytes=4096, max_locations=1000))
    yield app
    app.extensions["pcs"].db.dispose()


def test_a_body_above_the_byte_limit_is_413_before_it_is_read(small_app):
    body = {"operation": "on", "location": [{"xname": MISSING}] * 200}
    response = small_app.test_client().post("/transitions", json=body)
    assert response.status_code == 413
    assert "PCS_MAX_BODY_BYTES" in response.get_json()["detail"]


def test_more_locations_than_the_limit_are_413_before_the_schema_loads_them(client, settings):
    body = {"operation": "on",
            "location": [{"xname": f"x{1000 + i // 512}c0s{i % 64}b0n{i // 64 % 8}"}
                         for i in range(settings.max_locations + 1)]}
    started = time.monotonic()
    response = client.post("/transitions", json=body)
    assert response.status_code == 413
    # Loading 100,001 locations through the schema took about 1.7 s; counting takes far less.
    assert time.monotonic() - started < 1.5
    assert client.post("/v1/locks", json={"xnames": [MISSING] * (settings.max_locations + 1)}
                       ).status_code == 413
    assert client.post("/power-status", json={"xname": [MISSING] * (settings.max_locations + 1)}
                       ).status_code == 413


def test_hostlists_are_capped_before_they_are_expanded(small_app, client):
    small = small_app.test_client()
    response = small.get("/v1/queue", query_string={"xname": "x[1000-1999]c0s[0-1]b0n0"})
    assert response.status_code == 413
    assert "PCS_MAX_LOCATIONS" in response.get_json()["detail"]
    assert small.get("/v1/queue", query_string={"xname": "x1000c0s[0-1999]b0n0,x1000c0s0b0n0"}
                     ).status_code == 413
    huge = "9" * 5000   # would overflow int() parsing, which is never reached
    assert client.get("/v1/queue", query_string={"xname": f"x[0-{huge}]c0s0b0n0"}
                      ).status_code == 413
    assert small.post("/v1/locks", json={"xnames": ["x1000c0s[0-1999]b0n0"]}).status_code == 413


def test_a_hundred_thousand_names_are_folded_in_linear_time(client):
    # 49,152 distinct names, each given twice: a list lookup took a minute, a dict milliseconds.
    names = "x[1000-1047]c[0-7]s[0-63]b0n[0-1]"
    started = time.monotonic()
    response = client.get("/v1/queue", query_string=[("xname", names), ("xname", names)])
    assert response.status_code == 200
    assert time.monotonic() - started < 10


# -- event streams ------------------------------------------------------------------------
def test_event_streams_are_capped_below_the_thread_count_and_probes_still_answer(
        settings, scratch_dir):
    env = {**settings.as_env(), "PCS_API_THREADS": "8"}   # 8 - 4 = 4 streams at once
    server = ApiServer(env, scratch_dir / "api-streams.log", threads=8)
    streams = []
    try:
        for _ in range(4):
            stream = requests.get(f"{server.url}/v1/events", stream=True, timeout=10)
            assert stream.status_code == 200
            streams.append(stream)
        refused = requests.get(f"{server.url}/v1/events", timeout=10)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"]
        assert "PCS_MAX_STREAMS" in refused.json()["detail"]
        for path in ("/liveness", "/readiness", "/transitions"):
            started = time.monotonic()
            assert requests.get(f"{server.url}{path}", timeout=5).status_code in (200, 204, 503)
            assert time.monotonic() - started < 2
        streams.pop().close()   # a slot comes back when its client leaves
        wait_for(lambda: requests.get(f"{server.url}/v1/events", stream=True, timeout=10)
                 .status_code == 200, timeout=15, what="the slot to come back")
    finally:
        for stream in streams:
            stream.close()
        server.stop()


def test_max_streams_must_leave_threads(settings):
    from pcs.api import create_app
    from pcs.errors import ConfigurationError
    with pytest.raises(ConfigurationError, match="PCS_MAX_STREAMS"):
        create_app(dataclasses.replace(settings, api_threads=8, max_streams=8))
