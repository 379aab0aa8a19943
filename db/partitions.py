"""Cursors of a source read in partitions (one per file of a landing folder).

A partition's cursor lives in ``source_cursors`` under the key ``SOURCE/PARTITION``, beside the
single cursor ``SOURCE`` of a source read as one sequence; posts and rejects keep ``SOURCE``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, select

from db.sql import dialect_insert
from db.tables import source_cursors

SEPARATOR = "/"


def partition_key(source: str, partition: str) -> str:
    """The cursor key of one partition of ``source``."""
    return f"{source}{SEPARATOR}{partition}"


def partition_cursors(conn: Connection, source: str) -> dict[str, str | None]:
    """Partition name -> committed position, for every partition of ``source`` seen so far."""
    prefix = partition_key(source, "")
    query = select(source_cursors.c.source, source_cursors.c.position).where(
        # autoescape: a source name may hold % or _, which LIKE would read as wildcards.
        source_cursors.c.source.startswith(prefix, autoescape=True)
    )
    return {row.source[len(prefix) :]: row.position for row in conn.execute(query)}


def set_cursor(conn: Connection, key: str, position: str | None) -> None:
    """Store ``position`` under ``key`` (a partition marks itself fully read this way)."""
    insert = dialect_insert(conn, source_cursors)
    now = datetime.now(UTC)
    conn.execute(
        insert.values(source=key, position=position, updated_at=now).on_conflict_do_update(
            index_elements=[source_cursors.c.source],
            set_={"position": insert.excluded.position, "updated_at": insert.excluded.updated_at},
        )
    )
