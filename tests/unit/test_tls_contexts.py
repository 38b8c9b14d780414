"""Unit tests for pcs.redfish.tls: one SSLContext per trust configuration, none from the
environment."""
import ssl

from pcs.redfish import tls


def test_each_trust_configuration_has_one_shared_context():
    assert tls.context_for(True) is tls.context_for(True)
    assert tls.context_for(False) is tls.context_for(False, "/no/such/bundle")
    assert tls.context_for(True) is not tls.context_for(False)


def test_verification_is_off_only_when_asked():
    verified, unverified = tls.context_for(True), tls.context_for(False)
    assert verified.verify_mode == ssl.CERT_REQUIRED and verified.check_hostname
    assert unverified.verify_mode == ssl.CERT_NONE and not unverified.check_hostname


def test_a_key_log_file_in_the_environment_is_not_written(monkeypatch, tmp_path):
    monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "keys"))
    assert tls._build(True, None, None).keylog_filename is None
