"""Bearer tokens against a real JWKS endpoint over HTTP, roles per route, the audit line, and the
rule that an API without authentication stays on loopback."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from harness import ApiServer, wait_for
from tokens import AUDIENCE, ISSUER, JwksServer, Signer

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def jwks():
    server = JwksServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rsa_signer():
    return Signer("rsa")


@pytest.fixture(scope="module")
def ec_signer():
    return Signer("ec")


@pytest.fixture
def make_app(settings):
    """create_app with authentication settings; waits until the keys are fetched (or not)."""
    from pcs.api import create_app
    made = []

    def make(wait_ready: bool = True, **overrides):
        app = create_app(dataclasses.replace(settings, **overrides))
        made.append(app)
        if wait_ready:
            wait_for(lambda: app.extensions["pcs.keys"].ready, timeout=10, what="the JWKS")
        return app

    yield make
    for app in made:
        if "pcs.keys" in app.extensions:
            app.extensions["pcs.keys"].stop()
        app.extensions["pcs"].db.dispose()


@pytest.fixture
def auth_client(make_app, jwks, rsa_signer, ec_signer):
    jwks.publish(rsa_signer, ec_signer)
    return make_app(jwks_url=jwks.url, jwt_audience=AUDIENCE, jwt_issuer=ISSUER).test_client()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_401(response, detail: str) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    assert response.get_json()["detail"] == detail
    assert response.headers["WWW-Authenticate"] == "Bearer"


# -- tokens ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_a_token_signed_by_a_published_rsa_or_ec_key_is_accepted(auth_client, kind,
                                                                 rsa_signer, ec_signer):
    signer = rsa_signer if kind == "rsa" else ec_signer
    for prefix in ("", "/v1", "/apis/power-control/v1"):
        response = auth_client.get(f"{prefix}/transitions", headers=bearer(signer.token()))
        assert response.status_code == 200, response.get_json()
    lowercase = {"Authorization": f"bearer {signer.token()}"}
    assert auth_client.get("/transitions", headers=lowercase).status_code == 200


def test_the_jwt_cookie_carries_a_token_too(auth_client, rsa_signer):
    auth_client.set_cookie("jwt", rsa_signer.token())
    assert auth_client.get("/transitions").status_code == 200


def test_no_token_is_401_with_upstreams_text_on_every_prefix(auth_client):
    for path in ("/", "/transitions", "/v1/transitions", "/apis/power-control/v1/power-status",
                 "/v1/inventory/bmcs", "/v1/health/details"):
        assert_401(auth_client.get(path), "no token found")
    assert_401(auth_client.post("/transitions", json={"operation": "on"}), "no token found")


@pytest.mark.parametrize("claims, drop, detail", [
    ({"exp": int(time.time()) - 3600}, (), "token is expired"),
    ({"nbf": int(time.time()) + 3600}, (), "token nbf validation failed"),
    ({"iat": int(time.time()) + 3600}, (), "token iat validation failed"),
    ({}, ("sub",), "missing required claim"),
    ({}, ("aud",), "missing required claim"),
    ({}, ("iss",), "missing required claim"),
    ({"aud": "another-service"}, (), "token is unauthorized"),
    ({"iss": "https://elsewhere.example"}, (), "token is unauthorized"),
], ids=["expired", "nbf", "iat", "no-sub", "no-aud", "no-iss", "wrong-aud", "wrong-iss"])
def test_a_token_failing_a_claim_is_401(auth_client, rsa_signer, claims, drop, detail):
    assert_401(auth_client.get("/transitions", headers=bearer(rsa_signer.token(drop, **claims))),
               detail)


def test_alg_none_unknown_kid_wrong_key_and_garbage_are_401(auth_client, rsa_signer):
    now = int(time.time())
    claims = {"sub": "mallory", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600}
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": rsa_signer.kid})
    stranger = Signer("rsa")
    impostor = Signer("rsa", kid=rsa_signer.kid)   # same key ID, another private key
    # HMAC with the public key as the secret: the classic algorithm confusion.
    public_pem = rsa_signer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    confused = _hmac_token(claims, public_pem, rsa_signer.kid)
    for token in (unsigned, stranger.token(), impostor.token(), confused, "not.a.token", "x"):
        assert_401(auth_client.get("/transitions", headers=bearer(token)),
                   "token is unauthorized")


def _hmac_token(claims: dict, secret: bytes, kid: str) -> str:
    """An HS256 token built by hand (PyJWT refuses a PEM key as an HMAC secret)."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def test_probes_and_the_openapi_document_need_no_token(auth_client):
    for prefix in ("", "/v1", "/apis/power-control/v1"):
        assert auth_client.get(f"{prefix}/liveness").status_code == 204
        assert auth_client.get(f"{prefix}/health").status_code == 200
        assert auth_client.get(f"{prefix}/readiness").status_code in (204, 503)
        assert auth_client.get(f"{prefix}/openapi.json").status_code == 200


