"""Schemathesis against the live API under gunicorn, authentication on: every operation of
/openapi.json gets a bounded number of generated requests (valid and invalid); no answer may be
a server error or break the document (status, content type, headers, body schema).

The event streams are left out: a stream never ends, so a generated request to one would only
time out (tests/test_events.py covers them). So is power capping, which answers 501 until it
is built.
"""
from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from harness import ApiServer, Simulator, migrated_database, post_transition, wait_for
from tokens import JwksServer, Signer

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = int(os.environ.get("PCS_TEST_FUZZ_EXAMPLES", "12"))
# Streams never end; power capping answers 501 until it is built (a 5xx by definition).
EXCLUDED = r"/events$"
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_headers_conformance,response_schema_conformance")


@pytest.fixture
def fuzzed_api(server_urls, settings, scratch_dir):
    """An API on a database of its own holding two BMCs, a transition and a lock, so that
    the answers have something in them; tokens checked against a JWKS with roles."""
    from pcs.api import create_app
    jwks, signer = JwksServer(), Signer("rsa")
    jwks.publish(signer)
    sim = Simulator(bmcs=2, nodes_per_bmc=2, power_delay_s=0.1)
    with migrated_database(server_urls[0], "pcs_fuzz") as url:
        private = dataclasses.replace(settings, database_url=url,
                                      queue_name=f"pcs-fuzz-{uuid.uuid4().hex[:6]}")
        app = create_app(private)
        client = app.test_client()
        for i in range(2):
            assert client.post("/v1/inventory/bmcs", json=sim.bmc_body(i)).status_code == 201
        post_transition(client, "on", ["x1000c0s0b0n0", "x1000c0s1b0n1", "x9c0s0b0n0", "bad"])
        client.post("/v1/locks", json={"xnames": ["x1000c0s1b0n0"], "reason": "fuzz"})
        app.extensions["pcs"].db.dispose()
        env = dataclasses.replace(private, jwks_url=jwks.url, roles_claim="roles").as_env()
        server = ApiServer(env, scratch_dir / "api-fuzz.log")
        token = signer.token(sub="fuzzer", roles=["pcs-operator"])
        try:
            import requests
            wait_for(lambda: requests.get(f"{server.url}/transitions", timeout=5, headers={
                "Authorization": f"Bearer {token}"}).status_code == 200, timeout=20,
                what="the API with its keys")
            yield server.url, token
        finally:
            server.stop()
            sim.stop()
            jwks.stop()


def test_fuzzing_finds_no_server_error_and_no_answer_outside_the_document(fuzzed_api,
                                                                          scratch_dir, capsys):
    url, token = fuzzed_api
    run = subprocess.run(
        [str(Path(sys.executable).parent / "st"), "run", f"{url}/openapi.json",
         "--checks", CHECKS, "--max-examples", str(EXAMPLES_PER_OPERATION),
         "--header", f"Authorization: Bearer {token}", "--exclude-path-regex", EXCLUDED,
         "--phases", "examples,coverage,fuzzing", "--request-timeout", "20",
         "--workers", "1", "--seed", "28007"],
        capture_output=True, text=True, timeout=1500,
        cwd=scratch_dir)   # its cache of crashes goes there, not into the checkout
    (scratch_dir / "fuzz.out").write_text(run.stdout + run.stderr)   # the full account
    counts = summary(run.stdout)
    with capsys.disabled():
        print(f"\nfuzz: {counts}")
    assert counts["operations"] > 50 and counts["requests"] > 500, counts
    assert counts["server_errors"] == 0 and counts["failures"] == 0, run.stdout[-6000:]
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def summary(stdout: str) -> dict:
    """Operations tested, requests generated, server errors and document-breaking answers, as
    schemathesis's summary counts them."""
    tail = stdout[stdout.rfind("SUMMARY"):]

    def number(pattern: str) -> int:
        found = re.search(pattern, tail)
        return int(found.group(1)) if found else 0
    return {"operations": number(r"Tested:\s+(\d+)"),
            "requests": number(r"(\d+) generated"),
            "server_errors": number(r"Server error:\s+(\d+)"),
            "failures": number(r"(\d+) unique failures")}
