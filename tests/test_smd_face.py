"""The simulator's SMD face over real HTTP: `python -m pcs.simulator ... --smd-port P` as a
child process, checked against SMD's shapes and against what the simulated BMCs serve."""
from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest
import requests
from harness import Simulator, wait_for

from pcs.domain import xnames
from pcs.inventory.discovery import discover
from pcs.redfish.client import BmcAddress, RedfishClient

AUTH = ("root", "initial0")
MINUTE_S = 1.0   # a reservation minute lasts a second here
PROBLEM_KEYS = {"type", "title", "detail", "status"}
NODES = ["x1000c0s0b0n0", "x1000c0s0b0n1", "x1000c0s1b0n0", "x1000c0s1b0n1",
         "x1000c0s2b0n0", "x1000c0s2b0n1"]
OTHERS = ["x1000c0s0b0", "x1000c0s1b0", "x1000c0s2b0", "x1000c0", "x1000c0s0", "x1000c0s1",
          "x1000c0s2", "x1000c0b0", "x3000m0", "x3000m0p0", "x3000m0p0v1", "x3000m0p0v2",
          "x3000c0w1"]


@pytest.fixture(scope="module")
def sim():
    s = Simulator(bmcs=3, nodes_per_bmc=2, power_delay_s=0.0, chassis_bmcs=True, pdus=1,
                  outlets_per_pdu=2, switches=1, smd=True, smd_minute_s=MINUTE_S)
    yield s
    s.stop()


@pytest.fixture
def smd(sim):
    """The SMD base URL; faults, locks and pushes are cleared after each test."""
    yield sim.smd
    requests.delete(f"{sim.smd}/admin/smd/fault", timeout=5)
    held = requests.get(f"{sim.smd}/admin/smd/locks", timeout=5).json()
    keys = [{"ID": r["ID"], "Key": r["ReservationKey"]} for r in held["Reservations"]]
    if keys:
        post(sim.smd, "/locks/service/reservations/release",
             {"ReservationKeys": keys, "ProcessingModel": "flexible"})
    if held["Locked"]:
        post(sim.smd, "/locks/unlock", {"ComponentIDs": held["Locked"]})
    requests.delete(f"{sim.smd}/admin/smd/pushes", timeout=5)


def post(base, path, body):
    return requests.post(f"{base}/hsm/v2{path}", json=body, timeout=5)


def get(base, path, **params):
    return requests.get(f"{base}/hsm/v2{path}", params=params, timeout=5)


def assert_problem(response, status, detail):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) == PROBLEM_KEYS and body["detail"] == detail and body["status"] == status


def states(smd, ids):
    found = post(smd, "/State/Components/Query", {"ComponentIDs": ids}).json()["Components"]
    return {c["ID"]: c["State"] for c in found}


def reserve(smd, ids, minutes=15, model="flexible"):
    response = post(smd, "/locks/service/reservations",
                    {"ComponentIDs": ids, "ProcessingModel": model,
                     "ReservationDuration": minutes})
    assert response.status_code == 200, response.text
    return response.json()


# ---- service and components ---------------------------------------------------------------------
def test_liveness_and_ready(smd):
    assert get(smd, "/service/liveness").status_code == 204
    assert get(smd, "/service/ready").status_code == 200


def test_query_all_describes_every_simulated_component(smd):
    components = post(smd, "/State/Components/Query", {"ComponentIDs": ["all"]}).json()
    by_id = {c["ID"]: c for c in components["Components"]}
    assert sorted(by_id) == sorted(NODES + OTHERS)
    node = by_id["x1000c0s1b0n1"]
    assert node == {"ID": "x1000c0s1b0n1", "Type": "Node", "State": "Off", "Flag": "OK",
                    "Enabled": True, "Role": "Compute", "NID": 4, "NetType": "Sling",
                    "Arch": "X86", "Class": "Mountain", "Locked": False,
                    "ReservationDisabled": False}
    assert by_id["x3000m0p0v1"]["State"] == "On"   # outlets start on
    assert by_id["x3000c0w1"]["Class"] == "River"