def test_a_key_added_to_the_jwks_later_is_fetched_on_its_first_token(make_app, jwks,
                                                                     rsa_signer):
    jwks.publish(rsa_signer)
    client = make_app(jwks_url=jwks.url, jwks_refresh_s=3600).test_client()
    newcomer = Signer("ec")
    jwks.publish(rsa_signer, newcomer)
    # The first tries may fall inside the cooldown after the start's fetch; within it,
    # the unknown key ID makes pcs fetch the set again (the periodic refresh is an hour).
    wait_for(lambda: client.get("/transitions", headers=bearer(newcomer.token())
                                ).status_code == 200, timeout=20, interval=0.5,
             what="the new key to be fetched")
    assert client.get("/transitions", headers=bearer(rsa_signer.token())).status_code == 200


def test_until_the_keys_are_fetched_protected_routes_answer_503(make_app, jwks, rsa_signer):
    jwks.publish(rsa_signer)
    jwks.status = 500
    try:
        client = make_app(wait_ready=False, jwks_url=jwks.url).test_client()
        response = client.get("/transitions", headers=bearer(rsa_signer.token()))
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert client.get("/liveness").status_code == 204
        jwks.status = 200
        wait_for(lambda: client.get("/transitions", headers=bearer(rsa_signer.token())
                                    ).status_code == 200, timeout=15, what="keys fetched")
    finally:
        jwks.status = 200


# -- roles -----------------------------------------------------------------------------------
READER, OPERATOR, NOBODY = "reader", "operator", "nobody"


@pytest.fixture
def roles_client(make_app, jwks, rsa_signer):
    jwks.publish(rsa_signer)
    app = make_app(jwks_url=jwks.url, roles_claim="realm_access.roles",
                   read_role="pcs-read", operator_role="pcs-operator")
    tokens = {READER: rsa_signer.token(sub="rita", realm_access={"roles": ["pcs-read"]}),
              OPERATOR: rsa_signer.token(sub="otto", realm_access={"roles": ["pcs-operator"]}),
              NOBODY: rsa_signer.token(sub="nina", realm_access={"roles": ["other"]})}
    return app, tokens


def _routes(app) -> list[tuple[str, str]]:
    """Every (method, concrete path) the app serves, path parameters filled in."""
    filler = {"transition_id": str(uuid.uuid4()), "task_id": str(uuid.uuid4()),
              "xname": "x9999c0s0b0n0"}
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", filler[name])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, path))
    return out


def _expected_role(method: str, path: str) -> str | None:
    from pcs.api.auth import route_path
    route = route_path(path)
    if route in ("/liveness", "/readiness", "/health", "/openapi.json"):
        return None
    if route.startswith("/inventory"):
        return OPERATOR
    if method == "GET" or (method == "POST" and route in ("/power-status",
                                                         "/power-cap/snapshot")):
        return READER
    return OPERATOR


def test_role_matrix_for_every_route(roles_client):
    app, tokens = roles_client
    client = app.test_client()
    routes = _routes(app)
    assert len(routes) > 60   # every route at every prefix
    for method, path in routes:
        expected = _expected_role(method, path)
        for who, token in tokens.items():
            # A body that no route accepts: the answer is about the role, not the work.
            response = client.open(path, method=method, headers=bearer(token),
                                   json={"operation": "not-an-operation", "xnames": [],
                                         "location": [{"xname": "x9999c0s0b0n0"}]},
                                   buffered=False)
            status = response.status_code
            response.close()
            allowed = (expected is None or who == OPERATOR
                       or (who == READER and expected == READER))
            if allowed:
                assert status not in (401, 403), (who, method, path, status)
            else:
                assert status == 403, (who, method, path, status)
                assert response.content_type == "application/problem+json"


def test_without_a_roles_claim_any_valid_token_may_do_everything(auth_client, rsa_signer):
    response = auth_client.post("/v1/locks", headers=bearer(rsa_signer.token()),
                                json={"xnames": ["x9999c0s0b0n0"], "reason": "t"})
    assert response.status_code == 200, response.get_json()
    assert auth_client.delete("/v1/locks/x9999c0s0b0n0",
                              headers=bearer(rsa_signer.token())).status_code == 204


