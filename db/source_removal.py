"""Deleting everything a source stored (`sentimon sources delete`): the way back from a run that
stored its records wrongly (a wrong `--map`, the wrong file), which a reset cannot undo since a
re-read keeps the posts it finds stored.

One transaction removes the source's posts (with their predictions and brand mentions, by the
foreign keys' ON DELETE CASCADE), its rows of ``brand_sentiment`` (which are per source), its
rejects, its batch records and its cursors, per-file ones included. Other sources' posts that
were linked to one of its posts as repeats (``posts.duplicate_of``) are linked again among
themselves, the first of each text becoming the original, and the aggregates of their days are
rebuilt, since their counts of unique posts change. Alerts stay: they record what was raised.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)

from db.aggregates import refresh_aggregates
from db.partitions import partition_key
from db.sources import forget_cursors
from db.sql import chunked
from db.tables import batches, brand_sentiment, post_brands, posts, predictions, rejects


@dataclass(frozen=True)
class SourceContents:
    """What a source has stored: what deleting it removes."""

    source: str
    posts: int
    rejects: int
    batches: int

    @property
    def empty(self) -> bool:
        return not (self.posts or self.rejects or self.batches)


@dataclass(frozen=True)
class SourceDeletion:
    """What `delete_source` did."""

    contents: SourceContents
    cursors: int  # cursors deleted (the source's own and its per-file ones)
    relinked: int  # other sources' posts whose original was one of the source's posts
    refreshed_days: int  # (model version, day) pairs whose aggregates were rebuilt


def source_contents(conn: Connection, source: str) -> SourceContents:
    """How many posts, rejects and batch records ``source`` has stored."""

    def count(where: ColumnElement[bool]) -> int:
        return int(conn.execute(select(func.count()).where(where)).scalar_one())

    return SourceContents(
        source,
        posts=count(posts.c.source == source),
        rejects=count(rejects.c.source == source),
        batches=count(_batches_of(source)),
    )


def delete_source(conn: Connection, source: str) -> SourceDeletion:
    """Delete everything ``source`` stored, in the caller's transaction (module docstring)."""
    contents = source_contents(conn, source)
    theirs = select(posts.c.id).where(posts.c.source == source).scalar_subquery()
    # Posts of other sources that repeat one of this source's posts.
    orphans = conn.execute(
        select(posts.c.id, posts.c.content_hash).where(
            posts.c.source != source, posts.c.duplicate_of.in_(theirs)
        )
    ).all()
    firsts = _relink(conn, [(post_id, content_hash) for post_id, content_hash in orphans])
    conn.execute(delete(brand_sentiment).where(brand_sentiment.c.source == source))
    conn.execute(delete(posts).where(posts.c.source == source))
    conn.execute(delete(rejects).where(rejects.c.source == source))
    conn.execute(delete(batches).where(_batches_of(source)))
    cursors = forget_cursors(conn, source)
    refreshed = _refresh_days_of(conn, [post_id for post_id, _ in orphans]) if firsts else 0
    return SourceDeletion(contents, cursors, len(orphans), refreshed)


def _batches_of(source: str) -> ColumnElement[bool]:
    """The source's batch records: its own, and those of its files when read per file."""
    return or_(
        batches.c.source == source,
        batches.c.source.startswith(partition_key(source, ""), autoescape=True),
    )


def _relink(conn: Connection, orphans: list[tuple[int, str | None]]) -> dict[str, int]:
    """Link ``orphans`` (id, content hash) again: per hash, the lowest id becomes the original
    (unlinked), the others point at it. Returns the new original of each hash."""
    by_hash: dict[str, list[int]] = defaultdict(list)
    for post_id, content_hash in orphans:
        # A linked post always has a hash (db.duplicates links by it); "" only for safety.
        by_hash[content_hash or ""].append(post_id)
    firsts = {content_hash: min(ids) for content_hash, ids in by_hash.items()}
    links = [
        {"post_id": post_id, "original": firsts[content_hash]}
        for content_hash, ids in by_hash.items()
        for post_id in ids
        if post_id != firsts[content_hash]
    ]
    link = (
        update(posts)
        .where(posts.c.id == bindparam("post_id", type_=Integer()))
        .values(duplicate_of=bindparam("original", type_=Integer()))
    )
    if links:
        conn.execute(link, links)
    unlinked = [{"post_id": post_id, "original": None} for post_id in firsts.values()]
    if unlinked:
        conn.execute(link, unlinked)
    return firsts


def _refresh_days_of(conn: Connection, post_ids: list[int]) -> int:
    """Rebuild the aggregates of the brands and days of ``post_ids``, for every model version
    that scored them; returns the (version, day) pairs rebuilt."""
    days: dict[str, set[datetime]] = defaultdict(set)
    brands: dict[str, set[str]] = defaultdict(set)
    for chunk in chunked(post_ids):
        rows = conn.execute(
            select(predictions.c.model_version, post_brands.c.brand, posts.c.created_at)
            .select_from(
                posts.join(predictions, predictions.c.post_id == posts.c.id).join(
                    post_brands, post_brands.c.post_id == posts.c.id
                )
            )
            .where(posts.c.id.in_(chunk))
        )
        for version, brand, created_at in rows:
            days[version].add(created_at)
            brands[version].add(brand)
    refreshed = 0
    for version in sorted(days):
        refresh_aggregates(conn, version, brands[version], days[version])
        refreshed += len({day.date() for day in days[version]})
    return refreshed
