"""Fixtures on real parts: PostgreSQL, Redis, `celery worker` processes and the simulator.

PCS_TEST_DATABASE_URL / PCS_TEST_BROKER_URL name the servers; by default the ones on
127.0.0.1:5432 and :6379, and when none answers the session starts the embedded ones.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import uuid
from pathlib import Path

import pytest

from harness import (ApiServer, OpenBao, Simulator, Worker, admin_execute, answers,
                     with_database)

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
RUN_ID = uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def scratch_dir():
    path = Path(tempfile.mkdtemp(prefix=f"pcs-test-{RUN_ID}-"))
    path.chmod(0o711)   # embedded PostgreSQL runs as its own user and must reach its data
    return path


@pytest.fixture(scope="session")
def server_urls(scratch_dir):
    """(admin database URL, broker URL): configured, local, or embedded servers."""
    started = []
    db = os.environ.get("PCS_TEST_DATABASE_URL")
    broker = os.environ.get("PCS_TEST_BROKER_URL")
    if not db:
        if answers("127.0.0.1", 5432):
            db = DEFAULT_DATABASE
        else:
            from pcs.runtime.embedded import start_postgres
            server = start_postgres(scratch_dir / "embedded", port=28532)
            started.append(server)
            db = server.url
    if not broker:
        if answers("127.0.0.1", 6379):
            broker = DEFAULT_BROKER
        else:
            from pcs.runtime.embedded import start_valkey
            server = start_valkey(scratch_dir / "embedded", port=28479)
            started.append(server)
            broker = server.url
    yield db, broker
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def database_url(server_urls):
    """A fresh database for this test session, with the schema from the migrations."""
    from pcs.runtime.migrate import upgrade
    admin_url = server_urls[0]
    name = f"pcs_test_{RUN_ID}"
    admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    url = with_database(admin_url, name)
    upgrade(url)
    yield url
    admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(database_url, server_urls, scratch_dir):
    from pcs.config import Settings
    # Short timeouts and a one-second minute, so deadlines and failures show in seconds.
    return Settings(database_url=database_url, broker_url=server_urls[1],
                    state_dir=str(scratch_dir / "state"), secret_key="test-secret-key",
                    queue_name=f"pcs-test-{RUN_ID}", minute_s=1.0, confirm_interval_s=0.2,
                    status_timeout_s=2.0, action_timeout_s=2.0, connect_timeout_s=1.0,
                    forceoff_confirm_s=5.0, lease_s=15.0, redispatch_after_s=10.0,
                    resend_after_s=0.6,
                    worker_concurrency=8, api_threads=8)


@pytest.fixture(scope="session")
def simulator():
    sim = Simulator(bmcs=16, nodes_per_bmc=2, power_delay_s=0.3)
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def flat_sim():
    """Four node BMCs (two nodes each, 0.5 s power changes) and no other device, one per test
    module: its tests change power, faults and the request log."""
    sim = Simulator(bmcs=4, nodes_per_bmc=2, power_delay_s=0.5)
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def openbao(scratch_dir):
    """A shared OpenBao dev server with KV version 1 at hms-creds, as upstream's CT has it.
    Tests that stop or seal Vault start their own OpenBao."""
    bao = OpenBao(scratch_dir / "openbao.log")
    bao.enable_kv1("hms-creds")
    yield bao
    bao.stop()


@pytest.fixture(scope="session")
def worker(settings, scratch_dir):
    w = Worker(settings.as_env(), scratch_dir / "worker.log", concurrency=8)
    yield w
    w.stop()


@pytest.fixture(scope="session")
def app(settings):
    from pcs.api import create_app
    return create_app(settings)


@pytest.fixture(scope="session")
def api_server(settings, scratch_dir):
    """The API over real HTTP (gunicorn), sharing the session's database and queue."""
    server = ApiServer(settings.as_env(), scratch_dir / "api.log")
    yield server
    server.stop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def fleet(app, simulator):
    """Every simulated BMC registered once; tests use their own BMC indexes."""
    client = app.test_client()
    for i in range(simulator.bmcs):
        response = client.post("/v1/inventory/bmcs", json=simulator.bmc_body(i))
        assert response.status_code == 201, response.get_json()
    return simulator


@pytest.fixture(scope="session")
def db(settings):
    from pcs.db import Database
    database = Database(settings.database_url, pool_size=2)
    yield database
    database.dispose()


@pytest.fixture
def private_stack_factory(server_urls, settings):
    """(settings, simulator, client) on a database and queue of their own, so that no other
    worker takes their tasks; every BMC the simulator lists is registered. Start workers with
    harness.Worker(settings.as_env(), ...)."""
    from pcs.api import create_app
    from pcs.runtime.migrate import upgrade
    made = []

    def make(sim, **overrides):
        name = f"pcs_private_{uuid.uuid4().hex[:8]}"
        admin_execute(server_urls[0], f'CREATE DATABASE "{name}"')
        url = with_database(server_urls[0], name)
        upgrade(url)
        private = dataclasses.replace(settings, database_url=url,
                                      queue_name=f"pcs-private-{uuid.uuid4().hex[:6]}",
                                      **overrides)
        app = create_app(private)
        made.append((name, sim, app))
        client = app.test_client()
        for bmc in sim.bmcs_listed():
            body = {"xname": bmc["xname"], "address": bmc["address"], "scheme": "http",
                    "username": "root", "password": sim.password, "verifyTls": False}
            response = client.post("/v1/inventory/bmcs", json=body)
            assert response.status_code == 201, response.get_json()
        return private, sim, client

    yield make
    for name, sim, app in made:
        app.extensions["pcs"].db.dispose()
        sim.stop()
        admin_execute(server_urls[0], f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
