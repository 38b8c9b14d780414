"""`pcs up`: the whole stack as child processes, embedded servers by default, external with URLs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import requests

from harness import (ROOT, admin_execute, answers, free_port_block, wait_for, with_database)

pytestmark = pytest.mark.integration


class Up:
    """`pcs up --simulate 4` on free ports, its output collected in a file."""

    def __init__(self, state_dir: Path, env_extra: dict | None = None):
        base = free_port_block(8)
        self.api_port, self.flower_port = base, base + 1
        self.sim_base = base + 4   # simulator admin on base+3, BMCs base+4, base+5
        env = {k: v for k, v in os.environ.items() if not k.startswith("PCS_")}
        env.update({"PCS_STATE_DIR": str(state_dir), "PCS_API_PORT": str(self.api_port),
                    "PCS_FLOWER_PORT": str(self.flower_port),
                    "PCS_EMBEDDED_PG_PORT": str(free_port_block(1)),
                    "PCS_EMBEDDED_BROKER_PORT": str(free_port_block(1)),
                    "PCS_QUEUE_NAME": f"pcs-up-{uuid.uuid4().hex[:6]}",
                    "PCS_WORKER_CONCURRENCY": "4", "PCS_API_THREADS": "4"})
        env.update(env_extra or {})
        self.output = state_dir.parent / f"up-{uuid.uuid4().hex[:6]}.out"
        self._out = open(self.output, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pcs.cli.main", "up", "--simulate", "4", "--sim-port-base",
             str(self.sim_base), "--sim-power-delay", "0.2"],
            stdout=self._out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        wait_for(lambda: b"pcs is up" in self.output.read_bytes() or self.process.poll() is not None,
                 timeout=120, what="pcs up")
        assert self.process.poll() is None, self.output.read_text()
        self.api = f"http://127.0.0.1:{self.api_port}"

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(60)
        self._out.close()
        return code


SIMULATOR_PASSWORD = "initial0"   # what `pcs up --simulate` registers its BMCs with


def _flower_tasks(port: int, auth: tuple[str, str]) -> str | None:
    url = (f"http://127.0.0.1:{port}/tasks/datatable?draw=1&start=0&length=50"
           "&search%5Bvalue%5D=&order%5B0%5D%5Bcolumn%5D=0&order%5B0%5D%5Bdir%5D=desc"
           "&columns%5B0%5D%5Bdata%5D=name")
    text = requests.get(url, timeout=10, auth=auth).text
    return text if "pcs.run_steps" in text else None


def _power_on(api: str, xname: str) -> dict:
    r = requests.post(f"{api}/transitions", json={"operation": "on",
                                                   "location": [{"xname": xname}]}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Location"] == f"../transitions/{r.json()['transitionID']}"
    tid = r.json()["transitionID"]

    def finished():
        body = requests.get(f"{api}/transitions/{tid}", timeout=10).json()
        return body if body["transitionStatus"] == "completed" else None
    return wait_for(finished, timeout=60, what="the transition to complete")


@pytest.fixture
def state_dir():
    path = Path(tempfile.mkdtemp(prefix="pcs-up-"))
    path.chmod(0o711)   # embedded PostgreSQL runs as its own user and must reach its data
    return path / "state"


def test_embedded_stack_runs_a_transition_stops_cleanly_and_restarts_on_its_state(state_dir):
    up = Up(state_dir)
    try:
        body = _power_on(up.api, "x1000c0s0b0n0")
        assert body["tasks"] == [{"xname": "x1000c0s0b0n0", "taskStatus": "succeeded",
                                  "taskStatusDescription": "Transition confirmed, on"}]
        # Flower (it can shut workers down) asks for the password kept in the state dir.
        flower = f"http://127.0.0.1:{up.flower_port}/"
        assert requests.get(flower, timeout=10).status_code == 401
        password_file = state_dir / "flower.password"
        assert password_file.stat().st_mode & 0o777 == 0o600
        auth = ("pcs", password_file.read_text().strip())
        assert requests.get(flower, timeout=10, auth=auth).status_code == 200
        # Flower's task list shows the step with a task ID and xname, never the BMC password.
        flower_tasks = wait_for(lambda: _flower_tasks(up.flower_port, auth), timeout=20,
                                what="Flower to list the task")
        assert "([1], ['x1000c0s0b0n0'])" in flower_tasks
        assert SIMULATOR_PASSWORD not in flower_tasks
        assert (state_dir / "postgres").is_dir() and (state_dir / "valkey").is_dir()
        assert (state_dir / "secret.key").stat().st_mode & 0o077 == 0
    finally:
        assert up.stop() == 0
    for log in (state_dir / "logs").iterdir():
        assert SIMULATOR_PASSWORD not in log.read_text(errors="replace"), log
    # Everything it started is gone.
    for port in (up.api_port, up.flower_port, up.sim_base):
        assert not answers("127.0.0.1", port)

    again = Up(state_dir)
    try:
        listed = requests.get(f"{again.api}/transitions", timeout=10).json()["transitions"]
        assert [t["transitionID"] for t in listed] == [body["transitionID"]]
        assert _power_on(again.api, "x1000c0s1b0n1")["transitionStatus"] == "completed"
    finally:
        assert again.stop() == 0


def test_stack_uses_external_servers_when_urls_are_set(state_dir, server_urls):
    admin_url, broker_url = server_urls
    name = f"pcs_up_{uuid.uuid4().hex[:8]}"
    admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    up = None
    try:
        up = Up(state_dir, {"PCS_DATABASE_URL": with_database(admin_url, name),
                            "PCS_BROKER_URL": broker_url, "PCS_SECRET_KEY": "external-key"})
        body = _power_on(up.api, "x1000c0s0b0n1")
        assert body["tasks"][0]["taskStatus"] == "succeeded"
        # No embedded server was started: no data directories under the state dir.
        assert not (state_dir / "postgres").exists() and not (state_dir / "valkey").exists()
        assert "external" in up.output.read_text()
    finally:
        if up is not None:
            assert up.stop() == 0
        admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_without_authentication_pcs_up_refuses_a_non_loopback_address(state_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PCS_")}
    env.update({"PCS_STATE_DIR": str(state_dir), "PCS_API_HOST": "0.0.0.0"})
    done = subprocess.run([sys.executable, "-m", "pcs.cli.main", "up"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "PCS_AUTH_DISABLED" in done.stdout + done.stderr
    assert not (state_dir / "postgres").exists()   # refused before anything started


def _json_lines(path: Path) -> list[dict]:
    """Every line of a file as JSON; fails naming the first line that is not."""
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        try:
            out.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"{path.name}:{n} is not JSON: {line!r}") from None
    return out


def test_json_logs_of_every_process_and_metrics_of_every_worker(state_dir):
    up = Up(state_dir, {"PCS_LOG_FORMAT": "json"})
    try:
        body = _power_on(up.api, "x1000c0s0b0n0")
        tid = body["transitionID"]
        metrics = requests.get(f"{up.api}/metrics", timeout=10).text
    finally:
        assert up.stop() == 0
    # The workers' counters reach the API's /metrics through the stack's metrics directory.
    assert 'pcs_tasks_finished_total{operation="On",outcome="succeeded"} 1.0' in metrics
    assert 'pcs_db_connections_limit{role="worker"}' in metrics

    # The service's processes; the embedded servers and the simulated BMCs keep their formats.
    lines = {path.name: _json_lines(path) for path in (state_dir / "logs").iterdir()
             if path.name not in ("simulator.log", "postgres.log", "valkey.log")}
    lines["pcs up"] = _json_lines(up.output)
    assert {"api.log", "beat.log", "flower.log", "worker-1.log"} <= set(lines)
    for name, records in lines.items():
        assert records, f"{name} is empty"
        for record in records:
            assert {"time", "level", "process", "message"} <= set(record), (name, record)
    assert any("pcs is up" in r["message"] for r in lines["pcs up"])
    # A worker's lines about a task name it; the API's access and audit lines the request.
    workers = [r for name, records in lines.items() if name.startswith("worker-")
               for r in records]
    assert {r["process"] for r in workers} == {"worker"}
    assert {r["process"] for r in lines["api.log"]} == {"api"}
    access = [r for r in lines["api.log"] if r["logger"] == "pcs.access"]
    assert any(r["route"] == "/transitions/<transition_id>" and r["request_id"]
               for r in access)
    audit = [r for r in lines["api.log"] if r.get("audit")]
    created = [r for r in audit if r["path"] == "/transitions"]
    assert len(created) == 1 and created[0]["transition_id"] == tid
    assert created[0]["subject"] is None and created[0]["remote_addr"] == "127.0.0.1"
