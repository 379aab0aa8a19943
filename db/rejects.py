"""Stored rejects: listing them, and settling them after a replay (`sentimon rejects replay`).

A replay reads rejects that kept their parsed fields (``rejects.fields``) in id order, which is
the order they were read in; the ones that now pass are deleted in the transaction that stores
them as posts, the ones that still fail keep their row with the new reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from db.sql import chunked
from db.tables import rejects


@dataclass(frozen=True, slots=True)
class RejectRow:
    """One stored reject; ``replayable`` when it kept the fields its reader parsed."""

    id: int
    source: str
    locator: str
    external_id: str | None
    reason: str
    raw: str
    created_at: datetime
    replayable: bool


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A reject as a replay reads it: where it came from, its fields, when it was read."""

    id: int
    locator: str
    fields: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StillRejected:
    """A replayed record that failed again: its row keeps the new reason."""

    id: int
    reason: str
    external_id: str | None


def list_rejects(
    conn: Connection,
    source: str | None = None,
    reason: str | None = None,
    limit: int | None = None,
) -> list[RejectRow]:
    """Rejects in the order they were stored; ``reason`` matches any part of the reason,
    in any case."""
    query = select(
        rejects.c.id,
        rejects.c.source,
        rejects.c.locator,
        rejects.c.external_id,
        rejects.c.reason,
        rejects.c.raw,
        rejects.c.created_at,
        rejects.c.fields.is_not(None).label("replayable"),
    ).order_by(rejects.c.id)
    if source is not None:
        query = query.where(rejects.c.source == source)
    if reason:
        query = query.where(func.lower(rejects.c.reason).contains(reason.lower(), autoescape=True))
    if limit is not None:
        query = query.limit(limit)
    return [RejectRow(**row._asdict()) for row in conn.execute(query)]


def count_rejects(conn: Connection, source: str | None = None, reason: str | None = None) -> int:
    """How many rejects ``list_rejects`` would give without a limit."""
    query = select(func.count()).select_from(rejects)
    if source is not None:
        query = query.where(rejects.c.source == source)
    if reason:
        query = query.where(func.lower(rejects.c.reason).contains(reason.lower(), autoescape=True))
    return int(conn.execute(query).scalar_one())


def reject_sources(conn: Connection) -> list[str]:
    """The sources that have rejects."""
    return list(
        conn.execute(select(rejects.c.source).distinct().order_by(rejects.c.source)).scalars()
    )


def replayable_rejects(
    conn: Connection, source: str, after_id: int, limit: int
) -> list[StoredRecord]:
    """Up to ``limit`` rejects of ``source`` after id ``after_id`` that kept their fields."""
    query = (
        select(rejects.c.id, rejects.c.locator, rejects.c.fields, rejects.c.created_at)
        .where(rejects.c.source == source, rejects.c.id > after_id, rejects.c.fields.is_not(None))
        .order_by(rejects.c.id)
        .limit(limit)
    )
    return [StoredRecord(**row._asdict()) for row in conn.execute(query)]


def count_unreplayable(conn: Connection, source: str) -> int:
    """Rejects of ``source`` without fields: the reader could not parse them."""
    query = select(func.count()).where(rejects.c.source == source, rejects.c.fields.is_(None))
    return int(conn.execute(query).scalar_one())


def settle_rejects(conn: Connection, stored: Sequence[int], still: Sequence[StillRejected]) -> None:
    """Delete the rejects now stored as posts; give those that failed again their new reason."""
    for chunk in chunked(list(stored)):
        conn.execute(delete(rejects).where(rejects.c.id.in_(chunk)))
    for item in still:
        conn.execute(
            update(rejects)
            .where(rejects.c.id == item.id)
            .where(
                rejects.c.reason.is_distinct_from(item.reason)
                | rejects.c.external_id.is_distinct_from(item.external_id)
            )
            .values(reason=item.reason, external_id=item.external_id)
        )


def first_fields(conn: Connection, source: str) -> dict[str, Any] | None:
    """The fields of ``source``'s oldest replayable reject: the columns its records have."""
    query = (
        select(rejects.c.fields)
        .where(rejects.c.source == source, rejects.c.fields.is_not(None))
        .order_by(rejects.c.id)
        .limit(1)
    )
    return conn.execute(query).scalar_one_or_none()
