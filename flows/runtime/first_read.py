"""What a run's first read of a files or SQL source would refuse, found before Prefect and the model
start (~15 s): a first batch mostly rejected for one reason (pipeline/sources/guard.py), and a
single input file rewritten or truncated under its stored cursor (pipeline/sources/identity.py).

The flow makes the same checks at its first batch (deployments and schedules have no CLI);
here they are made the same way, with the same reader, validator and guard, so that the CLI
answers in about a second with one line. Nothing is written: the cursor is read from the
results database (a SQLite file opened read-only; a missing file or table means no cursor),
no batch is committed. Only plain imports: never prefect or torch.

A SQL source gets the same: its table or query and columns as its reader checks them, and
for a new one the first-batch guard. A case this cannot see (a database that fails to answer,
a Redis stream, a folder read per file on Dask workers, which has no first-batch guard) is left
to the flow.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from db import repository
from db.partitions import partition_cursors
from flows.runtime.leasing import held_elsewhere
from flows.runtime.preflight import CONNECT_TIMEOUT_S, check_database_url
from flows.runtime.sources import ResolvedSource, open_source
from pipeline.sources import FileSource, SourceBatch
from pipeline.sources.guard import check_first_batch, check_mapped_fields, check_repeated_ids
from pipeline.sources.validate import Validator


def check_first_read(
    db_url: str,
    resolved: ResolvedSource,
    batch_size: int | None,
    column_map: dict[str, str] | None,
    accept_rejects: bool = False,
    partition_files: bool = False,
) -> list[str] | None:
    """Raise what the flow's first batch of ``resolved`` would raise before it commits.

    ``resolved`` carries the run's options (flows/runtime/sources.py ``with_run_options``);
    ``batch_size`` and ``column_map`` are the run's, None for sentimon.toml's, as in the flow.
    Raises FirstBatchRejectedError (a usage error) or SourceError.

    Returns the reader's notices when a files source has no record to read (an empty file, a
    header alone, nothing after its cursor): the run has nothing to do and says so at once,
    not after Prefect and the model have started. Returns None when the flow's first batch
    would pass, or when this cannot tell.
    """
    if resolved.config.kind == "sql":
        _check_sql_first_read(db_url, resolved, batch_size, column_map, accept_rejects)
        return None
    if resolved.config.kind != "files" or resolved.path is None:
        return None
    cursors = _stored_cursors(db_url, resolved.name)
    if cursors is None:
        return None
    cursor, partitioned = cursors
    if resolved.path.is_dir() and (partitioned or (partition_files and cursor is None)):
        return None  # read per file (flows/partitions.py); a sequential cursor stays sequential
    source = open_source(resolved)
    assert isinstance(source, FileSource)
    try:
        with _quiet(logging.getLogger(FileSource.__module__)):
            if cursor is not None:
                source.check_resume(cursor)
                return _nothing_to_read(source.read_batch(cursor, 1), source)
            read = source.read_batch(None, batch_size or resolved.config.batch_size)
    finally:
        source.close()
    if not read.records or accept_rejects:  # accepted: stored whatever it holds
        return _nothing_to_read(read, source)
    validator = Validator(resolved.name, column_map or resolved.config.column_map)
    posts, rejects = validator.split(read.records)
    check_first_batch(resolved.name, len(read.records), rejects)
    check_mapped_fields(resolved.name, read.records, validator.column_map)
    check_repeated_ids(resolved.name, posts, validator.column_map)
    return None


def _nothing_to_read(read: SourceBatch, source: FileSource) -> list[str] | None:
    """The reader's notices when it found no record (nor refused a folder entry, which the
    flow's summary counts); None when the flow has something to do."""
    if read.records or source.refused:
        return None
    return list(source.notices)


def _check_sql_first_read(
    db_url: str,
    resolved: ResolvedSource,
    batch_size: int | None,
    column_map: dict[str, str] | None,
    accept_rejects: bool,
) -> None:
    """A SQL source's table or query, cursor and key columns, as its reader checks them on its
    first read (a wrong name is one line, not a failed flow ~10 s in); and for a new source the
    first-batch guard. Read-only: the reader reads in a transaction the database keeps so."""
    cursors = _stored_cursors(db_url, resolved.name)
    new = cursors is not None and cursors[0] is None and not accept_rejects
    source = open_source(resolved)
    try:
        read = source.read_batch(None, (batch_size or resolved.config.batch_size) if new else 1)
    finally:
        source.close()
    if new:
        validator = Validator(resolved.name, column_map or resolved.config.column_map)
        posts, rejects = validator.split(read.records)
        check_first_batch(resolved.name, len(read.records), rejects)
        check_mapped_fields(resolved.name, read.records, validator.column_map)
        check_repeated_ids(resolved.name, posts, validator.column_map)


def busy_source(db_url: str, name: str) -> str | None:
    """Why a run of source ``name`` would be skipped (another live run holds it), else None;
    also None when this cannot tell, the flow's own lease settles it then."""
    engine = _reading(db_url)
    if engine is None or isinstance(engine, str):
        return None
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("source_leases"):
                return None
            return held_elsewhere(conn, name)
    except SQLAlchemyError:
        return None  # the run reports what is wrong with the database
    finally:
        engine.dispose()


def _stored_cursors(db_url: str, name: str) -> tuple[str | None, bool] | None:
    """The source's stored cursor and whether it has per-file (partition) cursors; (None,
    False) before the database or its tables exist; None when this cannot tell."""
    engine = _reading(db_url)
    if engine is None:
        return None
    if isinstance(engine, str):
        return None, False
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("source_cursors"):
                return None, False
            return repository.get_cursor(conn, name), bool(partition_cursors(conn, name))
    except SQLAlchemyError:
        return None  # the run reports what is wrong with the database
    finally:
        engine.dispose()


def _reading(db_url: str) -> Engine | str | None:
    """An engine that reads the results database (a SQLite file opened read-only); "absent"
    when there is no database yet; None when this cannot tell (a SQLite URI of its own)."""
    url = check_database_url(db_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(
            url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
        )
    if url.query.get("uri"):
        return None  # a URI form with its own options: left to the flow
    database = url.database
    if not database or database == ":memory:":
        return "absent"
    path = Path(database).expanduser()
    return _read_only_sqlite(path) if path.is_file() else "absent"


def _read_only_sqlite(path: Path) -> Engine:
    """An engine on the SQLite file ``path`` that cannot write to it."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return create_engine(
        "sqlite://",
        poolclass=NullPool,
        creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
    )


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    """The reader's notices (a file landed late, binary data passed over) are the run's to
    tell: reading ahead of it, they would be printed twice."""
    was, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = was
