"""Acceptance against a Redfish implementation this project did not write: OpenStack's
sushy-tools emulator with its fake driver (a test dependency).

Its fake systems change power 1 to 11 s after an action, report no PoweringOn/PoweringOff in
between, and silently ignore a command that reverses a change still pending. It also serves TLS.
"""
from __future__ import annotations

import datetime
import ipaddress
import sys
import textwrap

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness import (LoggedProcess, answers, free_port_block, post_transition, wait_for,
                     wait_transition)

BMC = "x9000c0s0b0"
SYSTEMS = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(4)]   # n0..n3, by this order
SLOW = 90.0        # a transition here waits for the emulator's delays (up to 11 s per action)


class Sushy(LoggedProcess):
    """`sushy-emulator --fake` as a child process on 127.0.0.1."""

    def __init__(self, workdir, tls: tuple[str, str] | None = None, power_state: str = "Off",
                 refuse_power_off: bool = False):
        self.port = free_port_block(1)
        self.scheme = "https" if tls else "http"
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        config = workdir / f"sushy-{self.port}.conf"
        systems = [{"uuid": uuid, "name": f"node{i}", "power_state": power_state, "nics": []}
                   for i, uuid in enumerate(SYSTEMS)]
        config.write_text(textwrap.dedent(f"""\
            SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'
            SUSHY_EMULATOR_FAKE_DRIVER = True
            SUSHY_EMULATOR_STATE_DIR = {str(workdir / f'sushy-state-{self.port}')!r}
            SUSHY_EMULATOR_FAKE_SYSTEMS = {systems!r}
            SUSHY_EMULATOR_DISABLE_POWER_OFF = {refuse_power_off!r}
            """))
        argv = [sys.executable, "-m", "sushy_tools.emulator.main", "--config", str(config),
                "--port", str(self.port)]
        if tls:
            argv += ["--ssl-certificate", tls[0], "--ssl-key", tls[1]]
        super().__init__(argv, workdir / f"sushy-{self.port}.log")
        wait_for(lambda: answers("127.0.0.1", self.port) or self.process.poll() is not None,
                 timeout=30, what="sushy-emulator to listen")
        assert self.process.poll() is None, "sushy-emulator exited"

    def power_state(self, node: int) -> str:
        return requests.get(f"{self.url}/redfish/v1/Systems/{SYSTEMS[node]}", verify=False,
                            timeout=5).json()["PowerState"]


@pytest.fixture(scope="module")
def sushy(scratch_dir):
    emulator = Sushy(scratch_dir)
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def registered(app, sushy):
    client = app.test_client()
    response = client.post("/v1/inventory/bmcs", json={
        "xname": BMC, "address": f"127.0.0.1:{sushy.port}", "scheme": "http",
        "username": "admin", "password": "password", "verifyTls": False})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["components"] == [f"{BMC}n{i}" for i in range(4)]
    return sushy


def run(client, operation, xnames, **extra):
    body = wait_transition(client, post_transition(client, operation, xnames, **extra),
                           timeout=SLOW)
    return body, {t["xname"]: t for t in body["tasks"]}


def posts(client, transition_id, xname) -> list[str]:
    exchanges = client.get(f"/v1/transitions/{transition_id}/tasks/{xname}").get_json()
    return [e["requestBody"]["ResetType"] for e in exchanges["exchanges"]
            if e["method"] == "POST"]


def test_on_waits_out_the_emulators_delay_and_is_confirmed(client, worker, registered):
    body, tasks = run(client, "on", [f"{BMC}n0"], taskDeadlineMinutes=60)
    assert tasks[f"{BMC}n0"]["taskStatus"] == "succeeded", tasks
    assert tasks[f"{BMC}n0"]["taskStatusDescription"] == "Transition confirmed, on"
    assert registered.power_state(0) == "On"
    sent = posts(client, body["transitionID"], f"{BMC}n0")
    assert sent[0] == "On" and set(sent) == {"On"} and len(sent) <= 3   # 1 + PCS_RESEND_LIMIT


def test_hard_restart_goes_off_then_on(client, worker, registered):
    run(client, "on", [f"{BMC}n1"], taskDeadlineMinutes=60)
    body, tasks = run(client, "hard-restart", [f"{BMC}n1"], taskDeadlineMinutes=60)
    assert tasks[f"{BMC}n1"]["taskStatus"] == "succeeded", tasks
    assert tasks[f"{BMC}n1"]["taskStatusDescription"] == "Transition confirmed, on"
    sent = posts(client, body["transitionID"], f"{BMC}n1")
    # Off by GracefulShutdown (confirmed before anything else), then On.
    assert sent[0] == "GracefulShutdown" and sent[-1] == "On"
    assert "GracefulShutdown" not in sent[sent.index("On"):]
    assert registered.power_state(1) == "On"


