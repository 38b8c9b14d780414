"""BMC passwords appear nowhere but in their encrypted column (DESIGN.md invariant 6)."""
from __future__ import annotations

import sys

import pytest
import redis
import requests
from sqlalchemy import text

from harness import (LoggedProcess, Simulator, Worker, answers, free_port_block,
                     post_transition, wait_for, wait_transition)

pytestmark = pytest.mark.integration

PASSWORD = "Recognisable-Pw-7f3a91"


def test_password_is_in_no_response_log_message_or_other_column(private_stack_factory,
                                                                 scratch_dir):
    settings, sim, client = private_stack_factory(
        Simulator(bmcs=2, nodes_per_bmc=2, power_delay_s=0.1, password=PASSWORD))
    log_path = scratch_dir / "secrets-worker.log"
    flower_port = free_port_block(1)
    flower = LoggedProcess(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "flower",
         "--address=127.0.0.1", f"--port={flower_port}"], scratch_dir / "secrets-flower.log",
        {**settings.as_env(), "FLOWER_UNAUTHENTICATED_API": "true"})
    worker = Worker(settings.as_env(), log_path, concurrency=4, name="secrets")
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
    for body in responses:
        assert PASSWORD not in body
    assert PASSWORD not in log_path.read_text()
    assert PASSWORD not in _broker_contents(settings.broker_url)
    columns = _database_text(client.application.extensions["pcs"].db)
    assert "x1000c0s0b0n0" in columns   # the search does see the data
    assert PASSWORD not in columns


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
