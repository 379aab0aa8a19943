"""flows/runtime/retry.py: which failures a task retries; real exceptions from real drivers."""

import errno
import os
import socket
import sqlite3
import stat

import psycopg
import pytest
import redis
from prefect.states import Failed
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from flows.runtime.retry import is_transient, retry_if_transient


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _raised(engine, sql: str) -> BaseException:
    with pytest.raises(Exception) as info, engine.begin() as conn:
        conn.execute(text(sql))
    return info.value


def _table(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    return engine


# --- transient: retried ----------------------------------------------------------------------


def test_postgres_refusing_connections_is_transient():
    """A PostgreSQL server that is restarting refuses connections for a few seconds."""
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/x")
    with pytest.raises(OperationalError) as info:
        engine.connect()
    assert is_transient(info.value)


def test_locked_sqlite_file_is_transient(tmp_path):
    engine = _table(tmp_path)
    other = sqlite3.connect(tmp_path / "db.sqlite", timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    try:
        locked = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}", connect_args={"timeout": 0})
        exc = _raised(locked, "INSERT INTO t VALUES (2)")
    finally:
        other.rollback()
        other.close()
    assert isinstance(exc, OperationalError) and "locked" in str(exc.orig)
    assert is_transient(exc)
    engine.dispose()


@pytest.mark.postgres
def test_connection_killed_by_the_server_is_transient(pg_schema_url):
    """A server restart drops open connections: SQLAlchemy marks the connection invalidated."""
    engine = create_engine(pg_schema_url)
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with create_engine(pg_schema_url, isolation_level="AUTOCOMMIT").connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(OperationalError) as info:
            conn.execute(text("SELECT 1"))
    engine.dispose()
    assert info.value.connection_invalidated
    assert is_transient(info.value)


def test_redis_down_is_transient():
    client = redis.Redis(
        host="127.0.0.1", port=_closed_port(), socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
    )
    with pytest.raises(redis.exceptions.ConnectionError) as info:
        client.ping()
    assert is_transient(info.value)


def test_refused_socket_and_timeouts_are_transient():
    with pytest.raises(ConnectionRefusedError) as info:
        socket.create_connection(("127.0.0.1", _closed_port()), timeout=2)
    assert is_transient(info.value)
    assert is_transient(TimeoutError("read timed out"))
    assert is_transient(redis.exceptions.TimeoutError("Timeout reading from socket"))


# --- permanent: fail at once with their message ----------------------------------------------


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files")
def test_read_only_database_file_is_permanent(tmp_path):
    _table(tmp_path).dispose()
    (tmp_path / "db.sqlite").chmod(stat.S_IRUSR)
    (tmp_path).chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        exc = _raised(
            create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), "INSERT INTO t VALUES (2)"
        )
    finally:
        tmp_path.chmod(stat.S_IRWXU)
    assert isinstance(exc, OperationalError)
    assert not is_transient(exc)


def test_database_opened_read_only_is_permanent(tmp_path):
    """SQLite's own read-only mode: "attempt to write a readonly database" (even as root)."""
    _table(tmp_path).dispose()
    uri = f"sqlite:///file:{tmp_path / 'db.sqlite'}?mode=ro&uri=true"
    exc = _raised(create_engine(uri), "INSERT INTO t VALUES (2)")
    assert isinstance(exc, OperationalError) and "readonly" in str(exc.orig)
    assert not is_transient(exc)


def test_full_disk_is_permanent():
    """The driver's own error types and messages; a full disk cannot be made in a test."""
    sqlite_full = OperationalError(
        "INSERT ...", {}, sqlite3.OperationalError("database or disk is full")
    )
    assert not is_transient(sqlite_full)
    pg_full = OperationalError(
        "INSERT ...",
        {},
        psycopg.errors.DiskFull('could not extend file "base/1/2": No space left on device'),
    )
    assert not is_transient(pg_full)
    assert not is_transient(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))


def test_data_errors_are_permanent(tmp_path):
    engine = _table(tmp_path)
    duplicate = _raised(engine, "INSERT INTO t VALUES (1)")
    assert isinstance(duplicate, IntegrityError)
    assert not is_transient(duplicate)
    assert not is_transient(ValueError("unparsable date"))
    assert not is_transient(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"))
    engine.dispose()


def test_missing_table_is_permanent(tmp_path):
    """SQLite reports a schema that was never migrated as an OperationalError: no retry fixes it."""
    engine = _table(tmp_path)
    missing = _raised(engine, "SELECT * FROM nowhere")
    assert isinstance(missing, OperationalError)
    assert not is_transient(missing)
    engine.dispose()


def test_permission_denied_is_permanent(tmp_path):
    assert not is_transient(PermissionError(errno.EACCES, "Permission denied", str(tmp_path)))


# --- Prefect's retry_condition_fn ------------------------------------------------------------


def test_retry_condition_reads_the_failed_states_exception():
    """Prefect wraps the raised exception as Failed(data=exc) before asking (task_engine.py)."""
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    assert retry_if_transient(None, None, Failed(data=refused))
    assert not retry_if_transient(None, None, Failed(data=ValueError("bad record")))
    assert not retry_if_transient(None, None, Failed(data="not an exception"))
