"""Database engine and sessions. Data functions take a Session; they never commit."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

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
            if exc.connection_invalidated or _is_connection_error(exc):
                raise DatabaseUnavailable(str(exc.orig).strip() or "database unreachable") from exc
            raise

    def ping(self) -> None:
        """Raises DatabaseUnavailable unless a trivial query succeeds."""
        with self.transaction() as session:
            session.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def _is_connection_error(exc: Exception) -> bool:
    message = str(getattr(exc, "orig", exc)).lower()
    return any(s in message for s in ("connection", "could not connect", "server closed",
                                      "terminating", "timeout"))