def test_a_reversing_request_waits_its_turn_instead_of_being_ignored(client, worker, registered):
    """The emulator would drop a ForceOff sent while its On is pending; queued behind the On,
    the ForceOff goes only once the On is confirmed, so both take effect."""
    on = post_transition(client, "on", [f"{BMC}n2"], taskDeadlineMinutes=60)
    off = post_transition(client, "force-off", [f"{BMC}n2"], taskDeadlineMinutes=60)
    on_body, off_body = wait_transition(client, on, SLOW), wait_transition(client, off, SLOW)
    assert on_body["tasks"][0]["taskStatus"] == "succeeded", on_body
    assert off_body["tasks"][0]["taskStatus"] == "succeeded", off_body
    assert off_body["tasks"][0]["taskStatusDescription"] == "Transition confirmed, forceoff"
    assert registered.power_state(2) == "Off"


def test_soft_off_is_confirmed(client, worker, registered):
    run(client, "on", [f"{BMC}n3"], taskDeadlineMinutes=60)
    body, tasks = run(client, "soft-off", [f"{BMC}n3"], taskDeadlineMinutes=60)
    assert tasks[f"{BMC}n3"]["taskStatus"] == "succeeded", tasks
    assert posts(client, body["transitionID"], f"{BMC}n3") == ["GracefulShutdown"]
    assert registered.power_state(3) == "Off"


# -- refusals ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def refusing_sushy(scratch_dir, app):
    """An emulator whose systems are On and that refuses ForceOff and GracefulShutdown with a
    400 whose words are only in error.message (its ExtendedInfo holds a bare MessageId)."""
    emulator = Sushy(scratch_dir, power_state="On", refuse_power_off=True)
    response = app.test_client().post("/v1/inventory/bmcs", json={
        "xname": "x9005c0s0b0", "address": f"127.0.0.1:{emulator.port}", "scheme": "http",
        "username": "admin", "password": "password", "verifyTls": False})
    assert response.status_code == 201, response.get_json()
    yield emulator
    emulator.stop()


def test_a_refused_reset_fails_quoting_the_emulators_message(client, worker, refusing_sushy):
    _, tasks = run(client, "force-off", ["x9005c0s0b0n0"], taskDeadlineMinutes=60)
    task = tasks["x9005c0s0b0n0"]
    assert task["taskStatus"] == "failed", tasks
    assert task["error"].startswith("BMC answered 400 Bad Request: GeneralError: "
                                    "Can not request power off transition."), task["error"]
    assert "SUSHY_EMULATOR_DISABLE_POWER_OFF" in task["error"]
    assert refusing_sushy.power_state(0) == "On"


# -- TLS --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls_sushy(scratch_dir):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pcs test BMC")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_path, key_path = scratch_dir / "bmc-cert.pem", scratch_dir / "bmc-key.pem"
    cert_path.write_text(pem)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    emulator = Sushy(scratch_dir, tls=(str(cert_path), str(key_path)))
    yield emulator, pem, str(cert_path)
    emulator.stop()


def tls_body(emulator, xname, **extra):
    return {"xname": xname, "address": f"127.0.0.1:{emulator.port}", "scheme": "https",
            "username": "admin", "password": "password", **extra}


def test_an_unknown_certificate_is_refused_even_with_the_ca_in_the_environment(
        client, tls_sushy, monkeypatch):
    emulator, _, cert_path = tls_sushy
    # requests would trust this bundle for calls that read the environment; BMC calls don't.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert_path)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    response = client.post("/v1/inventory/bmcs", json=tls_body(emulator, "x9001c0s0b0"))
    assert response.status_code == 422
    assert "TLS error talking to BMC" in response.get_json()["detail"]
    assert client.get("/v1/inventory/bmcs/x9001c0s0b0").status_code == 404


def test_the_bmcs_own_ca_makes_it_trusted_and_transitions_run(client, worker, tls_sushy):
    emulator, pem, _ = tls_sushy
    response = client.post("/v1/inventory/bmcs",
                           json=tls_body(emulator, "x9002c0s0b0", caBundle=pem))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["caBundle"] == pem
    _, tasks = run(client, "on", ["x9002c0s0b0n0"], taskDeadlineMinutes=60)
    assert tasks["x9002c0s0b0n0"]["taskStatus"] == "succeeded", tasks
    assert emulator.power_state(0) == "On"


def test_verification_is_off_only_by_the_bmcs_explicit_opt_out(client, tls_sushy):
    emulator, _, _ = tls_sushy
    response = client.post("/v1/inventory/bmcs",
                           json=tls_body(emulator, "x9003c0s0b0", verifyTls=False))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["verifyTls"] is False


def test_a_ca_bundle_that_is_not_pem_is_a_400(client, tls_sushy):
    emulator, _, _ = tls_sushy
    response = client.post("/v1/inventory/bmcs",
                           json=tls_body(emulator, "x9004c0s0b0", caBundle="not a certificate"))
    assert response.status_code == 400
    assert "caBundle" in str(response.get_json())
