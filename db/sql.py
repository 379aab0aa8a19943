"""Small SQL helpers shared by the repository modules."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Column, Connection, Row, Table, column, select, table
from sqlalchemy.dialects import postgresql, sqlite

# Bound values per IN list: far below SQLite's limit (32766 since 3.32, 999 before).
CHUNK = 500

T = TypeVar("T")

Insert = sqlite.Insert | postgresql.Insert


def dialect_insert(conn: Connection, table: Table) -> Insert:
    """An ``insert(table)`` with ``on_conflict_do_nothing`` / ``on_conflict_do_update``.

    SQLite and PostgreSQL spell ON CONFLICT alike, but each has its own construct.
    """
    name = conn.dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"sentimon supports SQLite and PostgreSQL, not {name}")


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_new(
    conn: Connection,
    target: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict: Sequence[Column[Any]],
    returning: Sequence[Column[Any]],
) -> list[Row[Any]]:
    """INSERT ``rows`` (dicts with the same keys) ON CONFLICT (``conflict``) DO NOTHING; return
    ``returning`` of the rows that were new.

    On PostgreSQL the rows are COPYed into a temporary table and inserted from there in one
    statement: an executemany with RETURNING cost ~150 us a row there, most of a batch's commit
    (README "Performance"). SQLite runs in process, where executemany is already cheap.
    """
    if not rows:
        return []
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        return _copy_insert_new(conn, target, rows, conflict, returning)
    stmt = (
        dialect_insert(conn, target)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(*returning)
    )
    return list(conn.execute(stmt, list(rows)))


def _copy_insert_new(
    conn: Connection,
    target: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict: Sequence[Column[Any]],
    returning: Sequence[Column[Any]],
) -> list[Row[Any]]:
    names = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    # One per table and column set; a session's temporary tables are its own, emptied at
    # commit, and created once per pooled connection.
    temp = f"sentimon_load_{target.name}_{len(names)}"
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {temp} ON COMMIT DELETE ROWS AS "  # noqa: S608 (identifiers from our own Table)
        f"SELECT {columns} FROM {quote(target.name)} WITH NO DATA"
    )
    conn.exec_driver_sql(f"TRUNCATE {temp}")
    # The column types' own bind processing (UTC timestamps stored naive, JSON as text).
    processors = [target.c[name].type.bind_processor(conn.dialect) for name in names]
    driver_connection = conn.connection.driver_connection
    assert driver_connection is not None  # an open SQLAlchemy connection has one
    with (
        driver_connection.cursor() as cursor,
        cursor.copy(f"COPY {temp} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    value if process is None else process(value)
                    for value, process in zip(row.values(), processors, strict=True)
                ]
            )
    loaded = table(temp, *[column(name) for name in names])
    source = select(loaded)
    stmt = (
        postgresql.insert(target)
        .from_select(names, source)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(*returning)
    )
    return list(conn.execute(stmt))