def test_query_some_ids_answers_exactly_those_known(smd):
    found = post(smd, "/State/Components/Query",
                 {"ComponentIDs": ["x1000c0s2b0n1", "x1000c0", "x1000c9s0b0n0"]}).json()
    assert [c["ID"] for c in found["Components"]] == ["x1000c0s2b0n1", "x1000c0"]
    assert_problem(post(smd, "/State/Components/Query", {"ComponentIDs": []}), 400,
                   "Missing IDs")


def test_components_get_filters_and_single_component(sim, smd):
    nodes_and_bmcs = get(smd, "/State/Components", type=["node", "NodeBMC"]).json()
    assert len(nodes_and_bmcs["Components"]) == 9
    requests.put(f"{smd}/admin/smd/components/x1000c0s0b0n0", json={"Role": "Management"},
                 timeout=5).raise_for_status()
    managed = get(smd, "/State/Components", role="management").json()["Components"]
    assert [c["ID"] for c in managed] == ["x1000c0s0b0n0"]
    requests.put(f"{smd}/admin/smd/components/x1000c0s0b0n0", json={"Role": "Compute"},
                 timeout=5).raise_for_status()
    assert get(smd, "/State/Components/x1000c0s2b0").json()["Type"] == "NodeBMC"
    assert_problem(get(smd, "/State/Components/x1000c0s9b0n0"), 404, "no such xname.")


def test_state_follows_simulated_power_until_a_push(sim, smd):
    sim.set_power("x1000c0s2b0", "Node1", "On")
    assert states(smd, ["x1000c0s2b0n1"]) == {"x1000c0s2b0n1": "On"}
    sim.set_power("x1000c0s2b0", "Node1", "Off")
    assert states(smd, ["x1000c0s2b0n1"]) == {"x1000c0s2b0n1": "Off"}


# ---- ComponentEndpoints ----------------------------------------------------------------------------
def test_endpoints_by_id_batches(smd):
    answer = get(smd, "/Inventory/ComponentEndpoints",
                 id=["x1000c0s1b0n0", "x3000m0p0v2", "x1000c0s9b0n0"]).json()
    endpoints = {e["ID"]: e for e in answer["ComponentEndpoints"]}
    assert sorted(endpoints) == ["x1000c0s1b0n0", "x3000m0p0v2"]
    node = endpoints["x1000c0s1b0n0"]
    assert node["ComponentEndpointType"] == "ComponentEndpointComputerSystem"
    assert node["RedfishEndpointID"] == "x1000c0s1b0"
    assert node["OdataID"] == "/redfish/v1/Systems/Node0"
    assert node["RedfishURL"] == node["RedfishEndpointFQDN"] + node["OdataID"]
    reset = node["RedfishSystemInfo"]["Actions"]["#ComputerSystem.Reset"]
    assert reset["target"] == "/redfish/v1/Systems/Node0/Actions/ComputerSystem.Reset"
    outlet = endpoints["x3000m0p0v2"]["RedfishOutletInfo"]["Actions"]["#Outlet.PowerControl"]
    assert outlet["PowerState@Redfish.AllowableValues"] == ["On", "Off"]
    everything = get(smd, "/Inventory/ComponentEndpoints").json()["ComponentEndpoints"]
    assert len(everything) == len(NODES + OTHERS)


def test_endpoint_actions_are_what_the_bmcs_serve(sim, smd):
    """Each action's target and allowable values equal those of the resource the BMC at
    RedfishEndpointFQDN serves at OdataID."""
    sim.set_allowable("x1000c0s1b0", ["On", "ForceOff"])   # SMD follows a changed BMC
    try:
        endpoints = get(smd, "/Inventory/ComponentEndpoints").json()["ComponentEndpoints"]
        addresses = {b["xname"]: b["address"] for b in sim.bmcs_listed()}
        checked = 0
        for endpoint in endpoints:
            assert endpoint["RedfishEndpointFQDN"] == addresses[endpoint["RedfishEndpointID"]]
            info_key = next(k for k in endpoint if k.startswith("Redfish") and k.endswith("Info"))
            resource = requests.get(f"http://{endpoint['RedfishEndpointFQDN']}"
                                    f"{endpoint['OdataID']}", auth=AUTH, timeout=5).json()
            assert resource["@odata.id"] == endpoint["OdataID"]
            assert endpoint[info_key].get("Actions") == resource.get("Actions"), endpoint["ID"]
            checked += "Actions" in resource
        assert checked == len(NODES + OTHERS) - 2   # all but the PDU controller and rack PDU
        node = next(e for e in endpoints if e["ID"] == "x1000c0s1b0n1")
        values = node["RedfishSystemInfo"]["Actions"]["#ComputerSystem.Reset"]
        assert values["ResetType@Redfish.AllowableValues"] == ["On", "ForceOff"]
    finally:
        requests.delete(f"{sim.admin}/admin/bmcs/x1000c0s1b0/allowable", timeout=5)


