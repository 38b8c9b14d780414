"""The simulator's SMD face, pure parts: SMD's reservation, lock and state-push rules."""
from __future__ import annotations

import itertools

import pytest

from pcs.simulator.fleet import Fleet
from pcs.simulator.smd.errors import BadRequest, NoSuchComponent
from pcs.simulator.smd.face import SmdFace, parse_fault
from pcs.simulator.smd.reservations import LockBook
from pcs.simulator.smd.state import ComponentSpec, ComponentStates

NODES = ["x1000c0s0b0n0", "x1000c0s0b0n1", "x1000c0s1b0n0"]
T0 = 1_000_000.0


def make_book(minute_s: float = 60.0) -> LockBook:
    counter = itertools.count(1)
    return LockBook(NODES, minute_s, new_uuid=lambda: f"uuid-{next(counter)}")


def create(book, ids, model="flexible", minutes=1, now=T0):
    return book.create({"ComponentIDs": ids, "ProcessingModel": model,
                        "ReservationDuration": minutes}, now)


def failures(answer):
    return {f["ID"]: f["Reason"] for f in answer["Failure"]}


# ---- reservations -----------------------------------------------------------------------------
def test_flexible_create_reserves_what_it_can_and_names_the_rest():
    book = make_book()
    book.lock({"ComponentIDs": [NODES[0]]}, T0)
    first = create(book, [NODES[1]])
    answer = create(book, NODES + ["x9c0s0b0n0"])
    assert [s["ID"] for s in answer["Success"]] == [NODES[2]]
    assert failures(answer) == {NODES[0]: "Locked", NODES[1]: "Reserved"}   # unknown: absent
    success = answer["Success"][0]
    assert success["DeputyKey"].startswith(f"{NODES[2]}:dk:")
    assert success["ReservationKey"].startswith(f"{NODES[2]}:rk:")
    assert success["ExpirationTime"] == "1970-01-12T13:47:40Z"   # T0 + 60 s
    assert first["Success"][0]["ID"] == NODES[1]


def test_disabled_component_fails_with_disabled():
    book = make_book()
    book.set_disabled(NODES[0], True)
    assert failures(create(book, [NODES[0], NODES[1]])) == {NODES[0]: "Disabled"}


def test_rigid_create_is_all_or_nothing():
    book = make_book()
    create(book, [NODES[1]])
    with pytest.raises(BadRequest, match="^Component is Reserved$"):
        create(book, NODES, model="rigid")
    assert set(book.reservations) == {NODES[1]}
    with pytest.raises(BadRequest, match="^Component is Reserved$"):
        book.create({"ComponentIDs": [NODES[1]], "ReservationDuration": 1}, T0)  # rigid default


@pytest.mark.parametrize("body, detail", [
    ({"ComponentIDs": ["x9c0s0b0n0"], "ReservationDuration": 1}, "Component not found"),
    ({"ComponentIDs": NODES, "ReservationDuration": 16}, "Invalid Reservation Duration"),
    ({"ComponentIDs": NODES, "ReservationDuration": 0},
     "ReservationDuration must be greater than 0"),
    ({"ComponentIDs": NODES, "ReservationDuration": 1, "ProcessingModel": "loose"},
     "Invalid Processing Model"),
])
def test_bad_create_requests_change_nothing(body, detail):
    book = make_book()
    with pytest.raises(BadRequest) as caught:
        book.create(body, T0)
    assert str(caught.value) == detail
    assert book.reservations == {}


def test_check_reports_valid_and_invalid_deputy_keys():
    book = make_book()
    deputy = create(book, [NODES[0]])["Success"][0]["DeputyKey"]
    answer = book.check({"DeputyKeys": [{"ID": NODES[0], "Key": deputy.upper()},
                                        {"ID": NODES[1], "Key": f"{NODES[1]}:dk:bogus"}]}, T0)
    assert answer["Success"] == [{"ID": NODES[0], "DeputyKey": deputy,
                                  "CreationTime": "1970-01-12T13:46:40Z",
                                  "ExpirationTime": "1970-01-12T13:47:40Z"}]
    assert answer["Failure"] == [{"ID": NODES[1], "Reason": "NotFound"}]
    with pytest.raises(BadRequest, match="Deputy Key required for operation"):
        book.check({"DeputyKeys": [{"ID": NODES[0], "Key": ""}]}, T0)


def test_reservation_expires_after_its_minutes_of_the_given_length():
    book = make_book(minute_s=2.0)
    deputy = create(book, [NODES[0]], minutes=3)["Success"][0]["DeputyKey"]
    keys = {"DeputyKeys": [{"ID": NODES[0], "Key": deputy}]}
    assert book.check(keys, T0 + 5.9)["Success"]
    assert book.check(keys, T0 + 6.0)["Failure"] == [{"ID": NODES[0], "Reason": "NotFound"}]
    assert create(book, [NODES[0]], now=T0 + 6.0)["Success"]   # free again


