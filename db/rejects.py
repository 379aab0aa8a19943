"""Stored rejects: listing them, settling them after a replay (`sentimon rejects replay`),
and clearing those whose record, read again, passes now.

A replay reads rejects that kept their parsed fields (``rejects.fields``) in id order, which is
the order they were read in; the ones that now pass are deleted in the transaction that stores
them as posts, the ones that still fail keep their row with the new reason.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, delete, func, select, update

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


def clear_superseded(
    conn: Connection, source: str, post_locators: Sequence[str], reject_locators: Sequence[str]
) -> int:
    """Delete the rejects of ``source`` that a batch has read again (an input fixed and read
    again after `sentimon sources reset`); returns how many.

    A reject at one of the batch's post locators is out of date. So, in a file, is one that lies
    within the byte range the batch has read (``name@offset`` locators) but that the batch did not
    reject again: fixing a line moves the offsets of those after it. Rejects the batch made
    (``reject_locators``) stay. One indexed lookup when the source has no rejects, which is every
    batch of a clean feed.
    """
    if not post_locators and not reject_locators:
        return 0
    has_any = select(rejects.c.id).where(rejects.c.source == source).limit(1)
    if conn.execute(has_any).first() is None:
        return 0
    keep = set(reject_locators)
    spans: dict[str, list[int]] = {}
    exact = []
    for locator in (*post_locators, *reject_locators):
        where = _FILE_LOCATOR.match(locator)
        if where is not None:
            spans.setdefault(where["file"], []).append(int(where["offset"]))
        elif locator not in keep:
            exact.append(locator)
    stale = [
        row.id
        for file, offsets in spans.items()
        for row in conn.execute(_in_span(source, file, min(offsets), max(offsets)))
        if row.locator not in keep
        and (match := _FILE_LOCATOR.match(row.locator)) is not None
        and match["file"] == file
        and min(offsets) <= int(match["offset"]) <= max(offsets)
    ]
    cleared = 0
    for chunk in chunked(stale):
        cleared += conn.execute(delete(rejects).where(rejects.c.id.in_(chunk))).rowcount
    for chunk in chunked(exact):
        done = conn.execute(
            delete(rejects).where(rejects.c.source == source, rejects.c.locator.in_(chunk))
        )
        cleared += done.rowcount
    return cleared


_FILE_LOCATOR = re.compile(r"^(?P<file>.+)@(?P<offset>0|[1-9][0-9]*)$")


def _in_span(source: str, file: str, low: int, high: int) -> Select[tuple[int, str]]:
    """The rejects of ``source`` in ``file`` whose offset may lie in [low, high]: digit strings
    without leading zeros order as numbers by (length, text), which every database compares
    without a cast (a cast of a locator that is not a number fails on PostgreSQL). The caller
    checks each row's locator exactly."""
    prefix = f"{file}@"
    offset = func.substr(rejects.c.locator, len(prefix) + 1)
    size = func.length(offset)
    lo, hi = str(low), str(high)
    return select(rejects.c.id, rejects.c.locator).where(
        rejects.c.source == source,
        rejects.c.locator.startswith(prefix, autoescape=True),
        (size > len(lo)) | ((size == len(lo)) & (offset >= lo)),
        (size < len(hi)) | ((size == len(hi)) & (offset <= hi)),
    )


def reject_columns(conn: Connection, source: str, sample: int = 1000) -> list[str] | None:
    """The columns ``source``'s replayable rejects have (any of its oldest ``sample``), the
    most common first; None when none is replayable. Records of one JSONL file need not share
    their keys: one reject's alone would refuse a map that fits the others."""
    query = (
        select(rejects.c.fields)
        .where(rejects.c.source == source, rejects.c.fields.is_not(None))
        .order_by(rejects.c.id)
        .limit(sample)
    )
    counts: Counter[str] = Counter()
    for fields in conn.execute(query).scalars():
        counts.update(fields.keys())
    return [name for name, _ in counts.most_common()] if counts else None
