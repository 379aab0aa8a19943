"""Engines for SQLite (the embedded default) and PostgreSQL, and URL redaction for logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# WAL lets readers (analysts, reports) work while a batch commits; busy_timeout makes a second
# writer wait for the first instead of failing; NORMAL is durable enough in WAL mode. A page
# cache of 32 MiB instead of SQLite's 2 MiB, and temporary tables (db.sql.insert_new's load
# tables) in memory: a batch's commit inserts into indexes all over their pages, which the
# default cache read again from the OS each batch (bench/run.py --posts 200000 --only e2e:
# the commit stage 11% faster; docs/performance.md).
SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=30000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA cache_size=-32768",
    "PRAGMA temp_store=MEMORY",
)


def make_engine(url: str, **engine_kwargs: Any) -> Engine:
    """An engine for ``url``, set up for sentimon's transactions.

    SQLite files get their parent directory created and the pragmas above on every connection;
    PostgreSQL connections are pinged before use. ``engine_kwargs`` go to ``create_engine``.
    """
    parsed = _normalise(make_url(url))
    if parsed.get_backend_name() == "sqlite":
        _create_parent_dir(parsed)
        engine = create_engine(parsed, **engine_kwargs)
        _configure_sqlite(engine)
        return engine
    engine_kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **engine_kwargs)


def redact_url(url: str) -> str:
    """``url`` with its password hidden, fit for a log line."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def _normalise(url: URL) -> URL:
    # psycopg 3 is the installed driver; a bare postgresql:// would ask for psycopg2.
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def _create_parent_dir(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or url.query.get("uri") == "true":
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine) -> None:
    """Pragmas on connect, and transactions that SQLAlchemy begins itself.

    The recipe from SQLAlchemy's SQLite docs: the pysqlite driver's legacy transaction handling
    is switched off and SQLAlchemy emits BEGIN IMMEDIATE. A transaction that reads and then
    writes would otherwise start as a shared read lock and fail with "database is locked" when
    another writer got there first; IMMEDIATE takes the write lock up front, so that two writers
    wait for each other (busy_timeout) instead.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
