"""Repository functions: what the flows read and write.

Every function takes a Connection that is already inside a transaction and never commits: the
caller owns the transaction, so that a whole micro-batch commits or nothing does. Every write
is an upsert, so replaying a batch changes nothing but its audit row in ``batches``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from db.aggregates import add_to_aggregates, refresh_aggregates
from db.buckets import floor_to_bucket
from db.duplicates import first_posts, link_repeats
from db.registry import (
    ModelVersionRow,
    UnknownModelVersionError,
    activate_model_version,
    active_model_version,
    get_model_version,
    list_model_versions,
    register_model_version,
)
from db.rejects import clear_superseded
from db.sql import chunked, dialect_insert, insert_fresh, insert_new, plan_each_statement
from db.tables import batches, post_brands, posts, predictions, rejects, source_cursors
from pipeline.records import Batch, ContentKey, Post, Prediction, Reject, ScoredPost, content_key

__all__ = [
    "RAW_LIMIT",
    "BatchCounts",
    "ModelVersionRow",
    "UnknownModelVersionError",
    "activate_model_version",
    "active_model_version",
    "add_rescored",
    "commit_batch",
    "get_cursor",
    "get_model_version",
    "insert_predictions",
    "list_model_versions",
    "refresh_aggregates",
    "register_model_version",
]

# Characters of a rejected record's raw input that are kept: enough to see what was wrong.
RAW_LIMIT = 2_000

PostKey = tuple[str, str]  # (source, external_id)
StoredPost = tuple[int, str | None]  # (id, content hash)


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """What ``commit_batch`` wrote."""

    batch_id: int
    n_posts: int  # posts in the batch
    n_new_posts: int  # of those, posts the database did not hold yet
    n_rejects: int  # rejects in the batch
    n_new_rejects: int
    n_new_predictions: int
    touched: int  # (brand, day) buckets the batch added to
    # Posts read again whose text differs from the post stored under their id: kept as first
    # stored, and their new mentions and prediction left out (they are of another text).
    n_differing: int = 0


def get_cursor(conn: Connection, source: str) -> str | None:
    """The source's committed position; None before its first batch."""
    query = select(source_cursors.c.position).where(source_cursors.c.source == source)
    return conn.execute(query).scalar_one_or_none()


def commit_batch(
    conn: Connection,
    batch: Batch,
    flow_run_id: str | None = None,
    advance_cursor: bool = True,
) -> BatchCounts:
    """Write a scored micro-batch, record it in ``batches`` and advance the source's cursor.

    ``advance_cursor`` False leaves the cursor where it is: a replay of stored rejects
    (db/rejects.py) writes posts that were read long ago.

    Posts, mentions, predictions and rejects are inserted with ON CONFLICT DO NOTHING, then what
    was new is added to the aggregates of its (brand, hour and day) buckets for the batch's
    model version (db.aggregates.add_to_aggregates): a replay adds nothing.
    """
    now = datetime.now(UTC)
    plan_each_statement(conn)
    unique: dict[PostKey, ScoredPost] = {}
    for item in batch.scored:  # a post listed twice in one batch is written once, first wins
        unique.setdefault((item.post.source, item.post.external_id), item)
    scored = list(unique.values())
    keys = {
        (s.post.source, s.post.external_id): s.content or content_key(s.post.text) for s in scored
    }
    linkable = {k: key.hash for k, key in keys.items() if key.linkable}
    # Posts repeating stored content are inserted linked to it (db.duplicates.first_posts).
    originals = first_posts(conn, set(linkable.values()))
    new = _insert_posts(conn, scored, keys, now, originals)
    new_ids = set(new.values())
    n_new_posts = len(new_ids)
    # Only the posts stored before need their ids looked up.
    old = [s.post for s in scored if (s.post.source, s.post.external_id) not in new]
    stored = _stored_posts(conn, old)
    ids = new | {k: post_id for k, (post_id, _) in stored.items()}
    # A post read again with another text (a source reset and read with a corrected --map):
    # what this batch found is about that text, not the stored one, so none of it is added.
    differing = {k for k, (_, stored_hash) in stored.items() if _other_text(stored_hash, keys[k])}
    if differing:
        scored = [s for s in scored if (s.post.source, s.post.external_id) not in differing]
    # What is left: repeats, within this batch, of content new to the database.
    link_repeats(
        conn,
        [
            (ids[k], key.hash, key.linkable)
            for k, key in keys.items()
            if ids[k] in new_ids and key.hash not in originals
        ],
    )
    new_mentions = _insert_mentions(conn, scored, ids, new_ids)
    new_predictions = _insert_predictions(conn, scored, ids, new_ids, now)
    n_new_rejects = _insert_rejects(conn, batch.rejects, now)
    clear_superseded(conn, batch.source, batch.post_locators, [r.locator for r in batch.rejects])
    versions = sorted({s.prediction.model_version for s in scored if s.prediction is not None})
    batch_id = _insert_batch_row(conn, batch, versions, n_new_posts, flow_run_id, now)
    if advance_cursor:
        _advance_cursor(conn, batch.source, batch.cursor_to, now)

    by_id = {ids[(s.post.source, s.post.external_id)]: s for s in scored}
    for version in versions:
        scored_now = {
            post_id
            for post_id in new_predictions
            if (pred := by_id[post_id].prediction) is not None and pred.model_version == version
        }
        add_to_aggregates(conn, version, scored_now, new_mentions)
    touched = {
        (brand, floor_to_bucket(by_id[post_id].post.created_at, "day"))
        for post_id, brand in new_mentions
    } | {
        (brand, floor_to_bucket(by_id[post_id].post.created_at, "day"))
        for post_id in new_predictions
        for brand in by_id[post_id].brands
        if brand
    }
    return BatchCounts(
        batch_id=batch_id,
        n_posts=len(batch.scored),
        n_new_posts=n_new_posts,
        n_rejects=len(batch.rejects),
        n_new_rejects=n_new_rejects,
        n_new_predictions=len(new_predictions),
        touched=len(touched),
        n_differing=len(differing),
    )


