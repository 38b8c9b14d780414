"""`pcs secrets rotate`: every stored BMC password under a new key, the old key working until
the rotation is done, running processes following the key file."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from harness import ROOT, Simulator
from pcs.inventory.credentials import KEY_FILE, CredentialStore, load_secret
from pcs.models import Bmc

pytestmark = pytest.mark.integration

PASSWORD = "rotate-me-5150"


def _rotate(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pcs.cli.main", "secrets", "rotate"],
                          env={**env}, cwd=ROOT, capture_output=True, text=True, timeout=60)


def _stored(db) -> list[bytes]:
    with db.transaction() as session:
        return [bytes(t) for t in session.scalars(select(Bmc.password_encrypted))]


def test_rotation_re_encrypts_every_password_and_drops_the_old_key(private_stack_factory,
                                                                   settings, tmp_path):
    state = tmp_path / "state"
    old_key = load_secret(dataclasses.replace(settings, secret_key=None, state_dir=str(state)),
                          create=True)
    private, _, client = private_stack_factory(
        Simulator(bmcs=3, nodes_per_bmc=1, power_delay_s=0.1, password=PASSWORD),
        secret_key=None, state_dir=str(state))
    running = client.application.extensions["pcs"].credentials   # holds the old key
    db = client.application.extensions["pcs"].db
    before = _stored(db)
    assert len(before) == 3
    env = {k: v for k, v in private.as_env().items() if k != "PCS_SECRET_KEY"}
    done = _rotate({**os.environ, **env})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 BMC passwords re-encrypted" in done.stdout
    new_key = (state / KEY_FILE).read_text().strip()
    assert new_key and new_key != old_key and "\n" not in new_key
    assert (state / KEY_FILE).stat().st_mode & 0o777 == 0o600
    after = _stored(db)
    assert all(CredentialStore(new_key).decrypt(t) == PASSWORD for t in after)
    with pytest.raises(Exception):
        CredentialStore(old_key).decrypt(after[0])
    # A process started before the rotation reads the key file again and goes on working.
    assert running.decrypt(after[0]) == PASSWORD
    assert CredentialStore(new_key).decrypt(running.encrypt("x")) == "x"


def test_while_both_keys_are_listed_both_decrypt():
    old, new = CredentialStore("old-key"), CredentialStore("new-key")
    both = CredentialStore("new-key,old-key")
    assert both.decrypt(old.encrypt("a")) == "a" and both.decrypt(new.encrypt("b")) == "b"
    assert new.decrypt(both.encrypt("c")) == "c"   # the first key encrypts


def test_with_pcs_secret_key_rotation_needs_new_and_old(private_stack_factory, settings):
    private, _, client = private_stack_factory(
        Simulator(bmcs=1, nodes_per_bmc=1, power_delay_s=0.1, password=PASSWORD),
        secret_key="first-key")
    env = {**os.environ, **private.as_env()}
    single = _rotate(env)
    assert single.returncode == 2
    assert "NEW,OLD" in single.stdout
    done = _rotate({**env, "PCS_SECRET_KEY": "second-key,first-key"})
    assert done.returncode == 0, done.stdout + done.stderr
    stored = _stored(client.application.extensions["pcs"].db)
    assert CredentialStore("second-key").decrypt(stored[0]) == PASSWORD
