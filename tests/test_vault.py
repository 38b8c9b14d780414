"""BMC credentials from Vault (a real OpenBao dev server): logins, the per-BMC cache, missing
secrets, Vault going away, /health, and transitions whose worker takes its logins from Vault."""
from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import text

from harness import (OpenBao, Simulator, Worker, migrated_database, post_transition, wait_for,
                     wait_transition)
from pcs.errors import CredentialsUnavailable
from pcs.sources.credentials import Credentials, StoredLogin
from pcs.sources.vault import VaultCredentials

pytestmark = pytest.mark.integration


def vault_overrides(bao: OpenBao, scratch_dir, **more) -> dict:
    """Settings of a Vault-backed process: the root token as VAULT_TOKEN, no JWT file."""
    return {"vault_enabled": True, "vault_addr": bao.url, "vault_token": bao.root_token,
            "vault_keypath": "hms-creds", "vault_jwt_file": str(scratch_dir / "no-such-jwt"),
            **more}


def source(settings, bao, scratch_dir, clock=time.monotonic, **more) -> VaultCredentials:
    return VaultCredentials(dataclasses.replace(settings, **vault_overrides(bao, scratch_dir,
                                                                             **more)), clock)


def login_of(xname: str) -> StoredLogin:
    return StoredLogin(xname, "ignored", None)


def unique_bmc() -> str:
    """A node BMC xname no other test writes a secret for."""
    return f"x{uuid.uuid4().int % 9000 + 1000}c0s0b0"


# -- reading, caching, logging in --------------------------------------------------------------
def test_a_node_reads_the_secret_of_its_bmc_as_smd_writes_it(openbao, settings, scratch_dir):
    bmc = unique_bmc()
    openbao.put_secret(f"hms-creds/{bmc}", {"Xname": bmc, "URL": f"{bmc}/redfish/v1",
                                            "Username": "root", "Password": "pw-node"})
    vault = source(settings, openbao, scratch_dir)
    assert vault.credentials_for(login_of(f"{bmc}n1")) == Credentials("root", "pw-node")
    lower = unique_bmc()
    openbao.put_secret(f"hms-creds/{lower}", {"username": "admin", "password": "pw-lower"})
    assert vault.credentials_for(login_of(lower)) == Credentials("admin", "pw-lower")


def test_a_missing_secret_fails_naming_its_path_and_stays_missing_until_the_cache_expires(
        openbao, settings, scratch_dir):
    now = [1000.0]
    vault = source(settings, openbao, scratch_dir, clock=lambda: now[0], cred_cache_duration_s=60)
    bmc = unique_bmc()
    with pytest.raises(CredentialsUnavailable) as missing:
        vault.credentials_for(login_of(f"{bmc}n0"))
    assert str(missing.value) == f"No credentials in Vault at hms-creds/{bmc}"
    openbao.put_secret(f"hms-creds/{bmc}", {"Username": "root", "Password": "pw"})
    now[0] += 59
    with pytest.raises(CredentialsUnavailable):   # upstream caches empty results too
        vault.credentials_for(login_of(bmc))
    now[0] += 1
    assert vault.credentials_for(login_of(bmc)) == Credentials("root", "pw")


def test_a_changed_secret_is_read_after_the_cache_duration_or_after_forget(
        openbao, settings, scratch_dir):
    now = [0.0]
    vault = source(settings, openbao, scratch_dir, clock=lambda: now[0])   # 600 s, the default
    bmc = unique_bmc()
    openbao.put_secret(f"hms-creds/{bmc}", {"Username": "root", "Password": "old"})
    assert vault.credentials_for(login_of(bmc)).password == "old"
    openbao.put_secret(f"hms-creds/{bmc}", {"Username": "root", "Password": "new"})
    now[0] = 599.0
    assert vault.credentials_for(login_of(bmc)).password == "old"
    vault.forget(f"{bmc}n0")   # what a BMC's 401 on one of its nodes does
    assert vault.credentials_for(login_of(bmc)).password == "new"
    openbao.put_secret(f"hms-creds/{bmc}", {"Username": "root", "Password": "newer"})
    now[0] = 599.0 + 600.0
    assert vault.credentials_for(login_of(bmc)).password == "newer"


