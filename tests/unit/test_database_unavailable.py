"""Which driver errors mean the database is away: by type and SQLSTATE, never the text."""
from __future__ import annotations

import psycopg
import psycopg.errors as pg
import pytest

from pcs.db import is_unavailable


@pytest.mark.parametrize("exc", [
    psycopg.OperationalError("server closed the connection unexpectedly"),   # no SQLSTATE
    psycopg.OperationalError("connection failed: Connection refused"),
    psycopg.OperationalError("connection timeout expired"),
    psycopg.OperationalError(""),
    pg.ConnectionException("x"),                          # 08000
    pg.ConnectionFailure("x"),                            # 08006
    pg.SqlclientUnableToEstablishSqlconnection("x"),      # 08001
    pg.AdminShutdown("terminating connection due to administrator command"),   # 57P01
    pg.CrashShutdown("x"),                                # 57P02
    pg.CannotConnectNow("the database system is starting up"),                 # 57P03
    pg.TooManyConnections("x"),                           # 53300
], ids=lambda e: f"{type(e).__name__}-{e.sqlstate}")
def test_connection_failures_are_unavailable(exc):
    assert is_unavailable(exc)


@pytest.mark.parametrize("exc", [
    pg.DeadlockDetected("deadlock detected"),                           # 40P01
    pg.QueryCanceled("canceling statement due to statement timeout"),   # 57014
    pg.LockNotAvailable("could not obtain lock"),                       # 55P03
    pg.UniqueViolation("duplicate key value violates unique constraint"),
    pg.UndefinedTable("relation \"connection\" does not exist"),
    psycopg.InterfaceError("the connection is closed"),   # a client misuse, no SQLSTATE
    psycopg.ProgrammingError("connection"),
    ConnectionError("connection refused"),                # not the database driver's
], ids=lambda e: f"{type(e).__name__}-{getattr(e, 'sqlstate', None)}")
def test_statement_failures_are_not_unavailable(exc):
    assert not is_unavailable(exc)


def test_every_connection_exception_class_counts():
    assert all(is_unavailable(cls("x")) for cls in (
        pg.lookup("08003"), pg.lookup("08004"), pg.lookup("08007"), pg.lookup("08P01")))
