"""Alert evaluation: apply pipeline/analytics/alert_rules.py to the stored aggregates.

Idempotent: an alert is keyed by (brand, kind, bucket, bucket_start) and inserted with ON
CONFLICT DO NOTHING, so evaluating the same data again stores and returns nothing new. A
sentiment drop is keyed by the bucket it judges; a volume spike by the UTC day its 24-hour
window ends in, so a spike that lasts all day is one alert, not 24.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, select

from db.buckets import BUCKET_LENGTH, Bucket, check_bucket, floor_to_bucket
from db.report_queries import bucket_series, latest_event_time, top_posts
from db.sql import dialect_insert
from db.tables import alerts, post_brands, posts, predictions
from pipeline.analytics.aggregate_math import Counts, total
from pipeline.analytics.alert_rules import (
    SENTIMENT_DROP,
    SPIKE_BASELINE_DAYS,
    VOLUME_SPIKE,
    AlertRules,
    check_sentiment_drop,
    check_volume_spike,
    drop_summary,
    spike_summary,
)
from pipeline.analytics.terms import top_terms
from pipeline.report.types import AlertRecord, BucketCounts

# Negative posts read to find the terms behind an alert: enough for a stable ranking.
TERM_SAMPLE = 2_000
N_TERMS = 5


def evaluate_alerts(
    conn: Connection,
    model_version: str,
    brands: Sequence[str] | None = None,
    as_of: datetime | None = None,
    rules: AlertRules | None = None,
    brand_phrases: Mapping[str, Sequence[str]] | None = None,
) -> list[AlertRecord]:
    """Evaluate both rules for each brand at ``as_of``; store and return the new alerts.

    ``as_of`` defaults to the event time of the newest scored post, so a replay of old data
    is judged at its own time. The drop rule judges the ``rules.bucket`` bucket that ``as_of``
    falls in; the spike rule the 24 hourly buckets up to and including ``as_of``'s hour.
    ``brand_phrases`` (brand -> name and aliases) keeps a brand's own name out of its terms.
    Call it inside the caller's transaction, after the aggregates are refreshed.
    """
    rules = rules or AlertRules()
    bucket = check_bucket(rules.bucket)
    as_of = as_of or latest_event_time(conn, model_version)
    if as_of is None:
        return []
    length = BUCKET_LENGTH[bucket]
    last_start = floor_to_bucket(as_of, bucket)
    series = bucket_series(
        conn,
        model_version,
        bucket,
        last_start - rules.baseline_buckets * length,
        last_start + length,
        brands,
    )
    hour_end = floor_to_bucket(as_of, "hour") + timedelta(hours=1)
    day_start = hour_end - timedelta(hours=24)
    hourly = bucket_series(
        conn,
        model_version,
        "hour",
        day_start - timedelta(days=SPIKE_BASELINE_DAYS),
        hour_end,
        brands,
    )
    names = sorted(set(brands) if brands else {r.brand for r in (*series, *hourly)})
    candidates: list[AlertRecord] = []
    for brand in names:
        drop = _drop_alert(brand, series, last_start, bucket, rules, model_version)
        spike = _spike_alert(brand, hourly, day_start, hour_end, rules, model_version)
        candidates.extend(a for a in (drop, spike) if a is not None)
    new = [a for a in candidates if not _stored(conn, a)]
    phrases = brand_phrases or {}
    now = datetime.now(UTC)
    inserted = []
    for alert in new:
        start, end = alert.details["window"]
        window = (datetime.fromisoformat(start), datetime.fromisoformat(end))
        details = {
            **alert.details,
            **_behind(conn, model_version, alert.brand, window, rules.top_n, phrases),
        }
        row = _row(alert, details, now)
        stmt = (
            dialect_insert(conn, alerts)
            .values(**row)
            .on_conflict_do_nothing(
                index_elements=[
                    alerts.c.brand,
                    alerts.c.kind,
                    alerts.c.bucket,
                    alerts.c.bucket_start,
                ]
            )
            .returning(alerts.c.id)
        )
        alert_id = conn.execute(stmt).scalar_one_or_none()
        if alert_id is not None:  # None: a concurrent evaluation stored it first
            inserted.append(AlertRecord(**{**row, "id": alert_id}))
    return inserted


def _drop_alert(
    brand: str,
    series: list[BucketCounts],
    last_start: datetime,
    bucket: Bucket,
    rules: AlertRules,
    model_version: str,
) -> AlertRecord | None:
    by_start = {r.bucket_start: r.counts for r in series if r.brand == brand}
    last = by_start.get(last_start)
    if last is None:
        return None
    history = [by_start[s] for s in sorted(by_start) if s < last_start]
    check = check_sentiment_drop(last, history, rules)
    if check is None or not check.fired:
        return None
    label = last_start.strftime("%Y-%m-%d" if bucket == "day" else "%Y-%m-%d %H:00 UTC")
    end = last_start + BUCKET_LENGTH[bucket]
    return AlertRecord(
        brand=brand,
        kind=SENTIMENT_DROP,
        bucket=bucket,
        bucket_start=last_start,
        observed=check.observed,
        baseline=check.baseline,
        threshold=check.threshold,
        volume=check.volume,
        model_version=model_version,
        summary=drop_summary(brand, label, check, rules.k),
        details={
            "check": asdict(check),
            "rules": asdict(rules),
            "window": [last_start.isoformat(), end.isoformat()],
        },
    )


def _spike_alert(
    brand: str,
    hourly: list[BucketCounts],
    day_start: datetime,
    hour_end: datetime,
    rules: AlertRules,
    model_version: str,
) -> AlertRecord | None:
    mine = [r for r in hourly if r.brand == brand]
    last: Counts = total(r.counts for r in mine if r.bucket_start >= day_start)
    before: Counts = total(r.counts for r in mine if r.bucket_start < day_start)
    check = check_volume_spike(last.volume, before.volume, rules)
    if check is None or not check.fired:
        return None
    return AlertRecord(
        brand=brand,
        kind=VOLUME_SPIKE,
        bucket="day",
        bucket_start=floor_to_bucket(hour_end - timedelta(microseconds=1), "day"),
        observed=float(check.observed),
        baseline=check.baseline,
        threshold=check.threshold,
        volume=check.observed,
        model_version=model_version,
        summary=spike_summary(brand, hour_end.strftime("%Y-%m-%d %H:00 UTC"), check),
        details={
            "check": asdict(check),
            "rules": asdict(rules),
            "window": [day_start.isoformat(), hour_end.isoformat()],
        },
    )


def _stored(conn: Connection, alert: AlertRecord) -> bool:
    a = alerts.c
    query = select(a.id).where(
        a.brand == alert.brand,
        a.kind == alert.kind,
        a.bucket == alert.bucket,
        a.bucket_start == alert.bucket_start,
    )
    return conn.execute(query).first() is not None


def _behind(
    conn: Connection,
    model_version: str,
    brand: str,
    window: tuple[datetime, datetime],
    top_n: int,
    phrases: Mapping[str, Sequence[str]],
) -> dict[str, Any]:
    """The top negative posts and the terms of the negative posts in the alert's window."""
    start, end = window
    negative = top_posts(conn, model_version, brand, "negative", start, end, limit=top_n)
    query = (
        select(posts.c.text)
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
            post_brands.c.brand == brand,
            predictions.c.label == "negative",
            posts.c.duplicate_of.is_(None),
            posts.c.created_at >= start,
            posts.c.created_at < end,
        )
        .order_by(predictions.c.score, posts.c.id)
        .limit(TERM_SAMPLE)
    )
    texts = [t or "" for t in conn.execute(query).scalars()]
    terms = top_terms(texts, exclude=[brand, *phrases.get(brand, ())], n=N_TERMS)
    return {
        "top_negative": [p.as_dict() for p in negative],
        "top_terms": [{"term": t, "posts": n} for t, n in terms],
    }


def _row(alert: AlertRecord, details: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "brand": alert.brand,
        "kind": alert.kind,
        "bucket": alert.bucket,
        "bucket_start": alert.bucket_start,
        "observed": alert.observed,
        "baseline": alert.baseline,
        "threshold": alert.threshold,
        "volume": alert.volume,
        "model_version": alert.model_version,
        "summary": alert.summary,
        "details": details,
        "created_at": now,
    }
