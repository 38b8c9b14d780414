"""Tests of pcs.runtime.embedded: real PostgreSQL and Valkey servers from the installed wheels."""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis

from pcs.runtime.embedded import EmbeddedServerError, server_answers, start_postgres, start_valkey


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def psycopg_url(url: str) -> str:
    # The module hands out SQLAlchemy URLs; psycopg wants the plain libpq form.
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def state_dir(tmp_path):
    """A state dir PostgreSQL can reach. As root it runs as another user, and pytest's
    tmp_path lives under /tmp/pytest-of-root (mode 0700), so use a traversable dir instead."""
    if os.geteuid() != 0:
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="pcs-embedded-test-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_postgres_keeps_data_across_restart(state_dir):
    port = free_port()
    server = start_postgres(state_dir, port)
    try:
        assert server.name == "postgresql"
        password = (state_dir / "postgres.password").read_text().strip()
        assert server.url == f"postgresql+psycopg://postgres:{password}@127.0.0.1:{port}/pcs"
        with psycopg.connect(psycopg_url(server.url)) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            conn.execute("CREATE TABLE t (v text)")
            conn.execute("INSERT INTO t VALUES ('kept')")
    finally:
        server.stop()
    assert not server_answers("127.0.0.1", port)
    assert (state_dir / "logs" / "postgres.log").stat().st_size > 0

    server = start_postgres(state_dir, port)
    try:
        with psycopg.connect(psycopg_url(server.url)) as conn:
            assert conn.execute("SELECT v FROM t").fetchall() == [("kept",)]
    finally:
        server.stop()


def test_postgres_starts_after_unclean_stop(state_dir):
    port = free_port()
    server = start_postgres(state_dir, port)
    with psycopg.connect(psycopg_url(server.url), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (v int)")
        conn.execute("INSERT INTO t VALUES (7)")
    server.process.kill()  # SIGKILL: no shutdown checkpoint, postmaster.pid left behind
    server.process.wait()
    server.stop()
    pid_file = state_dir / "postgres" / "postmaster.pid"
    assert pid_file.exists()
    # Pid reuse: the recorded pid now belongs to a live non-PostgreSQL process of the same
    # user. PostgreSQL alone would refuse to start ("lock file already exists").
    owner = pwd.getpwuid(pid_file.stat().st_uid)
    impostor = subprocess.Popen(["sleep", "60"], user=owner.pw_uid, group=owner.pw_gid,
                                extra_groups=[] if os.geteuid() == 0 else None)
    try:
        pid_file.write_text(f"{impostor.pid}\n" + pid_file.read_text().split("\n", 1)[1])
        server = start_postgres(state_dir, port)
        try:
            with psycopg.connect(psycopg_url(server.url)) as conn:
                assert conn.execute("SELECT v FROM t").fetchall() == [(7,)]
        finally:
            server.stop()
    finally:
        impostor.kill()
        impostor.wait()


def test_valkey_keeps_keys_across_restart(state_dir):
    port = free_port()
    server = start_valkey(state_dir, port)
    try:
        assert server.name == "valkey"
        password = (state_dir / "valkey.password").read_text().strip()
        assert server.url == f"redis://:{password}@127.0.0.1:{port}/0"
        client = redis.Redis.from_url(server.url)
        client.set("queued", "message")
        assert client.get("queued") == b"message"
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        client.close()
    finally:
        server.stop()
    assert not server_answers("127.0.0.1", port)
    assert (state_dir / "logs" / "valkey.log").stat().st_size > 0

    server = start_valkey(state_dir, port)
    try:
        client = redis.Redis.from_url(server.url)
        assert client.get("queued") == b"message"
        client.close()
    finally:
        server.stop()


@pytest.mark.parametrize("start", [start_postgres, start_valkey])
def test_port_taken_is_reported(state_dir, start):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(EmbeddedServerError, match=f"port {port} .* already in use"):
            start(state_dir, port)


@pytest.mark.parametrize("start", [start_postgres, start_valkey])
def test_stop_is_idempotent(state_dir, start):
    port = free_port()
    server = start(state_dir, port)
    assert server_answers("127.0.0.1", port)
    server.stop()
    server.stop()
    assert not server_answers("127.0.0.1", port)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
def test_private_parent_directory_is_made_traversable_for_postgres(state_dir, caplog):
    """A checkout under a 0700 directory (mktemp, /root) still runs: traverse only, no listing."""
    private = state_dir / "private"
    private.mkdir(mode=0o700)
    server = start_postgres(private / "state", free_port())
    try:
        with psycopg.connect(psycopg_url(server.url)) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
    assert private.stat().st_mode & 0o777 == 0o701
    assert f"granted traverse permission (o+x) on {private}" in caplog.text


def test_server_answers():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert server_answers("127.0.0.1", port)
    assert not server_answers("127.0.0.1", port, timeout=0.2)


def test_embedded_servers_refuse_a_client_without_the_generated_password(state_dir):
    pg = start_postgres(state_dir, free_port())
    valkey = start_valkey(state_dir, free_port())
    try:
        for name in ("postgres.password", "valkey.password"):
            assert (state_dir / name).stat().st_mode & 0o777 == 0o600
        pg_port = int(pg.url.rsplit(":", 1)[1].split("/")[0])
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(host="127.0.0.1", port=pg_port, user="postgres", dbname="pcs",
                            connect_timeout=5)
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(host="127.0.0.1", port=pg_port, user="postgres", dbname="pcs",
                            password="guess", connect_timeout=5)
        stranger = redis.Redis.from_url(valkey.url.replace(
            (state_dir / "valkey.password").read_text().strip(), ""))
        with pytest.raises(redis.AuthenticationError):
            stranger.set("rewritten", "bmc address")
        stranger.close()
        # The password is on no command line (every local user can read those).
        for server in (pg, valkey):
            argv = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
            assert (state_dir / f"{'postgres' if server is pg else 'valkey'}.password"
                    ).read_text().strip().encode() not in argv
    finally:
        pg.stop()
        valkey.stop()


def test_a_data_directory_made_with_trust_gets_a_password(state_dir):
    port = free_port()
    server = start_postgres(state_dir, port)
    server.stop()
    # As before passwords existed: trust for everyone, no password file.
    (state_dir / "postgres.password").unlink()
    hba = state_dir / "postgres" / "pg_hba.conf"
    hba.write_text("host all all 127.0.0.1/32 trust\n")
    server = start_postgres(state_dir, port)
    try:
        with psycopg.connect(psycopg_url(server.url)) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="pcs",
                            connect_timeout=5)
    finally:
        server.stop()
