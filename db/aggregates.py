"""Per-brand sentiment aggregates: recomputed from the stored rows, and read back as a report.

``brand_sentiment`` is derived data. A refresh deletes the buckets it is asked for and rebuilds
them from posts, mentions and predictions in one INSERT ... SELECT, so late posts and replays
simply give their buckets' true figures.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Float, and_, case, cast, delete, func, insert, literal, select

from db.buckets import BUCKET_LENGTH, Bucket, bucket_start, check_bucket, floor_to_bucket
from db.sql import chunked
from db.tables import brand_sentiment, post_brands, posts, predictions
from db.types import UTCDateTime

# The first half of the two-int advisory lock keys used for brands (db.migrate uses one bigint).
_LOCK_NAMESPACE = 0x5E47


def _lock_brands(conn: Connection, brands: Sequence[str]) -> None:
    """On PostgreSQL, hold a lock per brand until the transaction ends.

    Two workers refreshing the same bucket would otherwise interleave their DELETE and
    INSERT ... SELECT and collide on the primary key, or miss each other's posts. With the lock
    the second waits for the first to commit, then recomputes from both. Keys are taken in
    sorted order, so two workers never wait for each other. SQLite needs nothing: BEGIN
    IMMEDIATE (db.engine) already lets one writer in at a time.
    """
    if conn.dialect.name != "postgresql":
        return
    keys = sorted({_lock_key(brand) for brand in brands})
    for key in keys:
        conn.execute(select(func.pg_advisory_xact_lock(_LOCK_NAMESPACE, key)))


def _lock_key(brand: str) -> int:
    # A stable 32-bit key (Python's hash() differs between processes).
    return int.from_bytes(hashlib.sha256(brand.encode("utf-8")).digest()[:4], "big", signed=True)


def _label_count(label: str) -> Any:
    return func.sum(case((predictions.c.label == label, 1), else_=0))


def refresh_aggregates(
    conn: Connection,
    model_version: str,
    brands: Iterable[str],
    days: Iterable[date | datetime],
    bucket: Bucket = "day",
) -> int:
    """Recompute ``brand_sentiment`` for every (brand, bucket) of ``brands`` x ``days``.

    ``days`` are dates or datetimes (naive ones are UTC); each names the bucket it falls in.
    Returns the number of ``brand_sentiment`` rows written (one per brand, bucket and source
    that has posts).
    """
    check_bucket(bucket)
    starts = sorted({floor_to_bucket(day, bucket) for day in days})
    brand_list = sorted(set(brands))
    if not starts or not brand_list:
        return 0
    _lock_brands(conn, brand_list)
    now = datetime.now(UTC)
    written = 0
    for start_chunk in chunked(starts):
        for brand_chunk in chunked(brand_list):
            written += _refresh_chunk(conn, model_version, brand_chunk, start_chunk, bucket, now)
    return written


def _refresh_chunk(
    conn: Connection,
    model_version: str,
    brands: Sequence[str],
    starts: Sequence[datetime],
    bucket: Bucket,
    now: datetime,
) -> int:
    conn.execute(
        delete(brand_sentiment).where(
            brand_sentiment.c.model_version == model_version,
            brand_sentiment.c.bucket == bucket,
            brand_sentiment.c.brand.in_(brands),
            brand_sentiment.c.bucket_start.in_(starts),
        )
    )
    start = bucket_start(posts.c.created_at, bucket)
    n_negative = _label_count("negative")
    n_positive = _label_count("positive")
    volume = func.count()
    rows = (
        select(
            post_brands.c.brand,
            literal(bucket),
            start,
            posts.c.source,
            literal(model_version),
            volume,
            n_negative,
            _label_count("neutral"),
            n_positive,
            func.avg(predictions.c.score),
            cast(n_positive - n_negative, Float) / volume,
            literal(now, UTCDateTime()),
        )
        .select_from(
            posts.join(post_brands, post_brands.c.post_id == posts.c.id).join(
                predictions,
                and_(
                    predictions.c.post_id == posts.c.id,
                    predictions.c.model_version == model_version,
                ),
            )
        )
        .where(
            post_brands.c.brand.in_(brands),
            # The range lets the created_at index narrow the scan; the IN picks the buckets.
            posts.c.created_at >= starts[0],
            posts.c.created_at < starts[-1] + BUCKET_LENGTH[bucket],
            start.in_(starts),
        )
        .group_by(post_brands.c.brand, start, posts.c.source)
    )
    columns = [
        "brand",
        "bucket",
        "bucket_start",
        "source",
        "model_version",
        "volume",
        "n_negative",
        "n_neutral",
        "n_positive",
        "mean_score",
        "net_sentiment",
        "updated_at",
    ]
    # psycopg reports an INSERT's rowcount only when SQLAlchemy is asked to keep it.
    result = conn.execute(
        insert(brand_sentiment).from_select(columns, rows),
        execution_options={"preserve_rowcount": True},
    )
    return max(result.rowcount, 0)


def brand_report(
    conn: Connection,
    model_version: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per-brand figures over the day buckets that start in [since, until), busiest first.

    Each dict has brand, volume, positive, neutral, negative, mean_score (volume-weighted) and
    net_sentiment ((positive - negative) / volume).
    """
    bs = brand_sentiment.c
    volume = func.sum(bs.volume)
    positive = func.sum(bs.n_positive)
    negative = func.sum(bs.n_negative)
    query = (
        select(
            bs.brand,
            volume.label("volume"),
            positive.label("positive"),
            func.sum(bs.n_neutral).label("neutral"),
            negative.label("negative"),
            (func.sum(bs.mean_score * bs.volume) / volume).label("mean_score"),
            (cast(positive - negative, Float) / volume).label("net_sentiment"),
        )
        .where(bs.model_version == model_version, bs.bucket == "day")
        .group_by(bs.brand)
        .order_by(volume.desc(), bs.brand)
    )
    if since is not None:
        query = query.where(bs.bucket_start >= since)
    if until is not None:
        query = query.where(bs.bucket_start < until)
    return [
        {
            "brand": row.brand,
            "volume": int(row.volume),
            "positive": int(row.positive),
            "neutral": int(row.neutral),
            "negative": int(row.negative),
            "mean_score": float(row.mean_score),
            "net_sentiment": float(row.net_sentiment),
        }
        for row in conn.execute(query)
    ]
