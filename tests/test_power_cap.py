"""Power capping against the simulator, one node BMC per Redfish style, local inventory: the
values a snapshot reads, patches read back from the BMC, the upstream texts for what cannot be
capped, and BMCs that refuse or ignore a write."""
from __future__ import annotations

import pytest

from harness import Simulator, wait_for

pytestmark = pytest.mark.integration

STYLES = ["cray", "power", "apollo", "controls"]
# style -> (control name, minimum, maximum, limits of a snapshot)
CONTROL = {"cray": ("Node Power Limit", 350, 925, {"hostLimitMax": 925, "hostLimitMin": 350}),
           "power": ("Node Power Control", 350, 850,
                     {"hostLimitMax": 850, "hostLimitMin": 350, "powerupPower": 250}),
           "apollo": ("Node Power Limit", 500, 1500, {"hostLimitMax": 1500, "hostLimitMin": 500}),
           "controls": ("Node Power Limit", 300, 900, {"hostLimitMax": 900, "hostLimitMin": 300})}


def bmc(style: str) -> str:
    """The xname pcs knows the style's BMC by (its nodes are <bmc>n0 and <bmc>n1)."""
    return f"x5100c0s{STYLES.index(style)}b0"


@pytest.fixture(scope="module")
def cap_sim(app, worker):
    from pcs.simulator import bmc_xname
    sim = Simulator(bmcs=len(STYLES), nodes_per_bmc=2, power_delay_s=0.1,
                    cap_styles=[f"{bmc_xname(i)}={s}" for i, s in enumerate(STYLES)])
    client = app.test_client()
    for i, style in enumerate(STYLES):
        response = client.post("/v1/inventory/bmcs", json=sim.bmc_body(i, xname=bmc(style)))
        assert response.status_code == 201, response.get_json()
    yield sim
    for style in STYLES:
        client.delete(f"/v1/inventory/bmcs/{bmc(style)}")
    sim.stop()


def sim_bmc(style: str) -> str:
    from pcs.simulator import bmc_xname
    return bmc_xname(STYLES.index(style))


def finished(client, response) -> dict:
    assert response.status_code == 200, response.get_json()
    task_id = response.get_json()["taskID"]
    assert response.headers["Location"] == f"../power-cap/{task_id}"

    def completed():
        body = client.get(f"/power-cap/{task_id}").get_json()
        return body if body["taskStatus"] == "completed" else None
    return wait_for(completed, timeout=30, what="the power-cap task to complete")


def snapshot(client, *xnames) -> dict:
    return finished(client, client.post("/power-cap/snapshot", json={"xnames": list(xnames)}))


def patch(client, xname: str, **controls) -> dict:
    body = {"components": [{"xname": xname, "controls": [
        {"name": name, "value": value} for name, value in controls.items()]}]}
    return finished(client, client.patch("/power-cap", json=body))


def patch_one(client, xname: str, name: str, value: int) -> dict:
    return patch(client, xname, **{name: value})


def held(sim, style: str, node: int = 0) -> int | None:
    return sim.capping(sim_bmc(style))["nodes"][f"Node{node}"][0]["held"]


@pytest.mark.parametrize("style", STYLES)
def test_snapshot_reads_each_style(client, cap_sim, style):
    name, low, high, limits = CONTROL[style]
    body = snapshot(client, f"{bmc(style)}n1")
    assert body["type"] == "snapshot"
    [component] = body["components"]
    assert component["xname"] == f"{bmc(style)}n1"
    assert "error" not in component, component
    assert component["limits"] == limits
    assert component["powerCapLimits"][0] == {"name": name, "currentValue": 0,
                                              "maximumValue": high, "minimumValue": low}
    # Style A reads each control as its own operation, as upstream counts them.
    expected = 2 if style == "cray" else 1
    assert body["taskCounts"] == {"total": expected, "new": 0, "in-progress": 0, "failed": 0,
                                  "succeeded": expected, "un-supported": 0}


@pytest.mark.parametrize("style", STYLES)
def test_patch_to_min_max_zero_and_back_reads_the_bmc(client, cap_sim, style):
    name, low, high, _ = CONTROL[style]
    xname = f"{bmc(style)}n0"
    for value in (low, high, 0, low, 0):
        body = patch_one(client, xname, name, value)
        assert body["type"] == "patch"
        assert body["components"] == [{"xname": xname, "powerCapLimits": [
            {"name": name, "currentValue": value, "maximumValue": high, "minimumValue": low}]}]
        assert held(cap_sim, style) == (value or None)
        assert body["taskCounts"]["succeeded"] == 1


