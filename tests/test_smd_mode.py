"""pcs in smd mode (INTEGRATION.md §1–3) against the simulator's SMD face, a separate process
over HTTP: inventory read from SMD, service reservations taken and released, SMD locks and
deputy keys honoured, state pushed back, SMD failures reported with upstream's strings.
Credentials come from upstream's fake store (tests/test_vault.py covers Vault)."""
from __future__ import annotations

import contextlib
import dataclasses
import signal
import time
import uuid

import pytest
import requests
from harness import (Simulator, Worker, migrated_database, wait_completed_reaping, wait_for,
                     wait_transition)

pytestmark = pytest.mark.integration

# A minute of five seconds, for task deadlines and for SMD's reservation durations alike:
# reservations lapse in seconds, and are renewed every 5/6 s.
MINUTE_S = 5.0
PASSWORD = "initial0"


@dataclasses.dataclass
class SmdStack:
    settings: object
    sim: Simulator
    client: object
    db: object
    worker: Worker
    log_dir: object

    def restart_worker(self, name: str) -> Worker:
        self.worker = Worker(self.settings.as_env(), self.log_dir / f"worker-{name}.log",
                             name=name)
        return self.worker

    def smd(self, method: str, path: str, body: dict | None = None) -> requests.Response:
        return requests.request(method, f"{self.sim.smd}{path}", json=body, timeout=10)

    def transition(self, operation: str, names: list[str], **extra) -> dict:
        locations = [{"xname": n} if isinstance(n, str) else n for n in names]
        response = self.client.post("/transitions", json={
            "operation": operation, "location": locations, **extra})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def run(self, operation: str, names: list, timeout: float = 60.0, **extra) -> dict:
        body = wait_transition(self.client, self.transition(operation, names, **extra)[
            "transitionID"], timeout=timeout)
        return {t["xname"]: t for t in body["tasks"]}

    def sweep(self) -> None:
        from pcs import monitor
        from pcs.sources.credentials import credential_source
        from pcs.sources.inventory import inventory_source
        from pcs.sources.state_push import state_push
        s = self.settings
        assert monitor.sweep(s, self.db, credential_source(s), inventory_source(s),
                             state_push(s)) is not None

    def held(self) -> dict:
        return self.smd("GET", "/admin/smd/locks").json()

    def smd_state(self, xname: str) -> str:
        return self.smd("GET", f"/hsm/v2/State/Components/{xname}").json()["State"]


@pytest.fixture(scope="module")
def stack(server_urls, settings, scratch_dir):
    from pcs.api import create_app
    from pcs.db import Database
    sim = Simulator(bmcs=4, nodes_per_bmc=2, power_delay_s=0.3, chassis_bmcs=True, pdus=1,
                    outlets_per_pdu=2, smd=True, smd_minute_s=MINUTE_S, password=PASSWORD)
    with migrated_database(server_urls[0], "pcs_smd") as url:
        private = dataclasses.replace(
            settings, database_url=url, queue_name=f"pcs-smd-{uuid.uuid4().hex[:6]}",
            minute_s=MINUTE_S, sms_server=sim.smd, bmc_scheme="http", smd_timeout_s=5.0,
            fake_vault_enabled=True, fake_vault_user="root", fake_vault_password=PASSWORD)
        app = create_app(private)
        db = Database(url, pool_size=2)
        here = SmdStack(private, sim, app.test_client(), db,
                        Worker(private.as_env(), scratch_dir / "worker-smd.log", name="smd"),
                        scratch_dir)
        try:
            yield here
        finally:
            here.worker.stop()
            db.dispose()
            app.extensions["pcs"].db.dispose()
            sim.stop()


@pytest.fixture
def smd(stack):
    """The stack; SMD faults, locks, callers' reservations and pushes cleared afterwards."""
    yield stack
    stack.smd("DELETE", "/admin/smd/fault")
    held = stack.held()
    keys = [{"ID": r["ID"], "Key": r["ReservationKey"]} for r in held["Reservations"]]
    if keys:
        stack.smd("POST", "/hsm/v2/locks/service/reservations/release",
                  {"ReservationKeys": keys, "ProcessingModel": "flexible"})
    if held["Locked"]:
        stack.smd("POST", "/hsm/v2/locks/unlock", {"ComponentIDs": held["Locked"]})
    stack.smd("DELETE", "/admin/smd/pushes")


