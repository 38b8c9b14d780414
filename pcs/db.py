"""Database engine and sessions. Data functions take a Session; they never commit."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from pcs import metrics
from pcs.errors import DatabaseUnavailable


def sqlalchemy_url(url: str) -> str:
    """Accept plain postgresql:// URLs and pick the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Database:
    """One engine and session factory per process, bound at app or worker start. `role`
    (api, worker) labels the pool's figures in the metrics."""

    def __init__(self, url: str, pool_size: int = 10, pre_ping: bool = True, role: str = "pcs"):
        # pre_ping: a round trip before each transaction, so that a connection lost to a
        # database restart is replaced unseen. Workers turn it off (several transactions per
        # task step) and run a claim once more instead (execution.py).
        self.engine: Engine = create_engine(
            sqlalchemy_url(url), pool_size=pool_size, max_overflow=pool_size,
            pool_pre_ping=pre_ping, pool_timeout=10,
            connect_args={"connect_timeout": 5, "application_name": "pcs"})
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        metrics.watch_pool(self.engine, role, limit=2 * pool_size)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit on success, roll back on error. Raises DatabaseUnavailable when unreachable."""
        try:
            with self.sessions.begin() as session:
                yield session
        except PoolTimeout:
            # Every connection of this process's pool is busy: overload, not an outage.
            raise DatabaseUnavailable(
                f"no database connection free within {self.engine.pool.timeout():g} s "
                f"(pool of {self.engine.pool.size()}); try again") from None
        except (OperationalError, InterfaceError) as exc:
            if exc.connection_invalidated or is_unavailable(exc.orig):
                raise DatabaseUnavailable(str(exc.orig).strip() or "database unreachable") from exc
            raise

    def ping(self) -> None:
        """Raises DatabaseUnavailable unless a trivial query succeeds."""
        with self.transaction() as session:
            session.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


# SQLSTATEs, besides class 08 (connection exception), of a server that cannot serve now:
# admin_shutdown, crash_shutdown, cannot_connect_now (starting or recovering), and
# too_many_connections.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def is_unavailable(exc: BaseException) -> bool:
    """Whether a driver (psycopg) exception means the database cannot be reached now, by its
    type and SQLSTATE, never its text: an OperationalError without SQLSTATE (the failure
    happened in the client: connection lost, refused or timed out), a connection exception
    (SQLSTATE class 08), a server shutting down or starting, or no connection slot free. A
    statement the server refused (a deadlock, a statement timeout, a constraint) is not."""
    if not isinstance(exc, psycopg.Error):
        return False
    if exc.sqlstate is None:
        return isinstance(exc, psycopg.OperationalError)
    return exc.sqlstate.startswith("08") or exc.sqlstate in _UNAVAILABLE_SQLSTATES