def _insert_posts(
    conn: Connection,
    scored: list[ScoredPost],
    keys: dict[PostKey, ContentKey],
    now: datetime,
    originals: dict[str, int],
) -> dict[PostKey, int]:
    """Insert the posts the database lacks, a linkable one whose content hash is in
    ``originals`` as a duplicate of that post; returns the ids of those that were new."""
    if not scored:
        return {}
    rows = [
        {
            "source": s.post.source,
            "external_id": s.post.external_id,
            "text": s.post.text,
            "created_at": s.post.created_at,
            "ingested_at": now,
            "author": s.post.author,
            "url": s.post.url,
            "lang": s.lang,
            "content_hash": (content := keys[(s.post.source, s.post.external_id)]).hash,
            "duplicate_of": originals.get(content.hash) if content.linkable else None,
        }
        for s in scored
    ]
    # RETURNING gives only the rows that were inserted: exact, even under concurrency.
    key = [posts.c.source, posts.c.external_id]
    inserted = insert_new(conn, posts, rows, key, [posts.c.id, *key])
    return {(source, external_id): post_id for post_id, source, external_id in inserted}


def _stored_posts(
    conn: Connection, batch_posts: list[Post]
) -> dict[PostKey, tuple[int, str | None]]:
    """(id, content hash) of the batch's posts stored before, looked up in chunks of ids."""
    by_source: dict[str, list[str]] = {}
    for post in batch_posts:
        by_source.setdefault(post.source, []).append(post.external_id)
    found: dict[PostKey, StoredPost] = {}
    for source, external_ids in by_source.items():
        for chunk in chunked(external_ids):
            query = select(posts.c.id, posts.c.external_id, posts.c.content_hash).where(
                posts.c.source == source, posts.c.external_id.in_(chunk)
            )
            found.update(
                {
                    (source, row.external_id): (row.id, row.content_hash)
                    for row in conn.execute(query)
                }
            )
    return found


def _other_text(stored_hash: str | None, key: ContentKey) -> bool:
    """Whether a stored post's content hash says it holds another text than ``key``'s (a
    post stored without a hash, by an early version, is taken to be the same)."""
    return stored_hash is not None and stored_hash != key.hash


def _insert_mentions(
    conn: Connection, scored: list[ScoredPost], ids: dict[PostKey, int], new_ids: set[int]
) -> set[tuple[int, str]]:
    """Insert (post, brand) mentions; returns those that were new. Those of posts in
    ``new_ids`` (inserted by this transaction) cannot be stored yet: no conflict check."""
    pairs = [
        (ids[(s.post.source, s.post.external_id)], brand)
        for s in scored
        for brand in dict.fromkeys(s.brands)
        if brand
    ]
    fresh = [(p, b) for p, b in pairs if p in new_ids]
    insert_fresh(conn, post_brands, [{"post_id": p, "brand": b} for p, b in fresh])
    new = set(fresh)
    others = [{"post_id": p, "brand": b} for p, b in pairs if p not in new_ids]
    if others:  # a replay's, or a batch's posts stored before
        key = [post_brands.c.post_id, post_brands.c.brand]
        new.update((p, b) for p, b in insert_new(conn, post_brands, others, key, key))
    return new


def _insert_predictions(
    conn: Connection,
    scored: list[ScoredPost],
    ids: dict[PostKey, int],
    new_ids: set[int],
    now: datetime,
) -> set[int]:
    """Insert predictions (a post stored unscored has none); returns the ids that gained one."""
    rows = [
        (ids[(s.post.source, s.post.external_id)], s.prediction)
        for s in scored
        if s.prediction is not None
    ]
    return insert_predictions(conn, rows, now, new_ids)