@contextlib.contextmanager
def smd_fault(stack: SmdStack, **fault):
    stack.smd("PUT", "/admin/smd/fault", fault)
    try:
        yield
    finally:
        stack.smd("DELETE", "/admin/smd/fault")


# -- inventory ---------------------------------------------------------------------------------
def test_registration_answers_409_saying_the_inventory_comes_from_smd(smd):
    response = smd.client.post("/v1/inventory/bmcs", json={
        "xname": "x1000c0s0b0", "address": "127.0.0.1:1", "username": "root", "password": "x"})
    assert response.status_code == 409
    assert "SMD" in response.get_json()["detail"]
    assert smd.client.delete("/v1/inventory/bmcs/x1000c0s0b0").status_code == 409


def test_power_status_of_every_controllable_type_comes_from_a_sweep_of_smd(smd):
    smd.sweep()
    names = ["x1000c0s0b0n0", "x1000c0s0b0", "x1000c0b0", "x1000c0", "x1000c0s0"]
    query = "&".join(f"xname={n}" for n in names)
    body = smd.client.get(f"/power-status?{query}").get_json()["status"]
    found = {s["xname"]: s for s in body}
    assert set(found) == set(names)
    for name in names:
        assert found[name]["powerState"] in ("on", "off"), found[name]
        assert found[name]["managementState"] == "available"
        assert found[name]["error"] == ""
        assert found[name]["supportedPowerTransitions"], found[name]


def test_a_name_smd_does_not_know_fails_with_xname_not_found_in_hsm(smd):
    tasks = smd.run("on", ["x1000c7s7b0n0"])
    assert tasks["x1000c7s7b0n0"]["taskStatus"] == "failed"
    assert tasks["x1000c7s7b0n0"]["taskStatusDescription"] == "Failed to achieve transition"
    assert tasks["x1000c7s7b0n0"]["error"] == "Xname not found in HSM"


def test_smd_failing_when_the_transition_is_stored_fails_its_tasks_with_upstreams_text(smd):
    with smd_fault(smd, status=500):
        created = smd.transition("on", ["x1000c0s3b0n0"])
    body = wait_transition(smd.client, created["transitionID"])
    assert body["tasks"] == [{"xname": "x1000c0s3b0n0", "taskStatus": "failed",
                              "taskStatusDescription": "Failed to achieve transition",
                              "error": "Error retrieving HSM data"}]


def test_health_tells_whether_smd_answers(smd):
    assert smd.client.get("/health").get_json()["StateManager"] == "connected, responsive"
    details = smd.client.get("/v1/health/details").get_json()["inventory"]
    assert (details["source"], details["ok"]) == ("smd", True)
    with smd_fault(smd, down=True):
        assert smd.client.get("/health").get_json()["StateManager"] == "not connected"
        assert smd.client.get("/readiness").status_code == 503


# -- reservations --------------------------------------------------------------------------------
def test_a_transition_reserves_its_components_while_acting_and_releases_them(smd):
    smd.sim.set_fault("x1000c0s1b0", fault="slow", delay=3)
    try:
        created = smd.transition("on", ["x1000c0s1b0n0", "x1000c0s1b0n1"])

        def reserved():
            ids = {r["ID"] for r in smd.held()["Reservations"]}
            return ids if {"x1000c0s1b0n0", "x1000c0s1b0n1"} <= ids else None
        wait_for(reserved, timeout=20, what="pcs's reservations in SMD")
        body = wait_transition(smd.client, created["transitionID"], timeout=60)
    finally:
        smd.sim.clear_fault("x1000c0s1b0")
    assert {t["taskStatus"] for t in body["tasks"]} == {"succeeded"}, body["tasks"]
    assert not {r["ID"] for r in smd.held()["Reservations"]} & {"x1000c0s1b0n0",
                                                                 "x1000c0s1b0n1"}


def test_a_component_locked_in_smd_fails_at_once_unable_to_reserve(smd):
    assert smd.smd("POST", "/hsm/v2/locks/lock",
                   {"ComponentIDs": ["x1000c0s2b0n0"]}).status_code == 200
    tasks = smd.run("force-off", ["x1000c0s2b0n0", "x1000c0s2b0n1"])
    assert tasks["x1000c0s2b0n0"] == {
        "xname": "x1000c0s2b0n0", "taskStatus": "failed",
        "taskStatusDescription": "Failed to achieve transition",
        "error": "Unable to reserve component"}
    assert tasks["x1000c0s2b0n1"]["taskStatus"] == "succeeded"