def test_renew_extends_and_release_frees():
    book = make_book(minute_s=1.0)
    success = create(book, [NODES[0], NODES[1]])["Success"]
    keys = [{"ID": s["ID"], "Key": s["ReservationKey"]} for s in success]
    renewed = book.renew({"ReservationKeys": keys[:1], "ProcessingModel": "flexible",
                          "ReservationDuration": 10}, T0 + 0.5)
    assert renewed == {"Counts": {"Total": 1, "Success": 1, "Failure": 0},
                       "Success": {"ComponentIDs": [NODES[0]]}, "Failure": []}
    assert book.reservations[NODES[0]].expires == T0 + 10.5
    # at T0 + 1 the second has expired: release finds only the first
    released = book.release({"ReservationKeys": keys, "ProcessingModel": "flexible"}, T0 + 1)
    assert released["Counts"] == {"Total": 2, "Success": 1, "Failure": 1}
    assert released["Success"] == {"ComponentIDs": [NODES[0]]}
    assert released["Failure"] == [{"ID": NODES[1], "Reason": "NotFound"}]
    assert book.reservations == {}


def test_rigid_renew_with_an_unknown_key_changes_nothing():
    book = make_book()
    key = create(book, [NODES[0]])["Success"][0]["ReservationKey"]
    body = {"ReservationKeys": [{"ID": NODES[0], "Key": key},
                                {"ID": NODES[1], "Key": f"{NODES[1]}:rk:bogus"}],
            "ReservationDuration": 5}
    with pytest.raises(BadRequest, match="^Component not found$"):
        book.renew(body, T0 + 1)
    assert book.reservations[NODES[0]].expires == T0 + 60


def test_a_missing_key_fails_the_call_or_every_id():
    book = make_book()
    create(book, [NODES[0]])
    body = {"ReservationKeys": [{"ID": NODES[0], "Key": ""}], "ProcessingModel": "flexible"}
    assert book.release(body, T0)["Failure"] == [{"ID": NODES[0], "Reason": "ServerError"}]
    with pytest.raises(BadRequest, match="Deputy Key required for operation"):
        book.release({**body, "ProcessingModel": "rigid"}, T0)
    with pytest.raises(BadRequest, match="Reservation Key required for operation"):
        book.renew({**body, "ProcessingModel": "rigid", "ReservationDuration": 1}, T0)


# ---- admin locks ---------------------------------------------------------------------------------
def test_lock_skips_reserved_and_locked_components():
    book = make_book()
    create(book, [NODES[1]])
    book.lock({"ComponentIDs": [NODES[0]]}, T0)
    answer = book.lock({"ComponentIDs": NODES, "ProcessingModel": "flexible"}, T0)
    assert answer["Success"] == {"ComponentIDs": [NODES[2]]}
    assert failures(answer) == {NODES[0]: "Locked", NODES[1]: "Reserved"}
    assert answer["Counts"] == {"Total": 3, "Success": 1, "Failure": 2}
    assert book.locked == {NODES[0], NODES[2]}


def test_rigid_lock_fails_on_the_first_refusal_and_unlock_needs_a_lock():
    book = make_book()
    book.lock({"ComponentIDs": [NODES[0]]}, T0)
    with pytest.raises(BadRequest, match="^Component is Locked$"):
        book.lock({"ComponentIDs": NODES}, T0)
    assert book.locked == {NODES[0]}
    # nothing left to unlock: SMD answers with this text whatever the reasons were
    with pytest.raises(BadRequest, match="^Component is Reserved$"):
        book.unlock({"ComponentIDs": [NODES[1]], "ProcessingModel": "flexible"}, T0)
    assert book.unlock({"ComponentIDs": [NODES[0]]}, T0)["Success"] == {
        "ComponentIDs": [NODES[0]]}
    assert book.locked == set()


def test_status_lists_locks_and_reservations():
    book = make_book()
    book.lock({"ComponentIDs": [NODES[0]]}, T0)
    create(book, [NODES[1]])
    status = {s["ID"]: s for s in book.status(NODES + ["x9"], T0)}
    assert status[NODES[0]] == {"ID": NODES[0], "Locked": True, "Reserved": False,
                                "ReservationDisabled": False}
    assert status[NODES[1]]["Reserved"] and "ExpirationTime" in status[NODES[1]]
    with pytest.raises(BadRequest, match="Component not found"):
        book.status(["x9"], T0)


# ---- component state --------------------------------------------------------------------------
def make_states(power=None):
    power = power if power is not None else {n: "Off" for n in NODES}
    specs = [ComponentSpec(n, "Node", "River", i + 1, "Compute") for i, n in enumerate(NODES)]
    return ComponentStates(specs, lambda component_id, now: power[component_id]), power


def test_state_follows_power_until_a_push_sets_it():
    states, power = make_states()
    power[NODES[0]] = "On"
    assert states.state(NODES[0], T0) == "On"
    states.push({"ComponentIDs": [NODES[0]], "State": "off"}, T0)
    power[NODES[0]] = "On"
    assert states.state(NODES[0], T0) == "Off"


