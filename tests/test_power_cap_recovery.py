"""Power capping on stacks of their own: a worker killed mid-task (the task resumes on another
worker and reports what the BMC holds), and SMD as the inventory source (style and bounds from
ComponentEndpoints, Role Management refused, SMD down)."""
from __future__ import annotations

import dataclasses
import signal
import time
import uuid

import pytest
import requests

from harness import Simulator, Worker, admin_execute, wait_for, with_database

pytestmark = pytest.mark.integration


def wait_cap(client, settings, task_id: str, timeout: float = 60.0) -> dict:
    """Wait for the power cap to complete, sending the reaper every second as beat would."""
    from pcs.broker import Publisher
    publisher = Publisher(settings)

    def completed():
        publisher.celery.send_task("pcs.reap", queue=settings.queue_name)
        body = client.get(f"/power-cap/{task_id}").get_json()
        return body if body["taskStatus"] == "completed" else None
    return wait_for(completed, timeout=timeout, interval=1.0, what="the power cap to complete")


def test_a_worker_killed_mid_patch_leaves_it_to_another(private_stack_factory, scratch_dir):
    from pcs.simulator import bmc_xname
    settings, sim, client = private_stack_factory(
        Simulator(bmcs=1, nodes_per_bmc=1, cap_styles=["power"]), lease_s=1.0,
        status_timeout_s=1.0, action_timeout_s=1.0)
    bmc = bmc_xname(0)
    victim = Worker(settings.as_env(), scratch_dir / "cap-victim.log", name="cap-victim")
    survivor = None
    try:
        sim.set_fault(bmc, fault="hang", requests="all")
        since = time.time()
        response = client.patch("/power-cap", json={"components": [{
            "xname": f"{bmc}n0", "controls": [{"name": "Node Power Control", "value": 500}]}]})
        task_id = response.get_json()["taskID"]
        wait_for(lambda: any(e["path"].endswith("/Power") for e in sim.log(bmc, since)),
                 timeout=30, what="the worker to ask the BMC")
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        sim.clear_fault(bmc)
        survivor = Worker(settings.as_env(), scratch_dir / "cap-survivor.log",
                          name="cap-survivor")
        body = wait_cap(client, settings, task_id)
    finally:
        victim.stop()
        if survivor:
            survivor.stop()
    assert body["components"] == [{"xname": f"{bmc}n0", "powerCapLimits": [
        {"name": "Node Power Control", "currentValue": 500, "maximumValue": 850,
         "minimumValue": 350}]}]
    assert sim.capping(bmc)["nodes"]["Node0"][0]["held"] == 500
    found = client.get(f"/v1/power-cap/{task_id}/components/{bmc}n0").get_json()
    assert found["task"]["attempts"] == 2
    assert [e["method"] for e in found["exchanges"]][-3:] == ["GET", "PATCH", "GET"]


@pytest.fixture
def smd_stack(server_urls, settings, scratch_dir):
    """pcs reading its inventory from the simulator's SMD face (BMC logins from the fake
    credential store), with a worker of its own."""
    from pcs.api import create_app
    from pcs.runtime.migrate import upgrade
    from pcs.simulator import bmc_xname
    styles = ["cray", "power", "apollo", "controls", "none"]
    sim = Simulator(bmcs=len(styles), nodes_per_bmc=1, smd=True,
                    cap_styles=[f"{bmc_xname(i)}={s}" for i, s in enumerate(styles)])
    name = f"pcs_capsmd_{uuid.uuid4().hex[:8]}"
    admin_execute(server_urls[0], f'CREATE DATABASE "{name}"')
    url = with_database(server_urls[0], name)
    upgrade(url)
    private = dataclasses.replace(settings, database_url=url, sms_server=sim.smd,
                                  queue_name=f"pcs-capsmd-{uuid.uuid4().hex[:6]}",
                                  bmc_scheme="http", fake_vault_enabled=True,
                                  fake_vault_user="root", fake_vault_password=sim.password)
    app = create_app(private)
    worker = Worker(private.as_env(), scratch_dir / f"{name}.log", name=name)
    yield private, sim, app.test_client(), {s: bmc_xname(i) for i, s in enumerate(styles)}
    worker.stop()
    app.extensions["pcs"].db.dispose()
    sim.stop()
    admin_execute(server_urls[0], f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_smd_names_the_style_and_bounds(smd_stack):
    settings, sim, client, bmcs = smd_stack
    nodes = {style: f"{bmc}n0" for style, bmc in bmcs.items()}
    body = wait_cap(client, settings, client.post("/power-cap/snapshot", json={
        "xnames": list(nodes.values())}).get_json()["taskID"])
    by_xname = {c["xname"]: c for c in body["components"]}
    assert by_xname[nodes["cray"]]["powerCapLimits"][0]["name"] == "Node Power Limit"
    assert by_xname[nodes["apollo"]]["limits"] == {"hostLimitMax": 1500, "hostLimitMin": 500}
    assert by_xname[nodes["none"]] == {"xname": nodes["none"], "error": "Missing Power Cap URI"}
    # SMD describes DMTF Controls as it does Cray's; the BMC without Controls.Deep gets each
    # control PATCHed.
    for style, value in (("cray", 500), ("power", 400), ("apollo", 700), ("controls", 800),
                         ("cray", 0), ("controls", 0)):
        control = "Node Power Control" if style == "power" else "Node Power Limit"
        body = wait_cap(client, settings, client.patch("/power-cap", json={"components": [
            {"xname": nodes[style], "controls": [{"name": control, "value": value}]}]}
        ).get_json()["taskID"])
        assert body["components"][0]["powerCapLimits"][0]["currentValue"] == value, body
        assert sim.capping(bmcs[style])["nodes"]["Node0"][0]["held"] == (value or None)


def test_smd_role_and_outage(smd_stack):
    settings, sim, client, bmcs = smd_stack
    node = f"{bmcs['cray']}n0"
    requests.put(f"{sim.smd}/admin/smd/components/{node}", json={"Role": "Management"},
                 timeout=5).raise_for_status()
    body = wait_cap(client, settings, client.post("/power-cap/snapshot", json={
        "xnames": [node]}).get_json()["taskID"])
    # One operation per control of the Cray style, each refused, merged as upstream merges.
    refused = "Power capping Management nodes is not supported"
    assert body["components"] == [{"xname": node, "error": f"{refused}; {refused}"}]
    assert body["taskCounts"]["un-supported"] == 2
    requests.put(f"{sim.smd}/admin/smd/fault", json={"status": 500}, timeout=5)
    try:
        body = wait_cap(client, settings, client.post("/power-cap/snapshot", json={
            "xnames": [f"{bmcs['power']}n0"]}).get_json()["taskID"])
    finally:
        requests.delete(f"{sim.smd}/admin/smd/fault", timeout=5)
    assert body["components"] == [{"xname": f"{bmcs['power']}n0",
                                   "error": "Error retrieving HSM data"}]
