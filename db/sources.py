"""What the database knows about each source: its cursor, its batches, its rejects, its lease;
and moving a cursor back (`sentimon sources list|reset`).

A source read per file (flows/partitions.py) has one cursor per file, ``SOURCE/FILE``, whose
position names FILE; its batches carry that key too. Both are counted under SOURCE here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, case, delete, func, select

from db.partitions import SEPARATOR
from db.tables import batches, rejects, source_cursors, source_leases


@dataclass
class SourceState:
    """One source as the database sees it."""

    name: str
    position: str | None = None  # the cursor of a source read as one sequence
    cursor_updated_at: datetime | None = None
    partitions: dict[str, str | None] = field(default_factory=dict)  # file -> its cursor
    batches: int = 0
    last_batch_at: datetime | None = None
    n_read: int = 0
    n_posts: int = 0
    n_new_posts: int = 0
    rejects: int = 0  # rejects stored now (a replay removes those it stores)
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None


def partition_of(key: str, position: str | None) -> tuple[str, str] | None:
    """(source, file) when ``key`` is the per-file cursor key of a source read per file."""
    source, sep, file = key.rpartition(SEPARATOR)
    if not sep or not source or not file or position is None:
        return None
    try:
        data = json.loads(position)
    except ValueError:
        return None
    return (source, file) if isinstance(data, dict) and data.get("file") == file else None


def source_states(conn: Connection) -> list[SourceState]:
    """Every source that has a cursor, a batch, a reject or a lease, by name."""
    states: dict[str, SourceState] = {}
    partition_keys: dict[str, str] = {}  # SOURCE/FILE -> SOURCE

    def state(name: str) -> SourceState:
        return states.setdefault(name, SourceState(name))

    for row in conn.execute(select(source_cursors)):
        part = partition_of(row.source, row.position)
        if part is not None:
            partition_keys[row.source] = part[0]
            state(part[0]).partitions[part[1]] = row.position
        else:
            item = state(row.source)
            item.position, item.cursor_updated_at = row.position, row.updated_at
    totals = select(
        batches.c.source,
        func.count().label("n"),
        func.max(batches.c.finished_at).label("last"),
        # A replay of stored rejects (`rejects replay`) commits batches without a cursor: it
        # reads no record of the input, so it adds nothing to what the source has read.
        func.sum(case((batches.c.cursor_to.is_not(None), batches.c.n_read), else_=0)).label(
            "n_read"
        ),
        func.sum(batches.c.n_posts).label("n_posts"),
        func.sum(batches.c.n_new_posts).label("n_new_posts"),
    ).group_by(batches.c.source)
    for row in conn.execute(totals):
        item = state(partition_keys.get(row.source, row.source))
        item.batches += row.n
        item.n_read += row.n_read or 0
        item.n_posts += row.n_posts or 0
        item.n_new_posts += row.n_new_posts or 0
        last = row.last  # max() keeps the column's type: an aware UTC datetime
        if last is not None and (item.last_batch_at is None or last > item.last_batch_at):
            item.last_batch_at = last
    counts = select(rejects.c.source, func.count().label("n")).group_by(rejects.c.source)
    for row in conn.execute(counts):
        state(row.source).rejects = row.n
    for row in conn.execute(select(source_leases)):
        item = state(partition_keys.get(row.source, row.source))
        item.lease_owner, item.lease_expires_at = row.owner, row.expires_at
    return [states[name] for name in sorted(states)]


def source_state(conn: Connection, name: str) -> SourceState | None:
    """``name``'s state; None when the database knows nothing of it."""
    return next((s for s in source_states(conn) if s.name == name), None)


def forget_cursors(conn: Connection, name: str, files: list[str] | None = None) -> int:
    """Delete ``name``'s cursor and its per-file cursors (only those of ``files`` if given);
    returns how many were deleted. The next run reads what they covered again."""
    keys = [] if files is not None else [name]
    for row in conn.execute(select(source_cursors.c.source, source_cursors.c.position)):
        part = partition_of(row.source, row.position)
        if part is not None and part[0] == name and (files is None or part[1] in files):
            keys.append(row.source)
    if not keys:
        return 0
    result = conn.execute(delete(source_cursors).where(source_cursors.c.source.in_(keys)))
    return int(result.rowcount)


def batch_positions(conn: Connection, name: str) -> list[str]:
    """The cursors ``name``'s batches (its own, not its files' when read per file) ended at,
    in the order they committed: where in its input it has read."""
    query = (
        select(batches.c.cursor_to)
        .where(batches.c.source == name, batches.c.cursor_to.is_not(None))
        .order_by(batches.c.id)
    )
    return [position for position in conn.execute(query).scalars() if position]