@pytest.mark.parametrize("style", ["cray", "controls"])
def test_a_write_that_changes_nothing_is_skipped(client, cap_sim, style):
    """A disabled control asked for 0 is read, not written: Cray EX refuses to disable a
    disabled control (the simulator answers 400 as it does)."""
    name = CONTROL[style][0]
    xname = f"{bmc(style)}n1"
    body = patch_one(client, xname, name, 0)
    assert "error" not in body["components"][0], body
    exchanges = client.get(f"/v1/power-cap/{body['taskID']}/components/{xname}").get_json()
    assert [e["method"] for e in exchanges["exchanges"]] == ["GET"]
    assert exchanges["exchanges"][0]["purpose"] == "cap-read"


def test_the_cray_style_writes_through_controls_deep_and_dmtf_controls_themselves(client,
                                                                                 cap_sim):
    for style, path in (("cray", "/redfish/v1/Chassis/Node0/Controls.Deep"),
                        ("controls", "/redfish/v1/Chassis/Node0/Controls/NodePowerLimit")):
        name, low, _, _ = CONTROL[style]
        body = patch_one(client, f"{bmc(style)}n0", name, low)
        found = client.get(f"/v1/power-cap/{body['taskID']}/components/{bmc(style)}n0")
        writes = [e for e in found.get_json()["exchanges"] if e["purpose"] == "cap-write"]
        assert [(w["method"], w["path"], w["statusCode"]) for w in writes] == [
            ("PATCH", path, 204)]
        patch_one(client, f"{bmc(style)}n0", name, 0)


def test_two_controls_of_one_node_are_set_in_one_write(client, cap_sim):
    xname = f"{bmc('cray')}n0"
    body = patch(client, xname, **{"Node Power Limit": 400, "Accelerator0 Power Limit": 200})
    assert [c["currentValue"] for c in body["components"][0]["powerCapLimits"]] == [400, 200]
    body = patch(client, xname, **{"Node Power Limit": 0, "Accelerator0 Power Limit": 0})
    assert [c["currentValue"] for c in body["components"][0]["powerCapLimits"]] == [0, 0]


@pytest.mark.parametrize("style", STYLES)
def test_values_out_of_range_fail_before_the_bmc_is_asked(client, cap_sim, style):
    name, low, high, _ = CONTROL[style]
    xname = f"{bmc(style)}n0"
    for value, error in ((1234567, f"Control ({name}) value (1234567) is more than maximum "
                                   f"({high})"),
                         (1, f"Control ({name}) value (1) is less than minimum ({low})")):
        body = patch_one(client, xname, name, value)
        assert body["components"] == [{"xname": xname, "error": error}]
        assert body["taskCounts"]["failed"] == 1
        assert held(cap_sim, style) is None


def test_what_cannot_be_capped_says_why(client, cap_sim):
    node_bmc = bmc("cray")
    body = snapshot(client, node_bmc, "x9999c7s9b9n9", "FAKE", f"{node_bmc}n0")
    by_xname = {c["xname"]: c for c in body["components"]}
    assert by_xname[node_bmc] == {"xname": node_bmc,
                                  "error": "Type, NodeBMC unsupported for power capping"}
    assert by_xname["x9999c7s9b9n9"] == {"xname": "x9999c7s9b9n9",
                                         "error": "Xname not found in HSM"}
    assert by_xname["FAKE"] == {"xname": "FAKE", "error": "Invalid xname"}
    assert body["taskCounts"]["un-supported"] == 1 and body["taskCounts"]["failed"] == 2
    body = patch(client, node_bmc, **{"Node Power Limit": 0})
    assert body["components"] == [{"xname": node_bmc,
                                   "error": "Skipping undefined control 'Node Power Limit'"}]
    body = patch(client, f"{node_bmc}n0", **{"Bogus Limit": 5, "Node Power Limit": 0})
    assert body["components"][0]["error"] == "Skipping undefined control 'Bogus Limit'"
    assert body["components"][0]["powerCapLimits"][0]["name"] == "Node Power Limit"


@pytest.mark.parametrize("fault", ["refuse", "ignore"])
@pytest.mark.parametrize("style", STYLES)
def test_a_bmc_that_refuses_or_ignores_a_write_fails_the_component(client, cap_sim, style,
                                                                  fault):
    """Refused: in the BMC's own words. Accepted but not held: naming both values."""
    name, low, _, _ = CONTROL[style]
    cap_sim.capping(sim_bmc(style), fault=fault)
    try:
        body = patch_one(client, f"{bmc(style)}n1", name, low)
    finally:
        cap_sim.capping(sim_bmc(style), fault=None)
    [component] = body["components"]
    if fault == "refuse":
        assert "500" in component["error"]
        assert "The power limit cannot be changed at this time." in component["error"]
    else:
        assert component["error"] == (f"Control ({name}) value ({low}) was accepted by the "
                                      f"BMC, which holds (0)")
    assert body["taskCounts"]["failed"] == 1
    assert held(cap_sim, style, 1) is None


