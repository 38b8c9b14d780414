"""Credential sources without I/O: which xname Vault keeps a login under, how a secret reads,
the local and fake stores, and the settings each source refuses to start without."""
import pytest

from pcs.config import Settings
from pcs.errors import ConfigurationError, CredentialsUnavailable
from pcs.inventory.credentials import CredentialStore
from pcs.sources.credentials import (Credentials, FakeCredentials, LocalCredentials, StoredLogin,
                                     credential_source)
from pcs.sources.vault import credentials_from_secret, secret_xname


@pytest.mark.parametrize("xname, key", [
    ("x0c0s0b0n0", "x0c0s0b0"),          # a node: its node BMC
    ("x1000c0s1b0n1p0", "x1000c0s1b0"),  # a processor: still the node BMC
    ("x1000c0s1b0", "x1000c0s1b0"),      # a node BMC: itself
    ("x1000c3b0", "x1000c3b0"),          # a chassis BMC
    ("x1000c0r7b0", "x1000c0r7b0"),      # a router BMC
    ("x3000m0p0j3", "x3000m0"),          # a PDU outlet: its PDU controller
    ("x0c0", "x0c0"),                    # a chassis: no BMC above it, itself
    ("x3000c0w14", "x3000c0w14"),        # a management switch: itself
    ("X1000C0S01B0N0", "x1000c0s1b0"),   # normalized
    ("not-an-xname", "not-an-xname"),
])
def test_vault_keeps_a_login_under_the_nearest_bmc(xname, key):
    assert secret_xname(xname) == key


@pytest.mark.parametrize("data, expected", [
    ({"Xname": "x0c0s0b0", "URL": "u", "Username": "root", "Password": "pw"},
     Credentials("root", "pw")),
    ({"username": "admin", "password": "p2"}, Credentials("admin", "p2")),
    ({"Username": "root"}, Credentials("root", "")),
    ({"Xname": "x0c0s0b0", "SNMPAuthPass": "a"}, None),
])
def test_a_secret_reads_as_smd_writes_it(data, expected):
    assert credentials_from_secret(data) == expected


def test_credentials_never_show_the_password():
    assert "pw-1234" not in repr(Credentials("root", "pw-1234"))
    assert "pw" not in repr(StoredLogin("x0c0s0b0", "root", b"pw"))


def test_local_source_decrypts_the_stored_password():
    store = CredentialStore("k")
    source = LocalCredentials(store)
    row = StoredLogin("x0c0s0b0", "root", store.encrypt("pw1"))
    assert source.credentials_for(row) == Credentials("root", "pw1")
    changed = StoredLogin("x0c0s0b0", "root", store.encrypt("pw2"))
    assert source.credentials_for(changed) == Credentials("root", "pw2")


def test_local_source_fails_clearly_for_a_row_without_password():
    with pytest.raises(CredentialsUnavailable, match="No password stored for BMC x0c0s0b0"):
        LocalCredentials(CredentialStore("k")).credentials_for(
            StoredLogin("x0c0s0b0", "root", None))


def test_fake_source_gives_every_bmc_the_configured_login():
    source = credential_source(Settings(fake_vault_enabled=True, fake_vault_user="u",
                                        fake_vault_password="p"))
    assert isinstance(source, FakeCredentials)
    assert source.credentials_for(StoredLogin("x9c0s0b0", "other", None)) == Credentials("u", "p")
    assert source.health() == "disabled"


@pytest.mark.parametrize("user, password, missing", [
    (None, "p", "PCS_FAKE_VAULT_REDFISH_USER"),
    ("u", None, "PCS_FAKE_VAULT_REDFISH_PASSWORD"),
    (None, None, "PCS_FAKE_VAULT_REDFISH_USER and PCS_FAKE_VAULT_REDFISH_PASSWORD"),
])
def test_fake_source_refuses_to_start_without_its_login(user, password, missing):
    with pytest.raises(ConfigurationError, match=f"needs {missing}$"):
        credential_source(Settings(fake_vault_enabled=True, fake_vault_user=user,
                                   fake_vault_password=password))


def test_smd_inventory_with_vault_off_refuses_to_start_naming_the_settings():
    with pytest.raises(ConfigurationError, match="VAULT_ENABLED=true, or FAKE_VAULT_ENABLED"):
        credential_source(Settings(sms_server="http://smd", vault_enabled=False))


def test_vault_source_refuses_a_negative_cache_duration():
    with pytest.raises(ConfigurationError, match="CRED_CACHE_DURATION=-1"):
        credential_source(Settings(vault_enabled=True, cred_cache_duration_s=-1))