def test_endpoints_describe_what_pcs_discovery_finds(sim, smd):
    """pcs's own discovery over Redfish and the SMD face agree on components, types, paths,
    action targets and allowable values."""
    discovered = {}
    for bmc in sim.bmcs_listed():
        client = RedfishClient(BmcAddress(bmc["address"], "http", *AUTH))
        try:
            for c in discover(client, xnames.parse(bmc["xname"])):
                discovered[c.xname] = (c.type, c.path, c.reset_target, c.allowable_values)
        finally:
            client.close()
    described = {}
    for e in get(smd, "/Inventory/ComponentEndpoints").json()["ComponentEndpoints"]:
        info = next(v for k, v in e.items() if k.startswith("Redfish") and k.endswith("Info"))
        for action in (info.get("Actions") or {}).values():
            values = next(v for k, v in action.items() if k.endswith("@Redfish.AllowableValues"))
            described[e["ID"]] = (e["Type"], e["OdataID"], action["target"], values)
    assert len(described) == len(NODES + OTHERS) - 2   # the PDU controller and rack PDU
    assert described == discovered                    # have no action


def test_power_maps(smd):
    maps = get(smd, "/sysinfo/powermaps").json()
    assert {m["id"] for m in maps} == set(NODES)
    assert get(smd, "/sysinfo/powermaps/x1000c0s1b0n0").json() == {
        "id": "x1000c0s1b0n0", "poweredBy": ["x3000m0p0v2"]}
    assert_problem(get(smd, "/sysinfo/powermaps/x3000c0w1"), 404, "no such xname.")


# ---- BulkStateData -----------------------------------------------------------------------------------
def test_bulk_state_data_changes_state_reads_and_is_logged(smd):
    before = time.time()
    response = requests.patch(f"{smd}/hsm/v2/State/Components/BulkStateData",
                              json={"ComponentIDs": ["x1000c0s0b0n0", "x1000c0s0b0n1"],
                                    "State": "on"}, timeout=5)
    assert response.status_code == 204
    assert states(smd, ["x1000c0s0b0n0", "x1000c0s0b0n1"]) == {
        "x1000c0s0b0n0": "On", "x1000c0s0b0n1": "On"}
    pushes = requests.get(f"{smd}/admin/smd/pushes", timeout=5).json()["pushes"]
    assert [(p["ComponentIDs"], p["State"]) for p in pushes] == [
        (["x1000c0s0b0n0", "x1000c0s0b0n1"], "On")]
    assert pushes[0]["time"] >= before
    requests.patch(f"{smd}/hsm/v2/State/Components/BulkStateData",
                   json={"ComponentIDs": ["x1000c0s0b0n0", "x1000c0s0b0n1"], "State": "off"},
                   timeout=5).raise_for_status()


def test_bulk_state_data_keeps_ready_on_an_on_push(smd):
    node = "x1000c0s1b0n1"
    requests.put(f"{smd}/admin/smd/components/{node}", json={"State": "Ready"},
                 timeout=5).raise_for_status()
    try:
        patch = f"{smd}/hsm/v2/State/Components/BulkStateData"
        assert requests.patch(patch, json={"ComponentIDs": [node], "State": "On"},
                              timeout=5).status_code == 204
        assert states(smd, [node]) == {node: "Ready"}
        requests.patch(patch, json={"ComponentIDs": [node], "State": "OFF"}, timeout=5)
        assert states(smd, [node]) == {node: "Off"}
    finally:
        requests.put(f"{smd}/admin/smd/components/{node}", json={"State": None}, timeout=5)