def test_a_valid_deputy_key_is_used_without_taking_the_callers_reservation(smd):
    made = smd.smd("POST", "/hsm/v2/locks/service/reservations", {
        "ComponentIDs": ["x1000c0s2b0n1"], "ProcessingModel": "rigid",
        "ReservationDuration": 15}).json()["Success"][0]
    tasks = smd.run("on", [{"xname": "x1000c0s2b0n1", "deputyKey": made["DeputyKey"]}])
    assert tasks["x1000c0s2b0n1"]["taskStatus"] == "succeeded", tasks
    still = {r["ID"]: r for r in smd.held()["Reservations"]}
    assert still["x1000c0s2b0n1"]["ReservationKey"] == made["ReservationKey"]


def test_an_invalid_deputy_key_on_a_component_reserved_elsewhere_fails(smd):
    smd.smd("POST", "/hsm/v2/locks/service/reservations", {
        "ComponentIDs": ["x1000c0s2b0n1"], "ProcessingModel": "rigid",
        "ReservationDuration": 15})
    tasks = smd.run("on", [{"xname": "x1000c0s2b0n1",
                            "deputyKey": "x1000c0s2b0n1:dk:not-the-key"}])
    assert tasks["x1000c0s2b0n1"]["taskStatus"] == "failed"
    assert tasks["x1000c0s2b0n1"]["error"] == (
        "Invalid deputy key and unable to reserve component")


def test_smd_failing_when_a_task_is_about_to_act_fails_it_acquiring_reservations(smd):
    # The second transition waits in the node's queue behind a slow first one; SMD fails
    # before the second one's turn comes.
    smd.sim.set_fault("x1000c0s3b0", fault="slow", delay=3)
    try:
        first = smd.transition("on", ["x1000c0s3b0n1"])
        second = smd.transition("force-off", ["x1000c0s3b0n1"])
        with smd_fault(smd, status=500):
            wait_transition(smd.client, first["transitionID"], timeout=60)
            body = wait_transition(smd.client, second["transitionID"], timeout=60)
    finally:
        smd.sim.clear_fault("x1000c0s3b0")
    task = body["tasks"][0]
    assert task["taskStatus"] == "failed"
    assert task["taskStatusDescription"] == "Error acquiring reservations"
    assert task["error"].startswith("ERROR aquiring needed reservations: ")


def test_a_reservation_that_lapsed_before_a_later_tier_fails_reservation_expired(smd):
    # Nodes first, then their slot (force-off, children first). While the nodes' slow
    # shutdown runs, SMD answers nothing but errors for longer than a reservation lasts, so
    # the slot's reservation cannot be renewed and lapses; its tier's check then fails.
    names = ["x1000c0s0b0n0", "x1000c0s0b0n1", "x1000c0s0"]
    assert {t["taskStatus"] for t in smd.run("on", names).values()} == {"succeeded"}
    smd.sim.set_fault("x1000c0s0b0", fault="slow", delay=3 * MINUTE_S)
    try:
        created = smd.transition("force-off", names)
        wait_for(lambda: "x1000c0s0" in {r["ID"] for r in smd.held()["Reservations"]},
                 timeout=20, what="the slot's reservation")
        with smd_fault(smd, status=500):
            time.sleep(1.5 * MINUTE_S)   # longer than a reservation lasts: it lapses
        body = wait_transition(smd.client, created["transitionID"], timeout=90)
    finally:
        smd.sim.clear_fault("x1000c0s0b0")
    tasks = {t["xname"]: t for t in body["tasks"]}
    assert tasks["x1000c0s0"]["taskStatus"] == "failed", tasks
    assert tasks["x1000c0s0"]["error"] == "Reservation expired"
    assert tasks["x1000c0s0b0n0"]["taskStatus"] == "succeeded"


# -- state pushed back ---------------------------------------------------------------------------
def test_smd_holds_the_new_state_as_soon_as_the_transition_completes(smd):
    smd.run("force-off", ["x1000c0s1b0n0"])
    smd.smd("DELETE", "/admin/smd/pushes")
    for operation, state in (("on", "On"), ("force-off", "Off")):
        tasks = smd.run(operation, ["x1000c0s1b0n0"])
        assert tasks["x1000c0s1b0n0"]["taskStatus"] == "succeeded", tasks
        assert smd.smd_state("x1000c0s1b0n0") == state   # read once, no retry (upstream's CT)
    pushed = smd.smd("GET", "/admin/smd/pushes").json()["pushes"]
    assert [(p["ComponentIDs"], p["State"].lower()) for p in pushed][-2:] == [
        (["x1000c0s1b0n0"], "on"), (["x1000c0s1b0n0"], "off")]


