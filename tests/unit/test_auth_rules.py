"""Which role each route needs, and where the JWKS URL is read from (pure rules)."""
from __future__ import annotations

import pytest

from pcs.api.auth import OPERATOR, READ, changes_state, is_loopback, required_role
from pcs.config import Settings


@pytest.mark.parametrize("method, path, role", [
    ("GET", "/liveness", None), ("GET", "/v1/readiness", None),
    ("GET", "/apis/power-control/v1/health", None), ("GET", "/v1/openapi.json", None),
    ("GET", "/liveness/", None),
    ("GET", "/", READ), ("GET", "/v1/health/details", READ), ("GET", "/transitions", READ),
    ("POST", "/power-status", READ), ("POST", "/v1/power-cap/snapshot", READ),
    ("GET", "/v1/events", READ),
    ("GET", "/v1/inventory/bmcs", OPERATOR), ("GET", "/apis/power-control/v1/inventory/components",
                                               OPERATOR),
    ("POST", "/transitions", OPERATOR), ("DELETE", "/v1/transitions/x", OPERATOR),
    ("PATCH", "/power-cap", OPERATOR), ("POST", "/v1/locks", OPERATOR),
])
def test_required_role(method, path, role):
    assert required_role(method, path) == role


def test_reading_posts_are_not_audited():
    assert not changes_state("POST", "/v1/power-status")
    assert changes_state("POST", "/v1/power-cap")
    assert changes_state("DELETE", "/v1/locks/x1000c0s0b0n0")


def test_jwks_url_reads_upstreams_name_and_the_pcs_name_wins():
    assert Settings.from_env({"JWKS_URL": "http://a"}).jwks_url == "http://a"
    assert Settings.from_env({"JWKS_URL": "http://a", "PCS_JWKS_URL": "http://b"}
                             ).jwks_url == "http://b"
    assert Settings.from_env({}).jwks_url is None


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True),
                                            ("[::1]", True), ("localhost", True),
                                            ("0.0.0.0", False), ("10.0.0.1", False),
                                            ("pcs.example", False)])
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback
