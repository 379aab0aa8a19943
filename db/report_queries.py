"""What reports and alerts read: bucket series from ``brand_sentiment``, top posts, alerts.

Overall figures are the per-source rows summed (source ``"*"`` means all sources). A window
[since, until) is widened to whole buckets: since goes down to its bucket's start and until up
to its bucket's end, so that a bucket is either in a report or out of it, never cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.sql.elements import ColumnElement

from db.buckets import BUCKET_LENGTH, Bucket, check_bucket, floor_to_bucket
from db.partitions import SEPARATOR
from db.tables import (
    alerts,
    batches,
    brand_sentiment,
    post_brands,
    posts,
    predictions,
    scored_mentions,
    source_cursors,
)
from pipeline.analytics.aggregate_math import Counts
from pipeline.records import DomainSignals
from pipeline.report.types import AlertRecord, BucketCounts, ReportData, TopPost

ALL_SOURCES = "*"
# How far back a report looks for a source's out-of-domain signals: its latest batches.
RECENT_BATCHES = 20


def brands_seen(conn: Connection) -> list[str]:
    """Every brand that has aggregates, sorted: what a report can show without a brands file."""
    query = select(brand_sentiment.c.brand).distinct().order_by(brand_sentiment.c.brand)
    return [row[0] for row in conn.execute(query)]


def sources_seen(conn: Connection) -> list[str]:
    """Every source read so far (a cursor) or with figures, sorted: the names ``--source`` can
    filter on. A source read per file counts once (``SOURCE/FILE`` cursors are SOURCE's)."""
    cursors = select(source_cursors.c.source)
    figures = select(brand_sentiment.c.source).distinct()
    names = {row[0].split(SEPARATOR, 1)[0] for row in conn.execute(cursors.union(figures))}
    return sorted(names)


def unlabelled_by(conn: Connection, model_version: str) -> bool:
    """Whether posts are stored but none has a prediction of ``model_version``: a version
    activated after they were stored, before `sentimon backfill` scored them with it."""
    if conn.execute(select(posts.c.id).limit(1)).first() is None:
        return False
    labelled = select(predictions.c.post_id).where(predictions.c.model_version == model_version)
    return conn.execute(labelled.limit(1)).first() is None


def posts_created(
    conn: Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    source: str = ALL_SOURCES,
) -> tuple[int, datetime | None, datetime | None]:
    """How many posts were created in [since, until) (of ``source``), the first and the last
    one's created_at: what a report can say about a period that holds none."""
    p = posts.c
    query = select(func.count(), func.min(p.created_at), func.max(p.created_at)).where(
        *_created_in(p.created_at, since, until)
    )
    if source != ALL_SOURCES:
        query = query.where(p.source == source)
    n, first, last = conn.execute(query).one()
    return int(n), first, last


def report_window(
    since: datetime | None, until: datetime | None, bucket: Bucket
) -> tuple[datetime | None, datetime | None]:
    """[since, until) widened to whole ``bucket``s; either end may stay open (None)."""
    check_bucket(bucket)
    start = floor_to_bucket(since, bucket) if since is not None else None
    end = None
    if until is not None:
        end = floor_to_bucket(until, bucket)
        if end < until:
            end += BUCKET_LENGTH[bucket]
    return start, end


def bucket_series(
    conn: Connection,
    model_version: str,
    bucket: Bucket,
    since: datetime | None = None,
    until: datetime | None = None,
    brands: Sequence[str] | None = None,
    source: str = ALL_SOURCES,
) -> list[BucketCounts]:
    """Counts per brand and bucket in the window, by brand then time."""
    start, end = report_window(since, until, bucket)
    bs = brand_sentiment.c
    query = (
        select(
            bs.brand,
            bs.bucket_start,
            func.sum(bs.volume),
            func.sum(bs.n_unique),
            func.sum(bs.n_amplification),
            func.sum(bs.n_negative),
            func.sum(bs.n_neutral),
            func.sum(bs.n_positive),
            func.sum(bs.mean_score * bs.volume),
        )
        .where(bs.model_version == model_version, bs.bucket == bucket)
        .group_by(bs.brand, bs.bucket_start)
        .order_by(bs.brand, bs.bucket_start)
    )
    if source != ALL_SOURCES:
        query = query.where(bs.source == source)
    if brands:
        query = query.where(bs.brand.in_(list(brands)))
    if start is not None:
        query = query.where(bs.bucket_start >= start)
    if end is not None:
        query = query.where(bs.bucket_start < end)
    return [
        BucketCounts(
            brand=row[0],
            bucket_start=row[1],
            counts=Counts(
                volume=int(row[2]),
                unique=int(row[3]),
                amplification=int(row[4]),
                negative=int(row[5]),
                neutral=int(row[6]),
                positive=int(row[7]),
                score_sum=float(row[8]),
            ),
        )
        for row in conn.execute(query)
    ]


def top_posts(
    conn: Connection,
    model_version: str,
    brand: str,
    label: str,
    since: datetime | None = None,
    until: datetime | None = None,
    source: str = ALL_SOURCES,
    limit: int = 3,
) -> list[TopPost]:
    """The brand's ``label`` posts in [since, until) that travelled furthest.

    Originals only (a retweet repeats its original's text), ranked by how many copies the window
    holds, then by how strongly they lean (lowest score for negative, highest for positive).
    """
    window = _created_in(posts.c.created_at, since, until)
    dup = posts.alias("dup")
    copies = (
        select(dup.c.duplicate_of.label("post_id"), func.count().label("copies"))
        .where(dup.c.duplicate_of.is_not(None), *_created_in(dup.c.created_at, since, until))
        .group_by(dup.c.duplicate_of)
        .subquery()
    )
    n_copies = func.coalesce(copies.c.copies, 0)
    lean = predictions.c.score.asc() if label == "negative" else predictions.c.score.desc()
    query = (
        select(
            posts.c.id,
            posts.c.source,
            posts.c.external_id,
            posts.c.created_at,
            posts.c.text,
            posts.c.url,
            predictions.c.label,
            predictions.c.score,
            n_copies,
        )
        .select_from(
            scored_mentions(model_version).outerjoin(copies, copies.c.post_id == posts.c.id)
        )
        .where(
            post_brands.c.brand == brand,
            predictions.c.label == label,
            posts.c.duplicate_of.is_(None),
            *window,
        )
        .order_by(n_copies.desc(), lean, posts.c.id)
        .limit(limit)
    )
    if source != ALL_SOURCES:
        query = query.where(posts.c.source == source)
    return [
        TopPost(
            post_id=row[0],
            source=row[1],
            external_id=row[2],
            created_at=row[3],
            text=row[4] or "",
            url=row[5],
            label=row[6],
            score=float(row[7]),
            copies=int(row[8]),
        )
        for row in conn.execute(query)
    ]


def _created_in(
    column: ColumnElement[datetime], since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


def alert_records(
    conn: Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    brands: Sequence[str] | None = None,
) -> list[AlertRecord]:
    """Stored alerts whose bucket starts in [since, until), newest first."""
    a = alerts.c
    query = select(alerts).order_by(a.bucket_start.desc(), a.brand, a.kind)
    if brands:
        query = query.where(a.brand.in_(list(brands)))
    query = query.where(*_created_in(a.bucket_start, since, until))
    return [
        AlertRecord(
            id=row.id,
            brand=row.brand,
            kind=row.kind,
            bucket=row.bucket,
            bucket_start=row.bucket_start,
            observed=row.observed,
            baseline=row.baseline,
            threshold=row.threshold,
            volume=row.volume,
            model_version=row.model_version,
            summary=row.summary,
            details=row.details or {},
            created_at=row.created_at,
        )
        for row in conn.execute(query)
    ]


def latest_event_time(conn: Connection, model_version: str) -> datetime | None:
    """When the newest post scored by ``model_version`` was written; None before any."""
    query = select(func.max(posts.c.created_at)).select_from(
        posts.join(
            predictions,
            and_(predictions.c.post_id == posts.c.id, predictions.c.model_version == model_version),
        )
    )
    # max() keeps the column's type, so SQLite's text comes back as an aware datetime too.
    return conn.execute(query).scalar_one_or_none()


def source_signals(
    conn: Connection,
    model_version: str,
    source: str = ALL_SOURCES,
    last_batches: int = RECENT_BATCHES,
) -> dict[str, DomainSignals]:
    """Source -> the out-of-domain signals of its latest ``last_batches`` batches scored by
    ``model_version`` (batches from before revision 0004 carry none and are skipped).

    What the source sends now, not over the report's window: the window is about when posts
    were written, and a source can change what it sends. The batches of a source read per
    file (``SOURCE/FILE`` in ``batches.source``) count for SOURCE.
    """
    b = batches.c
    ranked = select(
        b.source,
        b.n_scored,
        b.n_model_tokens,
        b.unknown_token_share,
        b.mean_top_probability,
        func.row_number().over(partition_by=b.source, order_by=b.id.desc()).label("recency"),
    ).where(b.model_version == model_version, b.n_scored > 0)
    if source != ALL_SOURCES:
        ranked = ranked.where(
            (b.source == source) | b.source.startswith(source + SEPARATOR, autoescape=True)
        )
    recent = ranked.subquery()
    query = select(recent).where(recent.c.recency <= last_batches)
    signals: dict[str, DomainSignals] = {}
    for row in conn.execute(query):
        name = row.source.split(SEPARATOR, 1)[0]
        measured = DomainSignals.from_figures(
            row.n_scored, row.n_model_tokens or 0, row.unknown_token_share, row.mean_top_probability
        )
        signals[name] = signals.get(name, DomainSignals()) + measured
    return signals


def load_report_data(
    conn: Connection,
    model_version: str,
    bucket: Bucket = "day",
    since: datetime | None = None,
    until: datetime | None = None,
    brands: Sequence[str] | None = None,
    source: str = ALL_SOURCES,
    top_n: int = 3,
) -> ReportData:
    """Everything a report shows for the window, read in one go.

    The series covers every brand (share of voice needs them all); top posts and alerts are
    read for ``brands`` only (all brands when None).
    """
    start, end = report_window(since, until, bucket)
    series = bucket_series(conn, model_version, bucket, start, end, None, source)
    names = sorted({row.brand for row in series} & set(brands or [r.brand for r in series]))
    return ReportData(
        model_version=model_version,
        bucket=bucket,
        source=source,
        since=start,
        until=end,
        series=series,
        top_positive={
            b: top_posts(conn, model_version, b, "positive", start, end, source, top_n)
            for b in names
        },
        top_negative={
            b: top_posts(conn, model_version, b, "negative", start, end, source, top_n)
            for b in names
        },
        alerts=alert_records(conn, start, end, names) if names else [],
        signals=source_signals(conn, model_version, source),
    )
