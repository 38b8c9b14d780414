"""Inventory (API.md part 2): BMC registration over real Redfish, write-only credentials, removal.

These tests run their own simulator, so the session fleet's BMCs are never changed. Its BMCs are
registered here under x3000... xnames (the body's `xname`), while its admin endpoint knows them by
the simulator's own names (pcs.simulator.bmc_xname(i)).
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from harness import Simulator, free_port_block, post_transition, wait_transition
from pcs.inventory.credentials import CredentialStore
from pcs.models import Bmc
from pcs.simulator import bmc_xname

pytestmark = pytest.mark.integration

PASSWORD = "s3cret-pw-XYZ"
BMCS = "/v1/inventory/bmcs"
ALL_OPERATIONS = {"On", "Off", "Soft-Off", "Soft-Restart", "Hard-Restart", "Init", "Force-Off"}


@pytest.fixture(scope="module")
def sim():
    simulator = Simulator(bmcs=4, nodes_per_bmc=2, power_delay_s=0.3, password=PASSWORD)
    yield simulator
    simulator.stop()


@pytest.fixture
def register(client, sim):
    """register(slot, sim_index, **overrides) -> response; every BMC registered is removed after."""
    made = []

    def _register(slot: int, index: int = 0, **overrides):
        xname = f"x3000c0s{slot}b0"
        made.append(xname)
        return client.post(BMCS, json=sim.bmc_body(index, xname=xname, **overrides))
    yield _register
    for xname in made:
        client.delete(f"{BMCS}/{xname}")


def assert_problem(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"
    return response.get_json(force=True)["detail"]


def components_of(client, bmc: str) -> dict[str, dict]:
    listed = client.get("/v1/inventory/components").get_json()["components"]
    return {c["xname"]: c for c in listed if c["xname"].startswith(bmc + "n")}


def stored_password(db, xname: str) -> bytes:
    with db.transaction() as s:
        return bytes(s.scalar(select(Bmc.password_encrypted).where(Bmc.xname == xname)))


def closed_port() -> int:
    return free_port_block(1)


# -- registration -----------------------------------------------------------------------------
def test_registering_a_bmc_answers_201_with_its_nodes_in_collection_order(register, client, sim):
    response = register(0)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert {"xname", "address", "scheme", "username", "verifyTls", "components"} <= set(body)
    assert "password" not in body
    assert body["xname"] == "x3000c0s0b0" and body["address"] == sim.address(0)
    assert body["scheme"] == "http" and body["username"] == "root"
    assert body["verifyTls"] is False
    # The nodes in Systems collection order, then the node BMC itself (its Manager).
    assert body["components"] == ["x3000c0s0b0n0", "x3000c0s0b0n1", "x3000c0s0b0"]
    assert response.headers["Location"] == "../inventory/bmcs/x3000c0s0b0"
    got = client.get(f"{BMCS}/x3000c0s0b0").get_json()
    assert got["components"] == ["x3000c0s0b0", "x3000c0s0b0n0", "x3000c0s0b0n1"]


def test_registered_components_show_reset_target_allowable_values_and_transitions(register,
                                                                                  client):
    assert register(1).status_code == 201
    components = components_of(client, "x3000c0s1b0")
    assert set(components) == {"x3000c0s1b0n0", "x3000c0s1b0n1"}
    for i in range(2):
        node = components[f"x3000c0s1b0n{i}"]
        assert node["bmc"] == "x3000c0s1b0" and node["type"] == "Node"
        assert node["redfishPath"] == f"/redfish/v1/Systems/Node{i}"
        assert node["resetTarget"] == f"/redfish/v1/Systems/Node{i}/Actions/ComputerSystem.Reset"
        assert {"On", "ForceOff", "GracefulShutdown", "GracefulRestart"} <= set(
            node["allowableValues"])
        assert set(node["supportedPowerTransitions"]) == ALL_OPERATIONS


def test_password_is_stored_encrypted_and_appears_in_no_response(register, client, db, settings,
                                                                 sim):
    created = register(2)
    assert created.status_code == 201
    ciphertext = stored_password(db, "x3000c0s2b0")
    assert PASSWORD.encode() not in ciphertext
    assert CredentialStore(settings.secret_key).decrypt(ciphertext) == PASSWORD
    patched = client.patch(f"{BMCS}/x3000c0s2b0", json={"password": PASSWORD})
    assert patched.status_code == 200, patched.get_json()
    for response in (created, client.get(BMCS), client.get(f"{BMCS}/x3000c0s2b0"), patched,
                     client.get("/v1/inventory/components")):
        assert response.status_code in (200, 201)
        text = response.get_data(as_text=True)
        assert PASSWORD not in text and "password" not in text.lower()


def test_explicit_systems_map_registers_exactly_those_xnames_and_paths(register, client):
    response = register(3, systems={"x3000c0s3b0n7": "/redfish/v1/Systems/Node1"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["components"] == ["x3000c0s3b0n7", "x3000c0s3b0"]
    components = components_of(client, "x3000c0s3b0")
    assert list(components) == ["x3000c0s3b0n7"]
    assert components["x3000c0s3b0n7"]["redfishPath"] == "/redfish/v1/Systems/Node1"


@pytest.mark.parametrize("entry", ["x3000c0s5b0n0", "x3000c0s4b0", "bogus", "x3000c0s4b0n0p0"])
def test_systems_map_entry_that_is_not_a_node_of_the_bmc_is_400(register, client, entry):
    detail = assert_problem(register(4, systems={entry: "/redfish/v1/Systems/Node0"}), 400)
    assert "systems" in detail and entry in detail
    assert_problem(client.get(f"{BMCS}/x3000c0s4b0"), 404)


def test_systems_map_path_the_bmc_does_not_have_is_422_and_nothing_stored(register, client):
    response = register(4, systems={"x3000c0s4b0n0": "/redfish/v1/Systems/Nope"})
    assert "404" in assert_problem(response, 422)
    assert_problem(client.get(f"{BMCS}/x3000c0s4b0"), 404)


def test_wrong_password_is_422_quoting_the_401_and_nothing_is_stored(register, client, db):
    detail = assert_problem(register(5, password="wrong-password"), 422)
    assert "401" in detail
    assert_problem(client.get(f"{BMCS}/x3000c0s5b0"), 404)
    assert components_of(client, "x3000c0s5b0") == {}
    with db.transaction() as s:
        assert s.scalar(select(Bmc.id).where(Bmc.xname == "x3000c0s5b0")) is None


def test_unreachable_address_is_422_naming_the_connection_and_nothing_is_stored(register,
                                                                               client):
    detail = assert_problem(register(5, address=f"127.0.0.1:{closed_port()}"), 422)
    assert "connection" in detail.lower()
    assert_problem(client.get(f"{BMCS}/x3000c0s5b0"), 404)
    assert components_of(client, "x3000c0s5b0") == {}


def test_registering_the_same_xname_twice_is_409(register, client, sim):
    assert register(6).status_code == 201
    detail = assert_problem(register(6, index=1), 409)
    assert "x3000c0s6b0" in detail
    assert client.get(f"{BMCS}/x3000c0s6b0").get_json()["address"] == sim.address(0)


@pytest.mark.parametrize("change, field", [
    ({"xname": None}, "xname"), ({"address": None}, "address"),
    ({"username": None}, "username"), ({"password": None}, "password"),
    ({"scheme": "ftp"}, "scheme"), ({"password": 12345}, "password"),
    ({"username": 7}, "username"), ({"verifyTls": "yes"}, "verifyTls"),
    ({"address": "http://127.0.0.1:1/"}, "address"), ({"systems": ["n0"]}, "systems"),
    ({"xname": "x3000c0s7b0n0"}, "xname"), ({"xname": "garbage"}, "xname"),
    ({"xname": "x3000c0"}, "xname")])
def test_bad_registration_input_is_400_naming_the_field(client, sim, db, change, field):
    body = sim.bmc_body(0, xname="x3000c0s7b0")
    for key, value in change.items():
        if value is None:
            del body[key]
        else:
            body[key] = value
    detail = assert_problem(client.post(BMCS, json=body), 400)
    assert field in detail
    with db.transaction() as s:
        assert s.scalar(select(Bmc.id).where(Bmc.xname.like("x3000c0s7b0%"))) is None


@pytest.mark.parametrize("data", [b"", b"{nope", b"[]"])
def test_registration_body_that_is_not_a_json_object_is_400(client, data):
    assert_problem(client.post(BMCS, data=data, content_type="application/json"), 400)


# -- PATCH ------------------------------------------------------------------------------------
def test_patch_changes_address_and_verify_tls(register, client, sim):
    assert register(8, index=1).status_code == 201
    response = client.patch(f"{BMCS}/x3000c0s8b0",
                            json={"address": sim.address(2), "verifyTls": True,
                                  "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["address"] == sim.address(2)
    assert response.get_json()["verifyTls"] is True
    got = client.get(f"{BMCS}/x3000c0s8b0").get_json()
    assert got["address"] == sim.address(2) and got["verifyTls"] is True
    assert got["components"] == ["x3000c0s8b0", "x3000c0s8b0n0", "x3000c0s8b0n1"]


def test_patch_to_an_unreachable_address_is_422_and_keeps_the_old_one(register, client, sim):
    assert register(9, index=1).status_code == 201
    detail = assert_problem(client.patch(f"{BMCS}/x3000c0s9b0",
                                         json={"address": f"127.0.0.1:{closed_port()}",
                                               "password": PASSWORD}), 422)
    assert "connection" in detail.lower()
    assert client.get(f"{BMCS}/x3000c0s9b0").get_json()["address"] == sim.address(1)


def test_patch_with_a_wrong_password_is_422_and_the_stored_one_still_works(register, client, db,
                                                                           sim, worker):
    assert register(10, index=1).status_code == 201
    before = stored_password(db, "x3000c0s10b0")
    detail = assert_problem(client.patch(f"{BMCS}/x3000c0s10b0",
                                         json={"password": "not-the-password"}), 422)
    assert "401" in detail
    assert stored_password(db, "x3000c0s10b0") == before
    # The BMC is still driven with the right credentials.
    sim.set_power(bmc_xname(1), "Node0", "Off")
    body = wait_transition(client, post_transition(client, "on", ["x3000c0s10b0n0"]))
    assert body["tasks"] == [{"xname": "x3000c0s10b0n0", "taskStatus": "succeeded",
                              "taskStatusDescription": "Transition confirmed, on"}]
    assert client.patch(f"{BMCS}/x3000c0s10b0", json={"password": PASSWORD}).status_code == 200


def test_patch_with_an_empty_password_is_422_and_keeps_the_stored_one(register, client, db):
    assert register(11, index=1).status_code == 201
    before = stored_password(db, "x3000c0s11b0")
    assert_problem(client.patch(f"{BMCS}/x3000c0s11b0", json={"password": ""}), 422)
    assert stored_password(db, "x3000c0s11b0") == before


@pytest.mark.parametrize("body", [{}, {"password": 5}, {"scheme": "gopher"},
                                  {"verifyTls": "no"}])
def test_patch_with_nothing_valid_to_change_is_400(register, client, body):
    assert register(12, index=1).status_code == 201
    assert_problem(client.patch(f"{BMCS}/x3000c0s12b0", json=body), 400)


def test_patch_of_an_unknown_bmc_is_404(client, sim):
    detail = assert_problem(client.patch(f"{BMCS}/x3000c7s7b0",
                                         json={"address": sim.address(0)}), 404)
    assert "x3000c7s7b0" in detail


# -- DELETE -----------------------------------------------------------------------------------
def test_delete_removes_the_bmc_and_its_components_then_404(register, client):
    assert register(13, index=2).status_code == 201
    response = client.delete(f"{BMCS}/x3000c0s13b0")
    assert response.status_code == 204
    assert_problem(client.get(f"{BMCS}/x3000c0s13b0"), 404)
    assert components_of(client, "x3000c0s13b0") == {}
    assert "x3000c0s13b0" not in [b["xname"] for b in client.get(BMCS).get_json()["bmcs"]]
    assert_problem(client.delete(f"{BMCS}/x3000c0s13b0"), 404)


def test_delete_of_an_unknown_bmc_is_404(client):
    assert_problem(client.delete(f"{BMCS}/x3000c7s6b0"), 404)


def test_delete_of_a_bmc_with_an_unfinished_task_is_409_until_it_finishes(register, client, sim,
                                                                          worker):
    assert register(14, index=3).status_code == 201
    sim.set_power(bmc_xname(3), "Node0", "Off")
    sim.set_fault(bmc_xname(3), fault="hang")
    try:
        tid = post_transition(client, "on", ["x3000c0s14b0n0"], taskDeadlineMinutes=-1)
        task = client.get(f"/transitions/{tid}").get_json()["tasks"][0]
        assert task["taskStatus"] in ("new", "in-progress"), task
        detail = assert_problem(client.delete(f"{BMCS}/x3000c0s14b0"), 409)
        assert "x3000c0s14b0n0" in detail
        assert client.get(f"{BMCS}/x3000c0s14b0").status_code == 200
        assert list(components_of(client, "x3000c0s14b0")) == ["x3000c0s14b0n0",
                                                              "x3000c0s14b0n1"]
    finally:
        sim.clear_fault(bmc_xname(3))
    body = wait_transition(client, tid, timeout=60)
    assert body["tasks"][0]["taskStatus"] in ("succeeded", "failed")
    # Finished tasks do not hold the BMC: it can go now, and the transition keeps its record.
    assert client.delete(f"{BMCS}/x3000c0s14b0").status_code == 204
    kept = client.get(f"/transitions/{tid}").get_json()
    assert [t["xname"] for t in kept["tasks"]] == ["x3000c0s14b0n0"]
