"""The local stack of `pcs up`: embedded servers when no URLs are set, then api, worker, beat and
Flower (and optionally a simulator) as child processes, stopped together."""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from pcs.runtime import migrate
from pcs.config import Settings
from pcs.runtime.embedded import EmbeddedServer, start_postgres, start_valkey
from pcs.api.auth import check_bind
from pcs.inventory.credentials import load_secret
from pcs.runtime.secret_files import read_or_create

STOP_TIMEOUT_S = 20.0
SIMULATED_USER, SIMULATED_PASSWORD = "root", "initial0"   # the simulator's defaults
READY_TIMEOUT_S = 60.0
FLOWER_USER = "pcs"
FLOWER_PASSWORD_FILE = "flower.password"


@dataclass
class Child:
    name: str
    argv: list[str]
    listens: str
    process: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)   # secrets: in the environment, not argv


class Stack:
    def __init__(self, settings: Settings, simulate: int = 0, sim_port_base: int = 29000,
                 sim_power_delay_s: float = 1.0, say=print, smd: bool = False):
        self.settings = settings
        self.simulate = simulate
        self.smd = smd and simulate > 0
        self.sim_port_base = sim_port_base
        self.sim_power_delay_s = sim_power_delay_s
        self.say = say
        self.servers: list[EmbeddedServer] = []
        self.children: list[Child] = []
        self._stopping = False

    # -- start -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start everything; raises (after stopping what started) when a part fails."""
        check_bind(self.settings, self.settings.api_host)   # before anything starts
        state = self.settings.state_path
        (state / "logs").mkdir(parents=True, exist_ok=True)
        try:
            self._start_servers(state)
            self._fresh_metrics(state)
            load_secret(self.settings, create=True)
            self.say("applying database migrations")
            migrate.upgrade(self.settings.database_url)
            if self.smd:
                # SMD first: the API and workers read the inventory from its face.
                self._use_simulated_smd()
                self._spawn(self._simulator_child())
                self._wait_for_simulator()
            for child in self._children():
                self._spawn(child)
            self._wait_for_api()
            if self.simulate and not self.smd:
                self._spawn(self._simulator_child())
                self._wait_for_simulator()
        except BaseException:
            self.stop()
            raise

    def _start_servers(self, state: Path) -> None:
        changes = {"state_dir": str(state)}
        if self.settings.embedded_database:
            server = start_postgres(state, self.settings.embedded_pg_port)
            self.servers.append(server)
            changes["database_url"] = server.url
            self.say(f"PostgreSQL (embedded)  127.0.0.1:{self.settings.embedded_pg_port}  "
                     f"data in {state / 'postgres'}")
        else:
            self.say("PostgreSQL (external)  from PCS_DATABASE_URL")
        if self.settings.embedded_broker:
            server = start_valkey(state, self.settings.embedded_broker_port)
            self.servers.append(server)
            changes["broker_url"] = server.url
            self.say(f"Valkey (embedded)      127.0.0.1:{self.settings.embedded_broker_port}  "
                     f"data in {state / 'valkey'}")
        else:
            self.say("Redis (external)       from PCS_BROKER_URL")
        self.settings = dataclasses.replace(self.settings, **changes)

    def _fresh_metrics(self, state: Path) -> None:
        """Every process of the stack writes its metrics to one directory, which the API's
        /metrics reads; values of an earlier run are removed."""
        directory = Path(self.settings.metrics_dir or state / "metrics")
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        self.settings = dataclasses.replace(self.settings, metrics_dir=str(directory))

    def _children(self) -> list[Child]:
        s = self.settings
        py = sys.executable
        # --quiet: no banner, which is not a log line (PCS_LOG_FORMAT=json).
        celery = [py, "-m", "celery", *(["--quiet"] if s.log_format == "json" else []),
                  "-A", "workers.celery_app"]
        return [
            Child("api", [py, "-m", "gunicorn", "-c", "python:pcs.runtime.gunicorn_config",
                          "--bind", f"{s.api_host}:{s.api_port}",
                          "--worker-class", "gthread", "--threads", str(s.api_threads),
                          "--timeout", "120", "pcs.api:create_app()"],
                  f"http://{s.api_host}:{s.api_port}"),
            *(Child(f"worker-{i}", celery + [
                "worker", "--pool", "threads", "--concurrency", str(s.worker_concurrency),
                "-Q", s.queue_name, "-E", "--loglevel", s.log_level, "-n", f"pcs-worker-{i}@%h"],
                f"{s.worker_concurrency} threads on queue '{s.queue_name}'")
              # Threads share one core (the GIL): one process per core uses the machine.
              for i in range(1, (s.worker_processes or os.cpu_count() or 1) + 1)),
            Child("beat", celery + ["beat", "--loglevel", s.log_level, "--schedule",
                                    str(s.state_path / "celerybeat-schedule")],
                  f"reaper every {s.reap_interval_s:g} s"),
            # Flower can revoke tasks and shut workers down: it asks for a password.
            Child("flower", celery + ["flower", "--address=127.0.0.1",
                                      f"--port={s.flower_port}"],
                  f"http://127.0.0.1:{s.flower_port}  (user {FLOWER_USER}, password in "
                  f"{s.state_path / FLOWER_PASSWORD_FILE})",
                  env={"FLOWER_BASIC_AUTH": f"{FLOWER_USER}:{self.flower_password()}"}),
        ]

    @property
    def _smd_port(self) -> int:
        return self.sim_port_base - 2   # below the simulator's admin port

    def _use_simulated_smd(self) -> None:
        """smd mode against the simulator's SMD face: BMCs over plain HTTP, and the simulated
        BMCs' login from upstream's fake store unless Vault is configured."""
        changes = {"sms_server": f"http://127.0.0.1:{self._smd_port}", "bmc_scheme": "http"}
        if self.settings.vault_enabled is not True:
            changes.update(fake_vault_enabled=True, fake_vault_user=SIMULATED_USER,
                           fake_vault_password=SIMULATED_PASSWORD)
        self.settings = dataclasses.replace(self.settings, **changes)
        self.say(f"inventory: SMD (the simulator's face) at {self.settings.sms_server}; "
                 f"credentials: {self.settings.credential_source}")

    def flower_password(self) -> str:
        return read_or_create(self.settings.state_path / FLOWER_PASSWORD_FILE)

    def _simulator_child(self) -> Child:
        bmcs = (self.simulate + 1) // 2
        base = self.sim_port_base
        argv = [sys.executable, "-m", "pcs.simulator", "--bmcs", str(bmcs), "--nodes-per-bmc",
                "2", "--port-base", str(base), "--power-delay", str(self.sim_power_delay_s),
                "--username", SIMULATED_USER, "--password", SIMULATED_PASSWORD]
        if self.smd:
            argv += ["--smd-port", str(self._smd_port)]
            listens = f", SMD on 127.0.0.1:{self._smd_port}"
        else:
            argv += ["--register", f"http://127.0.0.1:{self.settings.api_port}"]
            listens = ""
        return Child("simulator", argv,
                     f"{bmcs} BMCs on 127.0.0.1:{base}-{base + bmcs - 1}, "
                     f"admin on 127.0.0.1:{base - 1}{listens}")

    def _spawn(self, child: Child) -> None:
        log = open(self.settings.state_path / "logs" / f"{child.name}.log", "ab")
        env = dict(os.environ)
        env.update(self.settings.as_env())
        env.update(child.env)
        child.process = subprocess.Popen(child.argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env,
                                         start_new_session=True)
        self.children.append(child)
        self.say(f"{child.name:<22} {child.listens}  (log: {log.name})")

    def _wait_for_api(self) -> None:
        url = f"http://{self.settings.api_host}:{self.settings.api_port}/liveness"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            self._check_children()
            try:
                if requests.get(url, timeout=1).status_code == 204:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API did not answer at {url} within {READY_TIMEOUT_S:g} s")

    def _wait_for_simulator(self) -> None:
        # The simulator listens (and registers its BMCs with the API, when asked), then prints
        # its ready line.
        path = self.settings.state_path / "logs" / "simulator.log"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            self._check_children()
            if b"simulator ready" in path.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError("the simulator did not register its BMCs in time")

    # -- run and stop ----------------------------------------------------------------------------
    def _check_children(self) -> None:
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                raise RuntimeError(f"{child.name} exited with status {code}; see "
                                   f"{self.settings.state_path / 'logs' / (child.name + '.log')}")

    def run_until_signal(self) -> int:
        """Block until SIGINT/SIGTERM or a child dies; stop everything. Returns an exit status."""
        stop = {"signal": None}

        def handler(signum, _frame):
            stop["signal"] = signum
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
        status = 0
        while stop["signal"] is None:
            try:
                self._check_children()
            except RuntimeError as exc:
                self.say(f"error: {exc}")
                status = 1
                break
            time.sleep(0.5)
        self.say("stopping")
        self.stop()
        return status

    def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in reversed(self.children):
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        for server in reversed(self.servers):
            server.stop()
