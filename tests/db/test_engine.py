"""Engine setup: SQLite pragmas and transactions, PostgreSQL pings, URL redaction."""

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from db import migrate, repository
from db.engine import make_engine, redact_url
from db.tables import source_cursors


def test_sqlite_file_gets_its_directory_wal_and_foreign_keys(tmp_path):
    path = tmp_path / "new" / "dir" / "sentimon.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in (
                "journal_mode",
                "foreign_keys",
                "busy_timeout",
                "synchronous",
                "cache_size",
                "temp_store",
            )
        }
    engine.dispose()
    assert path.parent.is_dir()
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 30000,
        "synchronous": 1,
        "cache_size": -32768,  # KiB: 32 MiB
        "temp_store": 2,  # memory
    }


def test_sqlite_in_memory_works():
    engine = make_engine("sqlite://")
    assert migrate.upgrade(engine) == migrate.head_revision()


def test_sqlite_rolls_back_ddl_and_dml(tmp_path):
    # SQLAlchemy, not the driver, begins transactions: a rollback undoes DDL too.
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.rollback()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar() == 0
    engine.dispose()


def test_sqlite_writers_wait_for_each_other_instead_of_failing(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            source_cursors.insert(),
            {"source": "s", "position": "0", "updated_at": datetime.now(UTC)},
        )
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def increment() -> None:
        try:
            start.wait(timeout=5)
            with engine.begin() as conn:
                # Read, pause, write: without BEGIN IMMEDIATE one of the two would fail with
                # "database is locked" (or lose the other's update).
                value = int(repository.get_cursor(conn, "s") or 0)
                time.sleep(0.2)
                conn.execute(source_cursors.update().values(position=str(value + 1)))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=increment) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as conn:
        final = repository.get_cursor(conn, "s")
    engine.dispose()
    assert errors == []
    assert final == "2"


def test_postgres_engine_pings_and_connects(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    assert engine.pool._pre_ping
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_bare_postgresql_url_uses_psycopg():
    engine = make_engine("postgresql://user:secret@db.example/sentimon")
    assert engine.dialect.driver == "psycopg"


def test_redact_url_hides_the_password():
    redacted = redact_url("postgresql+psycopg://user:s3cret@db.example:5432/sentimon")
    assert "s3cret" not in redacted
    assert redacted == "postgresql+psycopg://user:***@db.example:5432/sentimon"
    assert (
        redact_url("sqlite:///sentimon-data/sentimon.db") == "sqlite:///sentimon-data/sentimon.db"
    )
    assert redact_url("not a url") == "<unparsable database URL>"
