"""Small SQL helpers shared by the repository modules."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from sqlalchemy import Connection, Table
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