def test_bad_bulk_state_data_is_a_problem(smd):
    patch = f"{smd}/hsm/v2/State/Components/BulkStateData"
    assert_problem(requests.patch(patch, json={"ComponentIDs": ["x1000c0s0b0n0"]}, timeout=5),
                   400, "Missing State")
    bad_json = requests.patch(patch, data="{not json", timeout=5)
    assert bad_json.status_code == 400 and bad_json.json()["title"] == "Bad Request"


# ---- reservations and locks -----------------------------------------------------------------------
def test_flexible_reservation_names_locked_and_reserved(smd):
    locked, reserved, free = "x1000c0s0b0n0", "x1000c0s0b0n1", "x1000c0s1b0n0"
    lock = post(smd, "/locks/lock", {"ComponentIDs": [locked]}).json()
    assert lock == {"Counts": {"Total": 1, "Success": 1, "Failure": 0},
                    "Success": {"ComponentIDs": [locked]}, "Failure": []}
    reserve(smd, [reserved])
    answer = reserve(smd, [locked, reserved, free])
    assert {f["ID"]: f["Reason"] for f in answer["Failure"]} == {locked: "Locked",
                                                                 reserved: "Reserved"}
    (success,) = answer["Success"]
    assert success["ID"] == free
    assert success["DeputyKey"].startswith(f"{free}:dk:")
    assert success["ReservationKey"].startswith(f"{free}:rk:")
    held = requests.get(f"{smd}/admin/smd/locks", timeout=5).json()
    assert held["Locked"] == [locked]
    assert sorted(r["ID"] for r in held["Reservations"]) == [reserved, free]
    component = get(smd, f"/State/Components/{locked}").json()
    assert component["Locked"] is True


def test_rigid_reservation_and_unknown_components(smd):
    reserve(smd, ["x1000c0s2b0n0"])
    assert_problem(post(smd, "/locks/service/reservations",
                        {"ComponentIDs": ["x1000c0s2b0n0", "x1000c0s2b0n1"],
                         "ProcessingModel": "rigid", "ReservationDuration": 1}),
                   400, "Component is Reserved")
    assert_problem(post(smd, "/locks/service/reservations",
                        {"ComponentIDs": ["x1000c0s9b0n0"], "ReservationDuration": 1}),
                   400, "Component not found")
    held = requests.get(f"{smd}/admin/smd/locks", timeout=5).json()
    assert [r["ID"] for r in held["Reservations"]] == ["x1000c0s2b0n0"]


def test_check_with_valid_and_invalid_deputy_keys(smd):
    (success,) = reserve(smd, ["x1000c0s1b0n1"])["Success"]
    answer = post(smd, "/locks/service/reservations/check",
                  {"DeputyKeys": [{"ID": "x1000c0s1b0n1", "Key": success["DeputyKey"]},
                                  {"ID": "x1000c0s2b0n1", "Key": "x1000c0s2b0n1:dk:bogus"}]})
    body = answer.json()
    assert [(s["ID"], s["DeputyKey"]) for s in body["Success"]] == [
        ("x1000c0s1b0n1", success["DeputyKey"])]
    assert body["Success"][0]["ExpirationTime"] == success["ExpirationTime"]
    assert body["Failure"] == [{"ID": "x1000c0s2b0n1", "Reason": "NotFound"}]