def test_a_push_smd_refused_is_sent_again_by_the_sweep(smd):
    from sqlalchemy import text
    smd.run("force-off", ["x1000c0s1b0n1"])
    smd.sim.set_fault("x1000c0s1b0", fault="slow", delay=2)
    try:
        created = smd.transition("on", ["x1000c0s1b0n1"])
        time.sleep(1.0)   # the action is out; SMD fails before the state is confirmed
        with smd_fault(smd, status=500):
            body = wait_transition(smd.client, created["transitionID"], timeout=60)
    finally:
        smd.sim.clear_fault("x1000c0s1b0")
    assert body["tasks"][0]["taskStatus"] == "succeeded"   # SMD never decides the outcome
    with smd.db.transaction() as s:
        assert s.execute(text("SELECT state FROM smd_state_outbox WHERE xname = :x"),
                         {"x": "x1000c0s1b0n1"}).scalar() == "on"
    smd.sweep()
    assert smd.smd_state("x1000c0s1b0n1") == "On"
    with smd.db.transaction() as s:
        assert s.execute(text("SELECT count(*) FROM smd_state_outbox")).scalar() == 0


def test_a_chassis_its_slot_and_nodes_power_in_tiers_from_smd_data(smd):
    names = ["x1000c0", "x1000c0s2", "x1000c0s2b0n0", "x1000c0s2b0n1"]
    off = smd.run("force-off", names)
    assert {t["taskStatus"] for t in off.values()} == {"succeeded"}, off
    # The chassis going off took every slot with it: the others come back too.
    on = smd.run("on", names + ["x1000c0s0", "x1000c0s1", "x1000c0s3"])
    assert {t["taskStatus"] for t in on.values()} == {"succeeded"}, on
    assert {smd.smd_state(n) for n in names} == {"On"}


def test_no_password_reaches_smd_the_api_or_the_worker_log(smd, scratch_dir):
    smd.run("on", ["x1000c0s3b0n0"])
    seen = [smd.client.get("/v1/inventory/bmcs").get_data(as_text=True),
            smd.client.get("/v1/inventory/components").get_data(as_text=True),
            smd.smd("GET", "/admin/smd/pushes").text, smd.smd("GET", "/admin/smd/locks").text,
            (scratch_dir / "worker-smd.log").read_text()]
    assert not [text for text in seen if PASSWORD in text]


def test_a_dead_workers_reservation_lapses_and_its_task_resumes_under_a_new_one(smd):
    node = "x1000c0s3b0n1"
    smd.run("force-off", [node])
    smd.sim.set_fault("x1000c0s3b0", fault="hang", requests="actions")
    try:
        created = smd.transition("on", [node])
        first = wait_for(lambda: {r["ID"]: r["ReservationKey"] for r in
                                  smd.held()["Reservations"]}.get(node),
                         timeout=20, what="the task's reservation")
        smd.worker.process.send_signal(signal.SIGKILL)   # mid-step, holding the reservation
        smd.worker.stop()
        # Nobody renews it now: SMD lets it lapse within its one-minute duration.
        wait_for(lambda: node not in {r["ID"] for r in smd.held()["Reservations"]},
                 timeout=3 * MINUTE_S, what="the dead worker's reservation to lapse")
    finally:
        smd.sim.clear_fault("x1000c0s3b0")
    smd.restart_worker("smd-after-kill")
    # Taken back by the reaper, the task renews its lapsed reservation, which SMD no longer
    # knows, so it takes a new one: acting without one is impossible in smd mode.
    body = wait_completed_reaping(smd.client, smd.settings, created["transitionID"])
    assert body["tasks"][0]["taskStatus"] == "succeeded", body["tasks"]
    assert first not in {r["ReservationKey"] for r in smd.held()["Reservations"]}


