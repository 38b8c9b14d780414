"""`python -m pcs.simulator` as a command: flags, the inventory file, usage errors, clean exit."""
from __future__ import annotations

import json

import pytest
import requests
from harness import AUTH, Simulator, simulator_cli

from pcs.simulator import bmc_xname


def test_inventory_file_and_clean_exit(tmp_path):
    inv = tmp_path / "inv.json"
    s = Simulator(2, nodes_per_bmc=3, power_delay_s=0.0, initial_state="on", inventory_file=inv,
                  username="admin", password="secret")
    try:
        data = json.loads(inv.read_text())
        assert [d["xname"] for d in data] == ["x1000c0s0b0", "x1000c0s1b0"]
        assert data[1]["address"] == f"127.0.0.1:{s.port_base + 1}"
        assert data[0]["username"] == "admin" and data[0]["password"] == "secret"
        assert data[0]["nodes"] == ["x1000c0s0b0n0", "x1000c0s0b0n1", "x1000c0s0b0n2"]
        r = requests.get(s.url(0, "/redfish/v1/Systems/Node2"), auth=("admin", "secret"),
                         timeout=10)
        assert r.json()["PowerState"] == "On"
    finally:
        rc = s.stop()
    assert rc == 0


def test_thousand_bmcs_start():
    s = Simulator(1000, nodes_per_bmc=1, power_delay_s=0.0)
    try:
        assert s.startup_s < 30
        for i in (0, 1, 499, 998, 999):
            r = requests.get(s.url(i, "/redfish/v1/Systems"), auth=AUTH, timeout=10)
            assert r.status_code == 200
            assert r.json()["Members@odata.count"] == 1
        health = requests.get(f"{s.admin}/admin/health", timeout=10).json()
        assert health == {"bmcs": 1000, "nodes": 1000}
        bmcs = requests.get(f"{s.admin}/admin/bmcs", timeout=10).json()
        assert bmcs[999]["xname"] == bmc_xname(999)
        print(f"1000-BMC startup: {s.startup_s:.2f}s")
    finally:
        assert s.stop() == 0


def test_reset_types_flag():
    s = Simulator(1, power_delay_s=0.0, extra_args=["--reset-types", "On,ForceOff"])
    try:
        assert s.allowable_values(0, "Node0") == ["On", "ForceOff"]
        assert s.reset(0, "Node0", "ForceRestart").status_code == 400
    finally:
        assert s.stop() == 0
    bad = simulator_cli("--bmcs", "1", "--reset-types", "On,Bogus")
    assert bad.returncode == 2 and "Bogus" in bad.stderr


def test_device_flags_validation():
    for argv in (["--pdus", "-1"], ["--pdus", "1", "--outlets-per-pdu", "0"],
                 ["--switches", "-2"]):
        bad = simulator_cli("--bmcs", "1", *argv)
        assert bad.returncode == 2, argv


def test_fault_flags_install_faults_at_start():
    s = Simulator(2, power_delay_s=0.2, extra_args=[
        "--fault", "all=slow:delay=3,systems=Node1",
        "--fault", "x1000c0s0b0n0=refuse:reset_types=Nmi+GracefulRestart",
        "--fault", "x1000c0s1b0=status:status=503,retry_after=2,count=1,message=Busy"])
    try:
        b0 = s.fault("x1000c0s0b0")["faults"]
        assert b0 == [{"fault": "slow", "delay": 3.0, "systems": ["Node1"]},
                      {"fault": "refuse", "reset_types": ["Nmi", "GracefulRestart"],
                       "systems": ["Node0"]}]
        # the BMC-wide status fault replaced the slow fault it overlaps
        assert s.fault("x1000c0s1b0")["faults"] == [{
            "fault": "status", "status": 503, "message": "Busy", "retry_after": 2,
            "requests": "actions", "count": 1, "remaining": 1, "spent": False}]
        assert s.reset(0, "Node0", "GracefulRestart").status_code == 400
        assert s.reset(0, "Node1").status_code == 204
        assert s.power(0, "Node1") == "PoweringOn"
        r = s.reset(1, "Node0")
        assert (r.status_code, r.headers["Retry-After"]) == (503, "2")
        assert s.reset(1, "Node0").status_code == 204
    finally:
        assert s.stop() == 0


@pytest.mark.parametrize("flag, problem", [
    ("x1000c0s0b0", "is not TARGET=KIND"),
    ("x1000c0s0b0=melt", "fault must be one of"),
    ("x1000c0s0b0=status:status=700", "status must be an integer 100..599"),
    ("x1000c0s0b0=refuse:reset_types=Bogus", "unsupported ResetType 'Bogus'"),
    ("x1000c0s9b0=hang", "unknown BMC 'x1000c0s9b0'"),
    ("x1000c0s0b0n4=hang", "unknown node"),
    ("x1000c0s0b0=slow:delay=1,systems=Node3", "no system 'Node3'"),
])
def test_bad_fault_flags_are_usage_errors(flag, problem):
    bad = simulator_cli("--bmcs", "1", "--fault", flag)
    assert bad.returncode == 2
    assert "argument --fault" in bad.stderr and problem in bad.stderr


def test_help_documents_fault_flag():
    result = simulator_cli("--help")
    assert result.returncode == 0
    out = result.stdout
    assert "--fault TARGET=KIND[:key=value,...]" in out
    for kind in ("status:", "close:", "hang:", "down", "ignore:", "slow:", "fallback:",
                 "task:", "refuse:"):
        assert kind in out