def insert_predictions(
    conn: Connection,
    rows: Sequence[tuple[int, Prediction]],
    now: datetime,
    new_ids: Set[int] = frozenset(),
) -> set[int]:
    """Insert (post id, prediction) pairs not stored yet; returns the post ids that gained one.

    Posts in ``new_ids`` were inserted by this transaction, so they have no prediction yet:
    theirs go in without a conflict check (`db.sql.insert_fresh`)."""
    if not rows:
        return set()
    values = [
        {
            "post_id": post_id,
            "model_version": pred.model_version,
            "label": pred.label,
            # float(): the model may hand over numpy scalars, which drivers do not all adapt.
            "p_negative": float(pred.p_negative),
            "p_neutral": float(pred.p_neutral),
            "p_positive": float(pred.p_positive),
            "score": float(pred.score),
            "scored_at": now,
        }
        for post_id, pred in rows
    ]
    gained = {post_id for post_id, _ in rows if post_id in new_ids}
    insert_fresh(conn, predictions, [value for value in values if value["post_id"] in gained])
    others = [value for value in values if value["post_id"] not in gained]
    if others:  # a backfill's, a replay's, or a batch's posts stored before
        key = [predictions.c.post_id, predictions.c.model_version]
        gained.update(row[0] for row in insert_new(conn, predictions, others, key, key[:1]))
    return gained


def add_rescored(conn: Connection, model_version: str, post_ids: set[int]) -> int:
    """Add posts that have just gained a prediction of ``model_version`` (a backfill's chunk)
    to that version's aggregates, as a batch's commit does (db.aggregates.add_to_aggregates).

    Rebuilding the days a chunk touches instead cost more with every chunk, as the days filled
    with the version's predictions: a backfill of 326,502 posts went from ~0.9 s to ~2.0 s a
    chunk of 2,000.
    """
    return add_to_aggregates(conn, model_version, post_ids, ())


def _insert_rejects(conn: Connection, batch_rejects: Iterable[Reject], now: datetime) -> int:
    """Insert rejects not seen before (by source and locator); returns how many were new."""
    rows = [
        {
            "source": r.source,
            "locator": _storable(r.locator),
            "external_id": None if r.external_id is None else _storable(r.external_id),
            "reason": _storable(r.reason),
            "raw": _storable(r.raw[:RAW_LIMIT]),
            "created_at": now,
            "fields": r.fields,
        }
        for r in batch_rejects
    ]
    if not rows:
        return 0
    stmt = (
        dialect_insert(conn, rejects)
        .on_conflict_do_nothing(index_elements=[rejects.c.source, rejects.c.locator])
        .returning(rejects.c.id)
    )
    return len(conn.execute(stmt, rows).all())


def _storable(value: str) -> str:
    """``value`` with what no database stores replaced: NUL (PostgreSQL text cannot hold it)
    and lone surrogates (not UTF-8). Garbage input is exactly where they turn up, and a reject
    must always be storable."""
    value = value.replace("\x00", "\ufffd")
    return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")


def _insert_batch_row(
    conn: Connection,
    batch: Batch,
    versions: list[str],
    n_new_posts: int,
    flow_run_id: str | None,
    now: datetime,
) -> int:
    # The flow measures its stages; their sum dates the batch's start well enough.
    started_at = now - timedelta(seconds=sum(batch.timings.values()))
    signals = batch.signals
    row: dict[str, Any] = {
        "source": batch.source,
        "cursor_from": batch.cursor_from,
        "cursor_to": batch.cursor_to,
        "n_read": len(batch.scored) + len(batch.rejects),
        "n_posts": len(batch.scored),
        "n_new_posts": n_new_posts,
        "n_rejects": len(batch.rejects),
        "model_version": ",".join(versions) or None,
        "started_at": started_at,
        "finished_at": now,
        "timings": batch.timings,
        "flow_run_id": flow_run_id,
        "n_scored": signals.n_scored if signals else None,
        "n_model_tokens": signals.n_tokens if signals else None,
        "unknown_token_share": signals.unknown_token_share if signals else None,
        "mean_top_probability": signals.mean_top_probability if signals else None,
    }
    return int(conn.execute(batches.insert().returning(batches.c.id), row).scalar_one())


def _advance_cursor(conn: Connection, source: str, position: str | None, now: datetime) -> None:
    insert = dialect_insert(conn, source_cursors)
    stmt = insert.values(source=source, position=position, updated_at=now).on_conflict_do_update(
        index_elements=[source_cursors.c.source],
        set_={"position": insert.excluded.position, "updated_at": insert.excluded.updated_at},
        # A replay leaves the row as it was, updated_at included.
        where=source_cursors.c.position.is_distinct_from(insert.excluded.position),
    )
    conn.execute(stmt)