def test_an_outlet_feeding_a_node_that_failed_to_go_off_stays_on(smd):
    node = "x1000c0s1b0n0"
    outlet = smd.smd("GET", f"/hsm/v2/sysinfo/powermaps/{node}").json()["poweredBy"][0]
    assert {t["taskStatus"] for t in smd.run("on", [node, outlet]).values()} == {"succeeded"}
    smd.sim.set_fault("x1000c0s1b0", fault="ignore", count=5)   # the shutdown never happens
    try:
        tasks = smd.run("soft-off", [node, outlet], taskDeadlineMinutes=1)
    finally:
        smd.sim.clear_fault("x1000c0s1b0")
    assert tasks[node]["taskStatus"] == "failed", tasks
    assert tasks[outlet]["taskStatus"] == "failed", tasks
    assert tasks[outlet]["error"] == (
        f"Timeout waiting for transition, gracefulshutdown, on dependency, {node}.")


def test_a_slot_whose_node_smd_would_not_reserve_fails_naming_it(smd):
    names = ["x1000c0s2", "x1000c0s2b0n0", "x1000c0s2b0n1"]
    assert {t["taskStatus"] for t in smd.run("on", names).values()} == {"succeeded"}
    smd.smd("POST", "/hsm/v2/locks/lock", {"ComponentIDs": ["x1000c0s2b0n0"]})
    tasks = smd.run("force-off", names)
    assert tasks["x1000c0s2b0n0"]["error"] == "Unable to reserve component"
    expected = "Unable to reserve dependent component, x1000c0s2b0n0."
    assert (tasks["x1000c0s2"]["taskStatus"], tasks["x1000c0s2"]["taskStatusDescription"],
            tasks["x1000c0s2"]["error"]) == ("failed", expected, expected)
    assert tasks["x1000c0s2b0n1"]["taskStatus"] == "succeeded"


def test_with_oauth2_every_smd_call_carries_a_bearer_from_the_token_url(smd):
    from pcs.sources.inventory import inventory_source
    from pcs.sources.smd import SmdUnavailable
    smd.smd("PUT", "/admin/smd/oauth", {"clientId": "pcs", "clientSecret": "s3cret",
                                        "expiresIn": 60})
    try:
        oauth = dict(oauth2_client_id="pcs", oauth2_token_url=f"{smd.sim.smd}/oauth/token",
                     oauth2_scopes="smd-read,smd-write")
        right = dataclasses.replace(smd.settings, oauth2_client_secret="s3cret", **oauth)
        wrong = dataclasses.replace(smd.settings, oauth2_client_secret="wrong", **oauth)
        plain = inventory_source(smd.settings)
        with pytest.raises(SmdUnavailable):
            plain.client.components(["x1000c0s0b0n0"])   # no token: SMD answers 401
        with pytest.raises(SmdUnavailable, match="no OAuth2 token"):
            inventory_source(wrong).client.components(["x1000c0s0b0n0"])
        client = inventory_source(right).client
        for _ in range(3):
            assert client.components(["x1000c0s0b0n0"])[0]["ID"] == "x1000c0s0b0n0"
        assert smd.smd("GET", "/admin/smd/oauth").json()["issued"] == 1   # kept, not re-asked
    finally:
        smd.smd("DELETE", "/admin/smd/oauth")


def test_a_partial_oauth2_configuration_refuses_to_start(smd):
    from pcs.api import create_app
    from pcs.errors import ConfigurationError
    partial = dataclasses.replace(smd.settings, oauth2_client_id="pcs")
    with pytest.raises(ConfigurationError, match="OAUTH2_CLIENT_SECRET"):
        create_app(partial)


def test_pushes_asked_for_together_go_out_as_one_patch_per_state(smd):
    from concurrent.futures import ThreadPoolExecutor

    from pcs.sources.state_push import state_push
    push = state_push(smd.settings)
    names = [f"x1000c0s{s}b0n{n}" for s in range(4) for n in range(2)]
    smd.smd("DELETE", "/admin/smd/pushes")
    with ThreadPoolExecutor(len(names)) as pool:   # eight steps confirming at once
        left = list(pool.map(lambda x: push.push({x: "off" if x.endswith("1") else "on"}),
                             names))
    assert left == [{}] * len(names)
    pushed = smd.smd("GET", "/admin/smd/pushes").json()["pushes"]
    assert sorted(x for p in pushed for x in p["ComponentIDs"]) == sorted(names)
    assert len(pushed) < len(names)
    assert all(len({x[-1] for x in p["ComponentIDs"]}) == 1 for p in pushed)   # one state each