def _jwt(key: rsa.RSAPrivateKey, claims: dict) -> str:
    def part(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")
    signed = part(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()) + b"." + part(
        json.dumps(claims).encode())
    return (signed + b"." + part(key.sign(signed, padding.PKCS1v15(), hashes.SHA256()))).decode()


def test_jwt_login_through_an_auth_path_and_again_when_the_token_expires(
        openbao, settings, scratch_dir):
    """Kubernetes-style: role and JWT from files, PUT to the auth path (OpenBao's jwt method
    reads the same body as the kubernetes one); an expired token is replaced by a new login."""
    root = openbao.client()
    mount = f"jwt-{uuid.uuid4().hex[:6]}"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    root.sys.enable_auth_method("jwt", path=mount)
    root.write(f"auth/{mount}/config", jwt_validation_pubkeys=[pem])
    root.sys.create_or_update_policy("hms-creds-read", 'path "hms-creds/*" '
                                                      '{ capabilities = ["read"] }')
    root.write(f"auth/{mount}/role/pcs-service", role_type="jwt", user_claim="sub",
               bound_subject="system:serviceaccount:services:pcs",
               token_policies=["hms-creds-read"], token_ttl="2s", token_max_ttl="2s")
    jwt_file, role_file = scratch_dir / f"{mount}-token", scratch_dir / f"{mount}-namespace"
    jwt_file.write_text(_jwt(key, {"sub": "system:serviceaccount:services:pcs",
                                   "iat": int(time.time()),
                                   "exp": int(time.time()) + 3600}) + "\n")
    role_file.write_text("pcs-service\n")   # trimmed, as upstream does
    first, second = unique_bmc(), unique_bmc()
    for bmc in (first, second):
        openbao.put_secret(f"hms-creds/{bmc}", {"Username": "root", "Password": f"pw-{bmc}"})
    vault = source(settings, openbao, scratch_dir, vault_token=None,
                   vault_auth_path=f"auth/{mount}/login", vault_jwt_file=str(jwt_file),
                   vault_role_file=str(role_file))
    vault.start()
    assert vault.credentials_for(login_of(first)).password == f"pw-{first}"
    time.sleep(2.5)   # the token has expired: Vault answers 403
    assert vault.credentials_for(login_of(second)).password == f"pw-{second}"


def test_ct_style_login_creates_a_token_with_the_root_token(openbao, settings, scratch_dir):
    """Upstream's CT: auth/token/create, files holding `namespace` / `token`, VAULT_TOKEN."""
    (scratch_dir / "ct-token").write_text("token")
    (scratch_dir / "ct-namespace").write_text("namespace")
    bmc = unique_bmc()
    openbao.put_secret(f"hms-creds/{bmc}", {"Username": "root", "Password": "pw-ct"})
    vault = source(settings, openbao, scratch_dir, vault_auth_path="auth/token/create",
                   vault_jwt_file=str(scratch_dir / "ct-token"),
                   vault_role_file=str(scratch_dir / "ct-namespace"))
    vault.start()
    assert vault._client.token != openbao.root_token   # it uses the token it was given
    assert vault.credentials_for(login_of(bmc)).password == "pw-ct"


def test_a_refused_token_fails_as_vault_unavailable(openbao, settings, scratch_dir):
    vault = source(settings, openbao, scratch_dir, vault_token="not-a-token")
    with pytest.raises(CredentialsUnavailable, match=r"^Vault unavailable: login failed: "):
        vault.credentials_for(login_of(unique_bmc()))


# -- a worker taking its logins from Vault --------------------------------------------------------
@pytest.fixture(scope="module")
def vault_stack(server_urls, settings, openbao, scratch_dir):
    """(settings, simulator, API client) on a database of their own, a worker with
    VAULT_ENABLED=true, and BMC rows without a stored password: only Vault can log in.
    Secrets for BMCs 0, 2 and 3; none for BMC 1."""
    from pcs.api import create_app
    with migrated_database(server_urls[0], "pcs_vault") as url:
        private = dataclasses.replace(
            settings, database_url=url, queue_name=f"pcs-vault-{uuid.uuid4().hex[:6]}",
            **vault_overrides(openbao, scratch_dir))
        sim = Simulator(bmcs=4, nodes_per_bmc=2, power_delay_s=0.1)
        app = create_app(private)
        client = app.test_client()
        worker = None
        try:
            for i in range(sim.bmcs):
                response = client.post("/v1/inventory/bmcs", json=sim.bmc_body(i))
                assert response.status_code == 201, response.get_json()
            with app.extensions["pcs"].db.transaction() as session:
                session.execute(text("UPDATE bmcs SET password_encrypted = NULL"))
            for i in (0, 2, 3):
                openbao.put_secret(f"hms-creds/x1000c0s{i}b0",
                                   {"Username": "root", "Password": sim.password})
            worker = Worker(private.as_env(), scratch_dir / "vault-worker.log", concurrency=4,
                            name="vault")
            yield private, sim, client
        finally:
            if worker is not None:
                worker.stop()
            app.extensions["pcs"].db.dispose()
            sim.stop()


def run_one(client, operation: str, xname: str) -> dict:
    body = wait_transition(client, post_transition(client, operation, [xname]))
    return body["tasks"][0]


def test_worker_logs_in_before_taking_work_and_never_logs_the_token(vault_stack, scratch_dir):
    log = (scratch_dir / "vault-worker.log").read_text()
    assert "logged in to Vault at" in log
    assert log.index("logged in to Vault at") < log.index("ready.")
    assert vault_stack[0].vault_token not in log


def test_transition_succeeds_with_credentials_from_vault(vault_stack):
    _, sim, client = vault_stack
    sim.set_power("x1000c0s0b0", "Node0", "Off")
    task = run_one(client, "on", "x1000c0s0b0n0")
    assert (task["taskStatus"], task["taskStatusDescription"]) == (
        "succeeded", "Transition confirmed, on")


def test_bmc_without_a_secret_fails_naming_the_vault_path(vault_stack):
    task = run_one(vault_stack[2], "on", "x1000c0s1b0n0")
    assert task["taskStatus"] == "failed"
    assert task["taskStatusDescription"] == "Failed to achieve transition"
    assert task["error"] == "No credentials in Vault at hms-creds/x1000c0s1b0"


def test_a_bmc_refusing_the_login_has_it_read_again_otherwise_the_cache_holds(
        vault_stack, openbao):
    _, sim, client = vault_stack
    path = "hms-creds/x1000c0s2b0"
    openbao.put_secret(path, {"Username": "root", "Password": "wrong"})
    # The worker has not read this BMC yet: it gets the wrong password and the BMC says 401.
    refused = run_one(client, "on", "x1000c0s2b0n0")
    assert refused["taskStatus"] == "failed"
    assert refused["error"].startswith("Authentication with the BMC failed")
    openbao.put_secret(path, {"Username": "root", "Password": sim.password})
    sim.set_power("x1000c0s2b0", "Node0", "Off")
    assert run_one(client, "on", "x1000c0s2b0n0")["taskStatus"] == "succeeded"
    # Now cached for CRED_CACHE_DURATION (600 s): a changed secret is not read yet.
    openbao.put_secret(path, {"Username": "root", "Password": "wrong-again"})
    sim.set_power("x1000c0s2b0", "Node1", "Off")
    assert run_one(client, "on", "x1000c0s2b0n1")["taskStatus"] == "succeeded"


def test_sweep_reports_a_missing_secret_as_the_components_poll_error(vault_stack):
    from pcs.broker import Publisher
    private, _, client = vault_stack
    Publisher(private).celery.send_task("pcs.sweep", queue=private.queue_name)

    def polled():   # the poll's error is on the inventory (an addition), "" in the v1 body
        body = client.get("/v1/inventory/components").get_json()["components"]
        status = {c["xname"]: c for c in body}
        return status if status["x1000c0s1b0n1"]["error"] else None
    status = wait_for(polled, timeout=30, what="a sweep")
    assert status["x1000c0s1b0n1"]["error"] == "No credentials in Vault at hms-creds/x1000c0s1b0"
    assert status["x1000c0s3b0n1"]["error"] == ""
    v1 = client.get("/power-status?xname=x1000c0s1b0n1").get_json()["status"][0]
    assert (v1["managementState"], v1["error"]) == ("unavailable", "")


def test_health_says_vault_is_connected_and_responsive(vault_stack, client):
    assert vault_stack[2].get("/health").get_json()["Vault"] == "connected, responsive"
    assert client.get("/health").get_json()["Vault"] == "disabled"   # the local store


def test_vault_sealed_then_stopped_mid_run_fails_tasks_as_vault_unavailable(
        private_stack_factory, scratch_dir):
    """A private OpenBao: the shared one must stay up for the other tests."""
    bao = OpenBao(scratch_dir / "openbao-stopped.log")
    worker = None
    try:
        bao.enable_kv1("hms-creds")
        private, sim, client = private_stack_factory(
            Simulator(bmcs=2, nodes_per_bmc=1, power_delay_s=0.1),
            **vault_overrides(bao, scratch_dir))
        for bmc in ("x1000c0s0b0", "x1000c0s1b0"):
            bao.put_secret(f"hms-creds/{bmc}", {"Username": "root", "Password": sim.password})
        worker = Worker(private.as_env(), scratch_dir / "vault-stopped-worker.log",
                        concurrency=2, name="vault-stopped")
        assert client.get("/health").get_json()["Vault"] == "connected, responsive"
        bao.client().sys.seal()
        assert client.get("/health").get_json()["Vault"] == "connected, not responsive"
        sealed = run_one(client, "on", "x1000c0s0b0n0")
        assert sealed["taskStatus"] == "failed"
        assert sealed["taskStatusDescription"] == "Failed to achieve transition"
        assert sealed["error"].startswith("Vault unavailable: ")
        bao.stop()
        assert client.get("/health").get_json()["Vault"] == "not connected"
        stopped = run_one(client, "on", "x1000c0s1b0n0")
        assert stopped["taskStatus"] == "failed"
        assert stopped["error"] == (f"Vault unavailable: cannot connect to {bao.url}: "
                                    f"[Errno 111] Connection refused")
    finally:
        if worker is not None:
            worker.stop()
        bao.stop()


def test_worker_with_the_fake_store_but_no_password_refuses_to_start_naming_it(
        settings, scratch_dir):
    env = {**settings.as_env(), "PCS_FAKE_VAULT_ENABLED": "true",
           "PCS_FAKE_VAULT_REDFISH_USER": "root"}
    log_path = scratch_dir / "fake-store-worker.log"
    try:
        started = Worker(env, log_path, concurrency=1, name="fake-store")
    except RuntimeError as exc:
        assert "worker exited" in str(exc)
    else:
        started.stop()
        pytest.fail("the worker started without PCS_FAKE_VAULT_REDFISH_PASSWORD")
    assert ("FAKE_VAULT_ENABLED=true needs PCS_FAKE_VAULT_REDFISH_PASSWORD"
            in log_path.read_text())