def test_reservation_expires_renews_and_releases(smd):
    short, renewed = "x1000c0s0b0n0", "x1000c0s0b0n1"
    keys = {s["ID"]: s for s in reserve(smd, [short, renewed], minutes=1)["Success"]}
    renew = post(smd, "/locks/service/reservations/renew",
                 {"ReservationKeys": [{"ID": renewed, "Key": keys[renewed]["ReservationKey"]}],
                  "ProcessingModel": "flexible", "ReservationDuration": 15}).json()
    assert renew["Success"] == {"ComponentIDs": [renewed]}
    deputies = {"DeputyKeys": [{"ID": i, "Key": keys[i]["DeputyKey"]} for i in keys]}

    def short_one_expired():
        body = post(smd, "/locks/service/reservations/check", deputies).json()
        return body if body["Failure"] else None
    body = wait_for(short_one_expired, timeout=5 * MINUTE_S, what="the reservation to expire")
    assert body["Failure"] == [{"ID": short, "Reason": "NotFound"}]
    assert [s["ID"] for s in body["Success"]] == [renewed]
    release = post(smd, "/locks/service/reservations/release",
                   {"ReservationKeys": [{"ID": i, "Key": keys[i]["ReservationKey"]}
                                        for i in keys],
                    "ProcessingModel": "flexible"}).json()
    assert release == {"Counts": {"Total": 2, "Success": 1, "Failure": 1},
                       "Success": {"ComponentIDs": [renewed]},
                       "Failure": [{"ID": short, "Reason": "NotFound"}]}
    assert requests.get(f"{smd}/admin/smd/locks", timeout=5).json()["Reservations"] == []


def test_admin_lock_and_unlock(smd):
    node = "x1000c0s2b0n1"
    assert post(smd, "/locks/lock", {"ComponentIDs": [node], "Reason": "maintenance",
                                     "ProcessingModel": "rigid"}).status_code == 200
    assert_problem(post(smd, "/locks/lock", {"ComponentIDs": [node]}), 400,
                   "Component is Locked")
    status = get(smd, "/locks/status", locked="true").json()["Components"]
    assert [s["ID"] for s in status] == [node]
    by_post = post(smd, "/locks/status", {"ComponentIDs": [node, "x1000c9s0b0n0"]}).json()
    assert by_post["Components"][0]["Locked"] is True
    assert by_post["NotFound"] == ["x1000c9s0b0n0"]
    unlock = post(smd, "/locks/unlock", {"ComponentIDs": [node]}).json()
    assert unlock["Success"] == {"ComponentIDs": [node]}
    assert reserve(smd, [node])["Success"][0]["ID"] == node


def test_reservations_disabled_by_the_admin(smd):
    node = "x1000c0s1b0n0"
    requests.put(f"{smd}/admin/smd/components/{node}", json={"ReservationDisabled": True},
                 timeout=5).raise_for_status()
    try:
        assert reserve(smd, [node])["Failure"] == [{"ID": node, "Reason": "Disabled"}]
    finally:
        requests.put(f"{smd}/admin/smd/components/{node}", json={"ReservationDisabled": False},
                     timeout=5)


# ---- admin faults --------------------------------------------------------------------------------------
def test_status_fault_answers_every_hsm_call(smd):
    requests.put(f"{smd}/admin/smd/fault", json={"status": 503}, timeout=5).raise_for_status()
    assert requests.get(f"{smd}/admin/smd/fault", timeout=5).json() == {"status": 503}
    response = post(smd, "/State/Components/Query", {"ComponentIDs": ["all"]})
    assert response.status_code == 503
    assert response.json()["title"] == "Service Unavailable"
    assert get(smd, "/service/liveness").status_code == 503
    requests.delete(f"{smd}/admin/smd/fault", timeout=5).raise_for_status()
    assert get(smd, "/service/liveness").status_code == 204


def test_down_fault_closes_connections_without_an_answer(smd):
    requests.put(f"{smd}/admin/smd/fault", json={"down": True}, timeout=5).raise_for_status()
    with pytest.raises(requests.ConnectionError):
        get(smd, "/service/liveness")
    host, port = urlsplit(smd).hostname, urlsplit(smd).port
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(b"GET /hsm/v2/service/liveness HTTP/1.1\r\nHost: smd\r\n\r\n")
        assert raw.recv(1024) == b""   # closed, nothing said
    requests.delete(f"{smd}/admin/smd/fault", timeout=5).raise_for_status()
    assert get(smd, "/service/liveness").status_code == 204


def test_bad_fault_body_is_refused(smd):
    response = requests.put(f"{smd}/admin/smd/fault", json={"status": 200}, timeout=5)
    assert_problem(response, 400, 'fault must be {"status": 400..599} or {"down": true}')