def test_patches_of_one_component_apply_in_the_order_requested(client, cap_sim):
    name, low, high, _ = CONTROL["power"]
    xname = f"{bmc('power')}n0"
    ids = []
    for value in (low, high, low + 1, 0, high - 1):
        response = client.patch("/power-cap", json={"components": [
            {"xname": xname, "controls": [{"name": name, "value": value}]}]})
        ids.append(response.get_json()["taskID"])
    for task_id in ids:
        wait_for(lambda: client.get(f"/power-cap/{task_id}").get_json()["taskStatus"]
                 == "completed", timeout=30, what="the patches to complete")
    writes = [e["body"]["PowerControl"][0]["PowerLimit"]["LimitInWatts"]
              for e in cap_sim.log(sim_bmc("power")) if e["method"] == "PATCH"][-5:]
    assert writes == [low, high, low + 1, 0, high - 1]
    assert held(cap_sim, "power") == high - 1
    patch_one(client, xname, name, 0)


def test_list_shows_both_types_with_counts(client, cap_sim):
    snapshot(client, f"{bmc('apollo')}n1")
    tasks = client.get("/power-cap").get_json()["tasks"]
    assert {t["type"] for t in tasks} == {"snapshot", "patch"}
    for task in tasks:
        assert set(task) == {"taskID", "type", "taskCreateTime", "automaticExpirationTime",
                             "taskStatus", "taskCounts"}


# -- the request contract (INTEGRATION.md §6-7) -------------------------------------------------
@pytest.mark.parametrize("prefix", ["", "/v1", "/apis/power-control/v1"])
def test_routes_answer_at_every_prefix_and_refuse_other_methods(client, prefix):
    assert client.put(f"{prefix}/power-cap", json={}).status_code == 405
    assert client.delete(f"{prefix}/power-cap").status_code == 405
    assert client.get(f"{prefix}/power-cap").status_code == 200
    assert client.delete(f"{prefix}/power-cap/{'0' * 8}-0000-0000-0000-{'0' * 12}").status_code \
        == 405


@pytest.mark.parametrize("task_id, detail", [
    ("99z9zz99-z999-99z9-99z9-99z99z9z99z9", "invalid UUID format"),
    ("FAKE", "invalid UUID length: 4")])
def test_task_ids_that_do_not_parse_get_upstreams_texts(client, task_id, detail):
    response = client.get(f"/power-cap/{task_id}")
    assert response.status_code == 400
    assert response.get_json()["detail"] == detail


def test_an_unknown_task_is_404(client):
    assert client.get("/power-cap/00000000-0000-4000-8000-000000000000").status_code == 404


@pytest.mark.parametrize("body, detail", [
    ({"xnames": []}, "Xname list is empty. A list of xnames is required"),
    ({}, "Xname list is empty. A list of xnames is required"),
    ({"xnames": "x1000c0s0b0n0"}, "json: cannot unmarshal string into Go struct field "
                                  "PowerCapSnapshotParameter.xnames of type []string"),
    ([], "json: cannot unmarshal array into Go value of type model.PowerCapSnapshotParameter"),
])
def test_snapshot_requests_are_checked_as_upstream(client, body, detail):
    response = client.post("/power-cap/snapshot", json=body)
    assert response.status_code == 400
    assert response.get_json()["detail"] == detail


@pytest.mark.parametrize("controls, detail", [
    ([{"name": "Node Power Limit", "value": "FAKE"}],
     "json: cannot unmarshal string into Go struct field "
     "PowerCapControlParameter.components.controls.value of type int"),
    ([{"name": "Node Power Limit", "value": 1.5}],
     "json: cannot unmarshal number 1.5 into Go struct field "
     "PowerCapControlParameter.components.controls.value of type int"),
    ([{"name": "", "value": 5}], "Invalid control parameters for xnames detected x1000c0s0b0n0 "),
    ([{"name": "Node Power Limit", "value": -1}],
     "Invalid control parameters for xnames detected x1000c0s0b0n0 "),
])
def test_patch_requests_are_checked_as_upstream(client, controls, detail):
    response = client.patch("/power-cap", json={"components": [
        {"xname": "x1000c0s0b0n0", "controls": controls}]})
    assert response.status_code == 400
    assert response.get_json()["detail"] == detail


def test_malformed_json_gets_the_decoders_text(client):
    response = client.post("/power-cap/snapshot", data="{", content_type="application/json")
    assert response.get_json()["detail"] == "unexpected end of JSON input"


def test_a_patch_without_components_completes_empty(client, worker):
    body = finished(client, client.patch("/power-cap", json={"components": []}))
    assert body["taskCounts"]["total"] == 0
    assert "components" not in body
