"""Per-brand sentiment aggregates: recomputed from the stored rows, and read back as a report.

``brand_sentiment`` is derived data. A refresh deletes the days it is asked for (their day bucket
and their 24 hour buckets) and rebuilds them from posts, mentions and predictions with one
INSERT ... SELECT per bucket kind, so late posts and replays simply give their buckets' true
figures. Rows are per source; overall figures are their sum (see db/report_queries.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Connection,
    Float,
    FromClause,
    Integer,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql

from db.buckets import (
    BUCKET_LENGTH,
    BUCKETS,
    Bucket,
    bucket_start,
    check_bucket,
    floor_to_bucket,
)
from db.sql import chunked, dialect_insert
from db.tables import brand_sentiment, post_brands, posts, predictions, scored_mentions
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


def _label_count(column: ColumnElement[str], label: str) -> Any:
    return func.sum(case((column == label, 1), else_=0))


def refresh_aggregates(
    conn: Connection,
    model_version: str,
    brands: Iterable[str],
    days: Iterable[date | datetime],
    buckets: Bucket | Iterable[Bucket] = BUCKETS,
) -> int:
    """Recompute ``brand_sentiment`` for ``brands`` on ``days``, in day and hour buckets.

    ``days`` are dates or datetimes (naive ones are UTC); each names the UTC day it falls in,
    whose day bucket and 24 hour buckets are rebuilt (``buckets`` narrows that to one kind).
    Returns the number of ``brand_sentiment`` rows written (one per brand, bucket and source
    that has scored posts).
    """
    kinds = [check_bucket(b) for b in ((buckets,) if isinstance(buckets, str) else buckets)]
    starts = sorted({floor_to_bucket(day, "day") for day in days})
    brand_list = sorted(set(brands))
    if not starts or not brand_list or not kinds:
        return 0
    _lock_brands(conn, brand_list)
    now = datetime.now(UTC)
    written = 0
    for start_chunk in chunked(starts):
        for brand_chunk in chunked(brand_list):
            for kind in dict.fromkeys(kinds):
                written += _refresh_chunk(conn, model_version, brand_chunk, start_chunk, kind, now)
    return written


def _refresh_chunk(
    conn: Connection,
    model_version: str,
    brands: Sequence[str],
    days: Sequence[datetime],
    bucket: Bucket,
    now: datetime,
) -> int:
    """Delete and rebuild the ``bucket`` rows of ``brands`` that fall in the UTC ``days``."""
    bs = brand_sentiment.c
    first, end = days[0], days[-1] + BUCKET_LENGTH["day"]
    conn.execute(
        delete(brand_sentiment).where(
            bs.model_version == model_version,
            bs.bucket == bucket,
            bs.brand.in_(brands),
            bs.bucket_start >= first,
            bs.bucket_start < end,
            bucket_start(bs.bucket_start, "day").in_(days),
        )
    )
    rows = _grouped_rows(
        model_version,
        bucket,
        now,
        post_brands.c.brand.in_(brands),
        # The range lets the created_at index narrow the scan; the IN picks the days.
        posts.c.created_at >= first,
        posts.c.created_at < end,
        bucket_start(posts.c.created_at, "day").in_(days),
    )
    # psycopg reports an INSERT's rowcount only when SQLAlchemy is asked to keep it.
    result = conn.execute(
        insert(brand_sentiment).from_select(_COLUMNS, rows),
        execution_options={"preserve_rowcount": True},
    )
    return max(result.rowcount, 0)


_COLUMNS = [
    "brand",
    "bucket",
    "bucket_start",
    "source",
    "model_version",
    "volume",
    "n_unique",
    "n_amplification",
    "n_negative",
    "n_neutral",
    "n_positive",
    "mean_score",
    "net_sentiment",
    "nss",
    "updated_at",
]


@dataclass(frozen=True)
class _Mentions:
    """The columns a ``brand_sentiment`` row is computed from: one row per scored mention."""

    brand: ColumnElement[str]
    source: ColumnElement[str]
    created_at: ColumnElement[datetime]
    duplicate_of: ColumnElement[int | None]
    label: ColumnElement[str]
    score: ColumnElement[float]


# The stored tables themselves (FROM scored_mentions(version)), for the rebuild.
_STORED = _Mentions(
    post_brands.c.brand,
    posts.c.source,
    posts.c.created_at,
    posts.c.duplicate_of,
    predictions.c.label,
    predictions.c.score,
)


def _grouped_rows(
    model_version: str,
    bucket: Bucket,
    now: datetime,
    *where: ColumnElement[bool],
    mentions: _Mentions = _STORED,
    from_: FromClause | None = None,
) -> Select[Any]:
    """The ``brand_sentiment`` rows (``_COLUMNS``) of the scored mentions ``where`` selects
    (from the stored tables, or ``mentions`` of ``from_``), grouped by brand, ``bucket`` and
    source."""
    m = mentions
    start = bucket_start(m.created_at, bucket)
    n_negative = _label_count(m.label, "negative")
    n_positive = _label_count(m.label, "positive")
    n_unique = func.sum(case((m.duplicate_of.is_(None), 1), else_=0))
    volume = func.count()
    return (
        select(
            m.brand,
            literal(bucket),
            start,
            m.source,
            literal(model_version),
            volume,
            n_unique,
            volume - n_unique,
            n_negative,
            _label_count(m.label, "neutral"),
            n_positive,
            func.avg(m.score),
            cast(n_positive - n_negative, Float) / volume,
            cast(n_positive - n_negative, Float) / func.nullif(n_positive + n_negative, 0),
            literal(now, UTCDateTime()),
        )
        .select_from(scored_mentions(model_version) if from_ is None else from_)
        .where(*where)
        .group_by(m.brand, start, m.source)
    )


def add_to_aggregates(
    conn: Connection,
    model_version: str,
    new_predictions: Iterable[int],
    new_mentions: Iterable[tuple[int, str]],
    buckets: Iterable[Bucket] = BUCKETS,
) -> int:
    """Add the rows a batch just inserted to the ``brand_sentiment`` buckets they fall in.

    ``new_predictions``: ids of posts that gained a prediction of ``model_version``;
    ``new_mentions``: (post id, brand) mentions inserted. A (mention, prediction) pair counts
    once, when the later of the two is inserted, so every stored pair is counted exactly once
    over all batches, and the figures equal a `refresh_aggregates` rebuild (mean_score up to
    float rounding). Unlike the rebuild, the cost follows the batch, not the size of the days
    it touches: on a database of a million posts the rebuild was most of a batch's time.

    The batch's pairs drive the statement: its mentions are found by post id (and the new ones
    are passed in), and only then joined to their posts and predictions by primary key, so the
    big tables are never scanned. All bucket kinds are added by one INSERT ... SELECT ... ON
    CONFLICT DO UPDATE (a grouping per kind); on PostgreSQL the ids travel as arrays, so a
    batch is one statement (it was six that joined every stored prediction: ~0.4 s a batch).
    Returns the number of ``brand_sentiment`` rows inserted or updated.
    """
    kinds = list(dict.fromkeys(check_bucket(b) for b in buckets))
    scored = sorted(set(new_predictions))
    scored_set = set(scored)
    # A mention of a post scored in this batch is counted with its prediction already.
    mentions = sorted({m for m in new_mentions if m[0] not in scored_set})
    if not kinds or not (scored or mentions):
        return 0
    now = datetime.now(UTC)
    pair_sets: Sequence[tuple[Select[Any] | CompoundSelect, ColumnElement[bool]]]
    if conn.dialect.name == "postgresql":
        _lock_brands(conn, [*_brands_of(conn, scored), *(b for _, b in mentions)])
        # Said again of predictions: then no plan, even on stale statistics, reads all of them.
        ids = sorted(scored_set | {p for p, _ in mentions})
        pair_sets = [
            (_array_pairs(scored, mentions), predictions.c.post_id == any_(_array(ids, Integer)))
        ]
    else:  # SQLite: one writer at a time already (BEGIN IMMEDIATE); ids as bound IN lists
        pair_sets = [(pairs, true()) for pairs in _listed_pairs(scored, mentions)]
    written = 0
    for pairs, narrowed in pair_sets:
        written += _add_rows(conn, _pair_rows(model_version, kinds, now, pairs, narrowed))
    return written


# Ids per statement on SQLite: far below its bound-value limit.
_ADD_CHUNK = 2_000


def _brands_of(conn: Connection, post_ids: Sequence[int]) -> Sequence[str]:
    """PostgreSQL: the brands mentioned by these posts (one statement, ids as an array)."""
    if not post_ids:
        return []
    query = (
        select(post_brands.c.brand)
        .where(post_brands.c.post_id == any_(_array(post_ids, Integer)))
        .distinct()
    )
    return list(conn.execute(query).scalars())


def _array(values: Sequence[Any], item_type: type[Integer] | type[Text]) -> BindParameter[Any]:
    return bindparam(None, list(values), type_=postgresql.ARRAY(item_type()))


def _array_pairs(
    scored: Sequence[int], mentions: Sequence[tuple[int, str]]
) -> Select[Any] | CompoundSelect:
    """PostgreSQL: (post_id, brand) of the stored mentions of ``scored`` and of ``mentions``."""
    parts: list[Select[Any]] = []
    if scored:
        parts.append(
            select(post_brands.c.post_id, post_brands.c.brand).where(
                post_brands.c.post_id == any_(_array(scored, Integer))
            )
        )
    if mentions:
        listed = (
            func.unnest(
                _array([p for p, _ in mentions], Integer), _array([b for _, b in mentions], Text)
            )
            .table_valued("post_id", "brand")
            .render_derived()
        )
        parts.append(select(listed.c.post_id, listed.c.brand))
    return parts[0] if len(parts) == 1 else union_all(*parts)


def _listed_pairs(scored: Sequence[int], mentions: Sequence[tuple[int, str]]) -> list[Select[Any]]:
    """SQLite: the same pairs as ``_array_pairs``, in statements of bound IN lists."""
    pair = select(post_brands.c.post_id, post_brands.c.brand)
    return [
        pair.where(post_brands.c.post_id.in_(chunk)) for chunk in chunked(scored, _ADD_CHUNK)
    ] + [
        pair.where(tuple_(post_brands.c.post_id, post_brands.c.brand).in_(chunk))
        for chunk in chunked(mentions, _ADD_CHUNK // 2)
    ]


def _pair_rows(
    model_version: str,
    kinds: Sequence[Bucket],
    now: datetime,
    pairs: Select[Any] | CompoundSelect,
    narrowed: ColumnElement[bool],
) -> Select[Any] | CompoundSelect:
    """The ``brand_sentiment`` rows of ``pairs`` (post_id, brand), for every bucket kind.

    The pairs are joined to their posts and predictions once (a CTE, ``narrowed`` being a
    condition that holds for all of them), then grouped per kind.
    """
    chosen = pairs.subquery("pairs")
    joined = (
        select(
            chosen.c.brand,
            posts.c.source,
            posts.c.created_at,
            posts.c.duplicate_of,
            predictions.c.label,
            predictions.c.score,
        )
        .select_from(
            chosen.join(posts, posts.c.id == chosen.c.post_id).join(
                predictions,
                and_(
                    predictions.c.post_id == chosen.c.post_id,
                    predictions.c.model_version == model_version,
                ),
            )
        )
        .where(narrowed)
        .cte("batch_mentions")
    )
    c = joined.c
    mentions = _Mentions(c.brand, c.source, c.created_at, c.duplicate_of, c.label, c.score)
    # SQLite reads an ON CONFLICT right after a bare FROM as a join's ON: a WHERE rules it out.
    rows = [
        _grouped_rows(model_version, kind, now, true(), mentions=mentions, from_=joined)
        for kind in kinds
    ]
    return rows[0] if len(rows) == 1 else union_all(*rows)


def _add_rows(conn: Connection, rows: Select[Any] | CompoundSelect) -> int:
    """INSERT the grouped ``rows``; where a bucket row exists, add them to it."""
    stmt = dialect_insert(conn, brand_sentiment).from_select(_COLUMNS, rows)
    old, new = brand_sentiment.c, stmt.excluded
    volume = old.volume + new.volume
    positive, negative = old.n_positive + new.n_positive, old.n_negative + new.n_negative
    stmt = stmt.on_conflict_do_update(
        index_elements=[old.brand, old.bucket, old.bucket_start, old.source, old.model_version],
        set_={
            "volume": volume,
            "n_unique": old.n_unique + new.n_unique,
            "n_amplification": old.n_amplification + new.n_amplification,
            "n_negative": negative,
            "n_neutral": old.n_neutral + new.n_neutral,
            "n_positive": positive,
            # Sums are not stored: the mean is re-weighted by the two volumes.
            "mean_score": (old.mean_score * old.volume + new.mean_score * new.volume)
            / cast(volume, Float),
            "net_sentiment": cast(positive - negative, Float) / volume,
            "nss": cast(positive - negative, Float) / func.nullif(positive + negative, 0),
            "updated_at": new.updated_at,
        },
    )
    result = conn.execute(stmt, execution_options={"preserve_rowcount": True})
    return max(result.rowcount, 0)