@pytest.mark.parametrize("start, pushed, force, after", [
    ("Ready", "on", False, "Ready"),      # On applies only from On/Off/Standby/Halt
    ("Ready", "On", True, "On"),
    ("Ready", "OFF", False, "Off"),       # Off also from Ready
    ("Standby", "on", False, "On"),
    ("Off", "ready", False, "Ready"),
    ("Empty", "on", False, "Empty"),
])
def test_push_applies_smd_start_state_rules(start, pushed, force, after):
    states, _ = make_states()
    states.set_fields(NODES[0], {"State": start, "Flag": "Warning"})
    push = states.push({"ComponentIDs": [NODES[0], "x9c0s0b0n0"], "State": pushed,
                        "Force": force}, T0)
    assert states.state(NODES[0], T0) == after
    if after != start:
        assert push.changed == [NODES[0]]
        assert states.component(NODES[0], T0)["Flag"] == "OK"   # a push resets the Flag


@pytest.mark.parametrize("body, detail", [
    ({"State": "on"}, "Missing IDs"),
    ({"ComponentIDs": [], "State": "on"}, "Missing IDs"),
    ({"ComponentIDs": NODES}, "Missing State"),
    ({"ComponentIDs": NODES, "State": "sideways"}, "Argument was not a valid HMS State"),
    (["x"], "error decoding JSON: body must be an object"),
])
def test_bad_push_is_refused(body, detail):
    states, _ = make_states()
    with pytest.raises(BadRequest) as caught:
        states.push(body, T0)
    assert str(caught.value) == detail
    assert states.pushes == []


def test_query_and_filters():
    states, power = make_states()
    power[NODES[2]] = "On"
    assert [c["ID"] for c in states.query(["all"], T0)] == NODES
    assert [c["ID"] for c in states.query([NODES[1], "x9", NODES[1]], T0)] == [NODES[1]]
    with pytest.raises(BadRequest, match="Missing IDs"):
        states.query([], T0)
    states.set_fields(NODES[0], {"Role": "management"})
    assert [c["ID"] for c in states.filtered({"state": ["ON"]}, T0)] == [NODES[2]]
    assert [c["ID"] for c in states.filtered({"role": ["Management"]}, T0)] == [NODES[0]]
    assert [c["ID"] for c in states.filtered({"role": ["!management"], "type": ["node"]},
                                             T0)] == NODES[1:]
    with pytest.raises(NoSuchComponent):
        states.component("x9", T0)


# ---- the fleet as SMD sees it ---------------------------------------------------------------
def test_every_simulated_component_is_described():
    fleet = Fleet(2, nodes_per_bmc=2, chassis_bmcs=True, pdus=1, outlets_per_pdu=2, switches=1)
    face = SmdFace(fleet)
    types = {c["ID"]: c["Type"] for c in face.query({"ComponentIDs": ["all"]}, T0)}
    assert types == {
        "x1000c0s0b0n0": "Node", "x1000c0s0b0n1": "Node", "x1000c0s0b0": "NodeBMC",
        "x1000c0s1b0n0": "Node", "x1000c0s1b0n1": "Node", "x1000c0s1b0": "NodeBMC",
        "x1000c0": "Chassis", "x1000c0s0": "ComputeModule", "x1000c0s1": "ComputeModule",
        "x1000c0b0": "ChassisBMC", "x3000m0": "CabinetPDUController", "x3000m0p0": "CabinetPDU",
        "x3000m0p0v1": "CabinetPDUPowerConnector", "x3000m0p0v2": "CabinetPDUPowerConnector",
        "x3000c0w1": "MgmtSwitch"}
    assert face.component("x1000c0s1b0n1", T0)["NID"] == 4
    assert face.component("x1000c0s0", T0)["Class"] == "Mountain"
    assert face.component("x3000c0w1", T0)["Class"] == "River"
    assert face.power_map_list()[0] == {"id": "x1000c0s0b0n0", "poweredBy": ["x3000m0p0v1"]}
    assert face.power_map("x1000c0s1b0n0") == {"id": "x1000c0s1b0n0",
                                               "poweredBy": ["x3000m0p0v2"]}


def test_component_state_reads_the_fleets_power():
    fleet = Fleet(1, nodes_per_bmc=1, initial_state="off")
    face = SmdFace(fleet)
    assert face.component("x1000c0s0b0n0", T0)["State"] == "Off"
    fleet.set_power("x1000c0s0b0", "Node0", "On")
    assert face.component("x1000c0s0b0n0", T0)["State"] == "On"
    assert face.component("x1000c0s0b0", T0)["State"] == "On"


@pytest.mark.parametrize("body", [{"status": 200}, {"status": "500"}, {"down": False}, {},
                                  {"status": 500, "down": True}])
def test_bad_fault_bodies_are_refused(body):
    with pytest.raises(BadRequest):
        parse_fault(body)
