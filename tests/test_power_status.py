"""GET/POST /power-status (API.md, power status) and the sweep that keeps it fresh."""
from __future__ import annotations

import pytest

from harness import post_transition, wait_transition
from pcs import monitor
from pcs.sources.credentials import credential_source

pytestmark = pytest.mark.integration

KEYS = {"xname", "powerState", "managementState", "error", "supportedPowerTransitions",
        "lastUpdated"}


def _status(client, **query):
    response = client.get("/power-status", query_string=query)
    assert response.status_code == 200, response.get_json()
    return {s["xname"]: s for s in response.get_json()["status"]}


def _inventory_component(client, xname: str) -> dict:
    components = client.get("/v1/inventory/components").get_json()["components"]
    return next(c for c in components if c["xname"] == xname)


@pytest.fixture
def swept(settings, db, fleet):
    def run():
        assert monitor.sweep(settings, db, credential_source(settings)) is not None
    return run


def test_every_component_by_default_with_exactly_the_upstream_fields(client, fleet, swept):
    swept()
    status = _status(client)
    assert "x1000c0s0b0n0" in status and "x1000c1s7b0n1" in status
    for entry in status.values():
        assert set(entry) == KEYS
    node = status["x1000c0s0b0n0"]
    assert node["managementState"] == "available" and node["error"] == ""
    assert "On" in node["supportedPowerTransitions"]
    assert node["lastUpdated"].endswith("Z")


def test_sweep_reads_the_bmcs_and_marks_an_unreachable_one(client, fleet, swept):
    fleet.set_power("x1000c1s6b0", "Node0", "On")
    fleet.set_power("x1000c1s6b0", "Node1", "Off")
    swept()
    status = _status(client, xname=["x1000c1s6b0n0", "x1000c1s6b0n1"])
    assert (status["x1000c1s6b0n0"]["powerState"], status["x1000c1s6b0n1"]["powerState"]) == (
        "on", "off")
    fleet.set_fault("x1000c1s6b0", fault="down")
    try:
        swept()
        down = _status(client, xname="x1000c1s6b0n0")["x1000c1s6b0n0"]
        assert (down["powerState"], down["managementState"], down["error"]) == (
            "undefined", "unavailable", "")   # as upstream: BOS files components by error
        polled = _inventory_component(client, "x1000c1s6b0n0")
        assert "Connection refused" in polled["error"] and polled["lastPolled"]
    finally:
        fleet.clear_fault("x1000c1s6b0")
    swept()
    back = _status(client, xname="x1000c1s6b0n0")["x1000c1s6b0n0"]
    assert (back["powerState"], back["managementState"], back["error"]) == (
        "on", "available", "")
    assert _inventory_component(client, "x1000c1s6b0n0")["error"] == ""


def test_filters_select_by_power_and_management_state(client, fleet, swept):
    fleet.set_power("x1000c1s6b0", "Node0", "On")
    fleet.set_power("x1000c1s6b0", "Node1", "Off")
    swept()
    names = ["x1000c1s6b0n0", "x1000c1s6b0n1"]
    assert list(_status(client, xname=names, powerStateFilter="on")) == ["x1000c1s6b0n0"]
    assert list(_status(client, xname=names, powerStateFilter="OFF")) == ["x1000c1s6b0n1"]
    assert list(_status(client, xname=names, managementStateFilter="unavailable")) == []


@pytest.mark.parametrize("transient", ["poweringon", "poweringoff", "PoweringOn", "POWERINGOFF"])
def test_powering_filters_are_accepted_and_match_no_component(client, fleet, swept, transient):
    swept()
    assert _status(client, powerStateFilter=transient) == {}
    post = client.post("/power-status", json={"xname": ["x1000c1s6b0n0"],
                                              "powerStateFilter": transient})
    assert post.status_code == 200 and post.get_json() == {"status": []}


def test_with_a_filter_unknown_names_are_still_listed_with_their_error(client, fleet, swept):
    fleet.set_power("x1000c1s6b0", "Node0", "On")
    fleet.set_power("x1000c1s6b0", "Node1", "Off")
    swept()
    names = ["x1000c1s6b0n0", "x1000c1s6b0n1", "x9999c0s0b0n0", "x1000c0r0a0"]
    for query in ({"powerStateFilter": "on"}, {"managementStateFilter": "available"},
                  {"powerStateFilter": "poweringon"}):
        status = _status(client, xname=names, **query)
        assert status["x9999c0s0b0n0"]["error"] == "Component not found in component map."
        assert status["x1000c0r0a0"]["error"] == (
            "Component can not have power state and managment state data")
    assert list(_status(client, xname=names, powerStateFilter="on")) == [
        "x1000c1s6b0n0", "x9999c0s0b0n0", "x1000c0r0a0"]


