"""Small SQL helpers shared by the repository modules."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Float,
    MetaData,
    Row,
    Table,
    delete,
    insert,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite

# Bound values per IN list: far below SQLite's limit (32766 since 3.32, 999 before).
CHUNK = 500

T = TypeVar("T")

Insert = sqlite.Insert | postgresql.Insert
# The drivers whose own bulk path (`_load_rows`) is used; others get SQLAlchemy's executemany.
_BULK_DRIVERS = (("postgresql", "psycopg"), ("sqlite", "pysqlite"))


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
) -> list[Row[*tuple[Any, ...]]]:
    """INSERT ``rows`` (dicts with the same keys) ON CONFLICT (``conflict``) DO NOTHING; return
    ``returning`` of the rows that were new (unpack them: a Row's attributes are looked up by
    name, ~5x the time).

    The rows are loaded into a temporary table by the driver's own bulk path (COPY on
    PostgreSQL, executemany on SQLite) and inserted from there in one statement. An executemany
    with RETURNING cost ~150 us a row on PostgreSQL, most of a batch's commit; on SQLite, where
    SQLAlchemy builds and binds multi-row VALUES statements instead, the load table takes a
    batch of 5,000 from 0.35 to 0.28 s (bench/commit_speed.py, docs/performance.md).
    """
    if not rows:
        return []
    if (conn.dialect.name, conn.dialect.driver) not in _BULK_DRIVERS:
        stmt = (
            dialect_insert(conn, target)
            .on_conflict_do_nothing(index_elements=list(conflict))
            .returning(*returning)
        )
        return list(conn.execute(stmt, list(rows)).all())
    names = list(rows[0])
    # One per table and column set; a session's temporary tables are its own. Built from our
    # own Table's columns, so no SQL text is assembled here.
    loading = Table(
        f"sentimon_load_{target.name}_{len(names)}",
        MetaData(),
        *[Column(name, target.c[name].type) for name in names],
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DELETE ROWS",
    )
    loading.create(conn, checkfirst=True)
    conn.execute(delete(loading))  # a second call in the same transaction starts empty
    _load_rows(conn, loading, target, names, rows)
    stmt = (
        dialect_insert(conn, target)
        # WHERE true: SQLite reads "SELECT ... FROM t ON CONFLICT" as a join's ON otherwise.
        .from_select(names, select(*[loading.c[name] for name in names]).where(true()))
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(*returning)
    )
    inserted = list(conn.execute(stmt).all())  # all(): one fetch, not one per row
    if conn.dialect.name == "sqlite":
        conn.execute(delete(loading))  # SQLite keeps temporary rows past the commit
    return inserted


def insert_fresh(conn: Connection, target: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ``rows`` (dicts with the same keys) that cannot conflict with a stored row: the
    mentions and predictions of posts this transaction has just inserted (no other transaction
    can see those posts yet, so none can hold rows for them).

    Straight into the table by the driver's bulk path, without `insert_new`'s load table, ON
    CONFLICT and RETURNING. On PostgreSQL the two INSERT ... SELECTs from load tables took
    ~90 ms of a 5,000-post batch's commit; writing straight into the tables took the commit
    from 0.335 / 0.326 s to 0.297 / 0.310 s (SQLite 0.198 / 0.194 -> 0.180 / 0.195 s;
    `bench/commit_speed.py --repeat 2 --postgres URL`, old and new code in turns). A row that
    does conflict is a bug, and fails the transaction with the unique constraint's error
    (psycopg's own UniqueViolation from COPY on PostgreSQL).
    """
    if not rows:
        return
    if (conn.dialect.name, conn.dialect.driver) not in _BULK_DRIVERS:
        conn.execute(insert(target), list(rows))
        return
    _load_rows(conn, target, target, list(rows[0]), rows)


def _load_rows(
    conn: Connection,
    into: Table,
    target: Table,
    names: list[str],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """Write ``rows``' ``names`` into ``into`` (``target`` or its load table) by the driver's
    bulk path: COPY on PostgreSQL, executemany on SQLite."""
    # The column types' own bind processing for this dialect (UTC timestamps stored naive, as
    # SQLite's ISO text; JSON as text), as SQLAlchemy applies it to the statements it runs.
    processors = [_bind_processor(conn, target.c[name]) for name in names]
    values: Iterable[tuple[Any, ...]]
    if any(processors):
        # Column by column: only the columns with a processor are walked value by value
        # (bench/commit_speed.py --repeat 2, in turns: SQLite 0.151 / 0.150 s a batch of
        # 5,000 against 0.158 / 0.155 s row by row).
        columns = zip(*[row.values() for row in rows], strict=True)
        values = zip(
            *[c if p is None else map(p, c) for c, p in zip(columns, processors, strict=True)],
            strict=True,
        )
    else:
        values = [tuple(row.values()) for row in rows]
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, into, names, values)
    else:
        # Positional parameters in ``names`` order: the statement SQLAlchemy compiles for
        # these columns, run by the driver's executemany (one C loop over the rows).
        compiled = insert(into).compile(dialect=conn.dialect, column_keys=names)
        conn.exec_driver_sql(str(compiled), list(values))


def _bind_processor(conn: Connection, column: Column[Any]) -> Callable[[Any], Any] | None:
    """The column type's bind processing for this dialect, or None where it has nothing to do.

    A Float column's processor is float(), and every float we write is a Python float already
    (the callers convert numpy scalars): four calls a prediction, ~25 ms a batch of 5,000, for
    nothing. Any other processor is run through `_repeats_once`.
    """
    if isinstance(column.type, Float) and not column.type.asdecimal:
        return None
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return _repeats_once(process) if process is not None else None


def _repeats_once(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` run once for a value passed again and again: a batch's rows share the same
    ``ingested_at`` object (and predictions their ``scored_at``), and formatting a timestamp
    for SQLite costs ~4 us, about a third of the Python work of a post's commit
    (bench/commit_speed.py). An identity check, not a dict: the other timestamps (a post's
    ``created_at``) are mostly distinct, and a cache of them cost more than it saved."""
    last: list[Any] = [_NOTHING, None]

    def run(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return run


_NOTHING = object()


def _copy_rows(
    conn: Connection, loading: Table, names: list[str], values: Iterable[tuple[Any, ...]]
) -> None:
    from psycopg import sql  # the driver this path is for; SQLite installs need not load it

    driver_connection = conn.connection.driver_connection
    assert driver_connection is not None  # an open SQLAlchemy connection has one
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(loading.name), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with driver_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in values:
            copy.write_row(row)
