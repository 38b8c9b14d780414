"""The simulator's admin API over real HTTP: health, the request log, errors."""
from __future__ import annotations

import time

import requests
from harness import AUTH, RESET

from pcs.simulator import bmc_xname


def test_health(flat_sim):
    assert requests.get(f"{flat_sim.admin}/admin/health", timeout=10).json() == {
        "bmcs": 4, "nodes": 8}


def test_admin_errors(flat_sim):
    r = requests.put(f"{flat_sim.admin}/admin/bmcs/x9999c0s0b0/fault", json={"fault": "hang"},
                     timeout=10)
    assert r.status_code == 404
    r = requests.put(f"{flat_sim.admin}/admin/bmcs/{bmc_xname(0)}/fault",
                     json={"fault": "nonsense"}, timeout=10)
    assert r.status_code == 400


def test_request_log(flat_sim):
    requests.delete(f"{flat_sim.admin}/admin/log", timeout=10).raise_for_status()
    t0 = time.time() - 1
    requests.get(flat_sim.url(2, "/redfish/v1/Systems"), auth=AUTH, timeout=10)
    requests.post(flat_sim.url(2, RESET.format("Node1")), auth=AUTH,
                  json={"ResetType": "Nmi"}, timeout=10)
    requests.get(flat_sim.url(1), timeout=10)
    x = bmc_xname(2)
    entries = requests.get(f"{flat_sim.admin}/admin/log", params={"bmc": x, "since": t0},
                           timeout=10).json()["entries"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/redfish/v1/Systems", 200),
        ("POST", RESET.format("Node1"), 204)]
    assert entries[1]["body"] == {"ResetType": "Nmi"}
    assert entries[0]["body"] is None
    assert all(e["bmc"] == x and e["time"] >= t0 for e in entries)
    all_entries = requests.get(f"{flat_sim.admin}/admin/log", timeout=10).json()["entries"]
    assert len(all_entries) == 3
    future = requests.get(f"{flat_sim.admin}/admin/log", params={"since": time.time() + 60},
                          timeout=10).json()["entries"]
    assert future == []


def test_fault_admin_errors_name_the_problem(flat_sim):
    url = f"{flat_sim.admin}/admin/bmcs/{bmc_xname(0)}"
    cases = [(f"{url}/fault", {"fault": "slow"}, 400, "needs delay"),
             (f"{url}/fault", {"fault": "status", "retry_after": "x"}, 400, "retry_after"),
             (f"{url}/fault", {"fault": "hang", "systems": ["Node5"]}, 400, "no system"),
             (f"{url}n0/fault", {"fault": "close", "systems": ["Node0"]}, 400, "not both"),
             (f"{url}n0/fault", {"fault": "down"}, 400, "whole BMC"),
             (f"{url}n7/fault", {"fault": "close"}, 404, "unknown node")]
    for target, spec, status, problem in cases:
        r = requests.put(target, json=spec, timeout=10)
        assert r.status_code == status and problem in r.json()["error"], (spec, r.text)
    assert requests.get(f"{url}/fault", timeout=10).json()["faults"] == []