@pytest.mark.parametrize("xname", [
    "x3000c0s0b0", "x1000c0b0", "x1000c0", "x1000c0s0",   # as upstream, each answers 200
    "x3000b0", "x1000c0t0", "x1000c0r0a0", "x1000c0r0t0f1", "x1000c0s0b0n0g0k1", "x3000m0i0",
    "x1000c0s0j1", "x3000c0w1j1", "s0", "d0",
])
def test_every_type_of_the_hardware_naming_answers_200(client, fleet, xname):
    [entry] = client.get("/power-status", query_string={"xname": xname}).get_json()["status"]
    assert entry["xname"] == xname and set(entry) == KEYS
    assert entry["error"] in ("", "Component not found in component map.",
                              "Component can not have power state and managment state data")


@pytest.mark.parametrize("xname", ["x1000c8", "x10000c0s0b0n0", "x1000c0b1", "x3000m4",
                                   "x1000c0s0b0n0p4"])
def test_names_outside_the_number_ranges_are_invalid(client, xname):
    response = client.get("/power-status", query_string={"xname": xname})
    assert response.status_code == 400
    assert response.get_json()["detail"] == f"invalid xnames detected: {xname}"


def test_records_without_data_say_why(client, fleet):
    status = _status(client, xname=["x9999c0s0b0n0", "x1000c0s0b0n0p0"])
    assert status["x9999c0s0b0n0"] == {
        "xname": "x9999c0s0b0n0", "powerState": "", "managementState": "",
        "error": "Component not found in component map.", "supportedPowerTransitions": None,
        "lastUpdated": ""}
    assert status["x1000c0s0b0n0p0"]["error"] == (
        "Component can not have power state and managment state data")


def test_duplicates_are_folded(client, fleet):
    response = client.get("/power-status?xname=x1000c0s0b0n0&xname=x1000c0s0b0n0")
    assert [s["xname"] for s in response.get_json()["status"]] == ["x1000c0s0b0n0"]


@pytest.mark.parametrize("query,detail", [
    ("xname=junk&xname=x1000c0s0b0n0&xname=bad2", "invalid xnames detected: junk bad2"),
    ("powerStateFilter=sideways", "invalid powerStateFilter type: sideways"),
    ("managementStateFilter=maybe", "invalid ManagementStateFilter type: maybe"),
])
def test_bad_queries_are_400_with_upstream_texts(client, query, detail):
    response = client.get(f"/power-status?{query}")
    assert response.status_code == 400
    assert response.get_json()["detail"] == detail


def test_post_reads_the_same_from_a_body_and_refuses_an_empty_one(client, fleet):
    response = client.post("/v1/power-status", json={"xname": ["x1000c0s0b0n1"]})
    assert response.status_code == 200
    assert [s["xname"] for s in response.get_json()["status"]] == ["x1000c0s0b0n1"]
    empty = client.post("/power-status", data="", content_type="application/json")
    assert empty.status_code == 400 and empty.get_json()["detail"] == "request body is empty"
    bad = client.post("/power-status", json={"powerStateFilter": "nope"})
    assert bad.get_json()["detail"] == "invalid powerStateFilter type: nope"


def test_a_confirmed_transition_updates_the_status_at_once(client, fleet, worker, swept):
    fleet.set_power("x1000c1s5b0", "Node1", "Off")
    swept()
    assert _status(client, xname="x1000c1s5b0n1")["x1000c1s5b0n1"]["powerState"] == "off"
    wait_transition(client, post_transition(client, "on", ["x1000c1s5b0n1"]))
    assert _status(client, xname="x1000c1s5b0n1")["x1000c1s5b0n1"]["powerState"] == "on"


def test_only_one_sweep_runs_at_a_time(settings, db, fleet):
    from sqlalchemy import text
    with db.engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": monitor.SWEEP_LOCK})
        try:
            assert monitor.sweep(settings, db, credential_source(settings)) is None
        finally:
            other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": monitor.SWEEP_LOCK})
            other.commit()
