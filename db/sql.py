"""Small SQL helpers shared by the repository modules."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Column, Connection, MetaData, Row, Table, delete, select, text
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


def plan_each_statement(conn: Connection) -> None:
    """On PostgreSQL, plan every statement for its own values until the transaction ends.

    psycopg prepares a statement run five times; PostgreSQL may then switch to a generic plan,
    one made without the bound values. For a batch's statements, whose ids come as one array,
    that plan cannot see how many there are: ~20 batches into a run the aggregate update's
    generic plan took 0.9 s instead of 0.04 s. Planning each anew costs about a millisecond.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


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
    (docs/performance.md). SQLite runs in process, where executemany is already cheap.
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
    return list(conn.execute(stmt, list(rows)).all())


def _copy_insert_new(
    conn: Connection,
    target: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict: Sequence[Column[Any]],
    returning: Sequence[Column[Any]],
) -> list[Row[Any]]:
    from psycopg import sql  # the driver this path is for; SQLite installs need not load it

    names = list(rows[0])
    # One per table and column set; a session's temporary tables are its own and emptied at
    # every commit. Built from our own Table's columns, so no SQL text is assembled here.
    loading = Table(
        f"sentimon_load_{target.name}_{len(names)}",
        MetaData(),
        *[Column(name, target.c[name].type) for name in names],
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DELETE ROWS",
    )
    loading.create(conn, checkfirst=True)
    conn.execute(delete(loading))  # a second call in the same transaction starts empty
    # The column types' own bind processing (UTC timestamps stored naive, JSON as text).
    processors = [target.c[name].type.bind_processor(conn.dialect) for name in names]
    driver_connection = conn.connection.driver_connection
    assert driver_connection is not None  # an open SQLAlchemy connection has one
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(loading.name), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with driver_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row(
                [
                    value if process is None else process(value)
                    for value, process in zip(row.values(), processors, strict=True)
                ]
            )
    stmt = (
        postgresql.insert(target)
        .from_select(names, select(*[loading.c[name] for name in names]))
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(*returning)
    )
    return list(conn.execute(stmt).all())  # all(): one fetch, not one per row