# -- the subject is recorded ------------------------------------------------------------------
def test_transitions_record_the_subject_and_state_changes_are_audited(auth_client, rsa_signer,
                                                                      caplog):
    from pcs.models import Transition
    caplog.set_level(logging.INFO, logger="pcs.audit")
    token = rsa_signer.token(sub="operator-ana")
    response = auth_client.post("/transitions", headers={**bearer(token),
                                                         "User-Agent": "audit-test"},
                                json={"operation": "on", "location": [{"xname": "x9999c0s0b0n0"}]})
    assert response.status_code == 200, response.get_json()
    transition_id = response.get_json()["transitionID"]
    refused = auth_client.delete(f"/transitions/{transition_id}")
    assert refused.status_code == 401
    auth_client.get("/transitions", headers=bearer(token))   # a read is not audited
    records = [json.loads(r.getMessage().split(" ", 1)[1]) for r in caplog.records
               if r.name == "pcs.audit"]
    assert records == [
        {"subject": "operator-ana", "method": "POST", "path": "/transitions", "status": 200,
         "address": "127.0.0.1", "userAgent": "audit-test"},
        {"subject": None, "method": "DELETE", "path": f"/transitions/{transition_id}",
         "status": 401, "address": "127.0.0.1", "userAgent": records[1]["userAgent"]}]
    db = auth_client.application.extensions["pcs"].db
    with db.transaction() as session:
        stored = session.scalar(select(Transition.requested_by).where(
            Transition.id == uuid.UUID(transition_id)))
    assert stored["subject"] == "operator-ana"
    assert stored["userAgent"] == "audit-test"


def test_over_http_under_gunicorn_tokens_are_checked_and_audited(settings, scratch_dir, jwks,
                                                                 rsa_signer):
    import requests
    from typer.testing import CliRunner

    from pcs.cli.main import cli
    jwks.publish(rsa_signer)
    env = dataclasses.replace(settings, jwks_url=jwks.url, roles_claim="roles").as_env()
    log_path = scratch_dir / "auth-api.log"
    server = ApiServer(env, log_path)
    try:
        url = server.url
        operator = rsa_signer.token(sub="bob", roles=["pcs-operator"])
        wait_for(lambda: requests.get(f"{url}/transitions", headers=bearer(operator),
                                      timeout=5).status_code == 200, timeout=20, what="the keys")
        assert requests.get(f"{url}/transitions", timeout=5).status_code == 401
        assert requests.get(f"{url}/liveness", timeout=5).status_code == 204
        response = requests.post(f"{url}/v1/locks", headers=bearer(operator),
                                 json={"xnames": ["x9998c0s0b0n0"], "reason": "audit"}, timeout=5)
        assert response.status_code == 200
        requests.delete(f"{url}/v1/locks/x9998c0s0b0n0", headers=bearer(operator), timeout=5)
        # The CLI sends its token (given, or from a file) and says what a 401 or 403 means.
        token_file = scratch_dir / "reader.token"
        token_file.write_text(rsa_signer.token(sub="rita", roles="pcs-read") + "\n")
        runner = CliRunner()
        anonymous = runner.invoke(cli, ["locks", "list", "--url", url], env={"PCS_TOKEN": None})
        assert anonymous.exit_code == 2
        assert "not authenticated" in anonymous.output and "no token found" in anonymous.output
        listed = runner.invoke(cli, ["locks", "list", "--url", url, "--token", f"@{token_file}"])
        assert listed.exit_code == 0, listed.output
        from_env = runner.invoke(cli, ["locks", "add", "x9998c0s0b0n0", "--url", url],
                                 env={"PCS_TOKEN_FILE": str(token_file), "PCS_TOKEN": None})
        assert from_env.exit_code == 2
        assert "not permitted" in from_env.output and "pcs-operator" in from_env.output
    finally:
        server.stop()
    lines = [line for line in log_path.read_text().splitlines() if "pcs.audit" in line]
    assert any('"subject": "bob", "method": "POST", "path": "/v1/locks", "status": 200' in line
               for line in lines), lines
    assert any('"method": "DELETE", "path": "/v1/locks/x9998c0s0b0n0", "status": 204' in line
               for line in lines), lines


# -- binding ---------------------------------------------------------------------------------
def test_without_authentication_the_api_refuses_a_non_loopback_address(settings, capfd):
    from pcs.api import create_app
    from pcs.errors import ConfigurationError
    with pytest.raises(ConfigurationError, match="PCS_AUTH_DISABLED"):
        create_app(dataclasses.replace(settings, api_host="0.0.0.0"))
    app = create_app(dataclasses.replace(settings, api_host="0.0.0.0", auth_disabled=True))
    app.extensions["pcs"].db.dispose()
    # The app sets up the process's logging itself: its warning reaches the process's stderr.
    assert "AUTHENTICATION IS DISABLED" in capfd.readouterr().err


def test_a_gunicorn_bind_other_than_pcs_api_host_serves_no_one(client):
    """The net under the start-time check: the address gunicorn listens on is checked too."""
    response = client.get("/transitions", environ_overrides={"SERVER_NAME": "0.0.0.0"})
    assert response.status_code == 403
    assert client.get("/liveness", environ_overrides={"SERVER_NAME": "0.0.0.0"}
                      ).status_code == 204
