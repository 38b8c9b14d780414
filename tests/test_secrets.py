"""BMC passwords and the Vault token appear nowhere but in the encrypted column and the worker's
memory (DESIGN.md invariant 6)."""
from __future__ import annotations

import sys

import pytest
import redis
import requests
from sqlalchemy import text

from harness import (LoggedProcess, OpenBao, Simulator, Worker, answers, free_port_block,
                     post_transition, wait_for, wait_transition)

pytestmark = pytest.mark.integration

PASSWORD = "Recognisable-Pw-7f3a91"
VAULT_TOKEN = "Recognisable-Token-c41e07"


def test_password_is_in_no_response_log_message_or_other_column(private_stack_factory,
                                                                 scratch_dir):
    settings, sim, client = private_stack_factory(
        Simulator(bmcs=2, nodes_per_bmc=2, power_delay_s=0.1, password=PASSWORD))
    texts = _run_and_collect(settings, sim, client, scratch_dir, "secrets")
    for body in texts:
        assert PASSWORD not in body


def test_vault_token_and_passwords_are_in_no_response_log_message_or_column(
        private_stack_factory, scratch_dir):
    """With VAULT_ENABLED=true: neither the token nor the passwords read from Vault leave the
    worker's memory (and the stored passwords are gone, so only Vault's can have logged in)."""
    bao = OpenBao(scratch_dir / "openbao-secrets.log", root_token=VAULT_TOKEN)
    try:
        bao.enable_kv1("hms-creds")
        settings, sim, client = private_stack_factory(
            Simulator(bmcs=2, nodes_per_bmc=2, power_delay_s=0.1, password=PASSWORD),
            vault_enabled=True, vault_addr=bao.url, vault_token=VAULT_TOKEN,
            vault_keypath="hms-creds", vault_jwt_file=str(scratch_dir / "no-such-jwt"))
        for bmc in ("x1000c0s0b0", "x1000c0s1b0"):
            bao.put_secret(f"hms-creds/{bmc}", {"Username": "root", "Password": PASSWORD})
        with client.application.extensions["pcs"].db.transaction() as session:
            session.execute(text("UPDATE bmcs SET password_encrypted = NULL"))
        texts = _run_and_collect(settings, sim, client, scratch_dir, "vault-secrets")
    finally:
        bao.stop()
    assert any('"Vault": "connected, responsive"' in body.replace('":"', '": "')
               for body in texts)   # /health did ask Vault
    for body in texts:
        assert PASSWORD not in body
        assert VAULT_TOKEN not in body


def _run_and_collect(settings, sim, client, scratch_dir, name: str) -> list[str]:
    """Run a succeeding and a failing transition with a worker and Flower; return every API
    response, Flower page, the worker's log, the broker's contents and the database's text."""
    log_path = scratch_dir / f"{name}-worker.log"
    flower_port = free_port_block(1)
    flower = LoggedProcess(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "flower",
         "--address=127.0.0.1", f"--port={flower_port}"], scratch_dir / f"{name}-flower.log",
        {**settings.as_env(), "FLOWER_UNAUTHENTICATED_API": "true"})
    worker = Worker(settings.as_env(), log_path, concurrency=4, name=name)
    try:
        wait_for(lambda: answers("127.0.0.1", flower_port), timeout=60, what="Flower")
        sim.set_fault("x1000c0s1b0", fault="status", status=500, message="refused")
        ok = wait_transition(client, post_transition(client, "on", ["x1000c0s0b0n0"]))
        bad = wait_transition(client, post_transition(client, "on", ["x1000c0s1b0n0"]))
        sim.clear_fault("x1000c0s1b0")
        assert ok["tasks"][0]["taskStatus"] == "succeeded"
        assert bad["tasks"][0]["taskStatus"] == "failed"
        responses = [client.get(path).get_data(as_text=True) for path in (
            "/transitions", f"/transitions/{ok['transitionID']}",
            f"/transitions/{bad['transitionID']}", "/v1/inventory/bmcs",
            "/v1/inventory/components", "/v1/queue", "/health",
            f"/v1/transitions/{bad['transitionID']}/tasks/x1000c0s1b0n0")]
        responses += _flower_pages(f"http://127.0.0.1:{flower_port}")
    finally:
        worker.stop()
        flower.stop()
    columns = _database_text(client.application.extensions["pcs"].db)
    assert "x1000c0s0b0n0" in columns   # the search does see the data
    return [*responses, log_path.read_text(), (scratch_dir / f"{name}-flower.log").read_text(),
            _broker_contents(settings.broker_url), columns]


def _flower_pages(base: str) -> list[str]:
    """Flower's task list (the API) and each task's own page, once it has seen the steps."""
    listing = wait_for(lambda: (r := requests.get(f"{base}/api/tasks", timeout=5)).ok
                       and r.json() and r, timeout=30, what="Flower to list the tasks")
    pages = [listing.text]
    for task_id in list(listing.json())[:20]:
        page = requests.get(f"{base}/task/{task_id}", timeout=5)
        assert page.status_code == 200
        pages.append(page.text)
    assert any("pcs.run_steps" in page for page in pages)   # the pages do show the steps
    return pages


def _broker_contents(url: str) -> str:
    r = redis.Redis.from_url(url)
    out = []
    for key in r.scan_iter(count=1000):
        kind = r.type(key)
        if kind == b"list":
            out += [v.decode(errors="replace") for v in r.lrange(key, 0, -1)]
        elif kind == b"hash":
            out += [v.decode(errors="replace") for v in r.hgetall(key).values()]
        elif kind == b"string":
            out.append((r.get(key) or b"").decode(errors="replace"))
        elif kind == b"zset":
            out += [v.decode(errors="replace") for v in r.zrange(key, 0, -1)]
    return "\n".join(out)


def _database_text(db) -> str:
    """Every row of every table as JSON, but the encrypted password column."""
    with db.transaction() as s:
        tables = s.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        dumps = []
        for table in tables.all():
            query = (f'SELECT (to_jsonb(t) - \'password_encrypted\')::text FROM "{table}" t')
            dumps += s.scalars(text(query)).all()
    return "\n".join(dumps)
