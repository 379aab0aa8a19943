"""Alert evaluation: the rules of pipeline/analytics/alert_rules.py on the stored aggregates.

A sentiment drop is keyed by the bucket it judges; a volume spike by the UTC day its 24-hour
window ends in, so a spike that lasts all day is one alert, not 24. Evaluating the same data
again stores and returns nothing new (db/alerts.py inserts with ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from db.alerts import is_stored, negative_texts, store_alert
from db.buckets import BUCKET_LENGTH, Bucket, check_bucket, floor_to_bucket
from db.report_queries import bucket_series, latest_event_time, top_posts
from pipeline.analytics.alert_rules import SPIKE_BASELINE_DAYS, AlertRules, drop_alert, spike_alert
from pipeline.analytics.terms import top_terms
from pipeline.report.types import AlertRecord

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
    candidates = _candidates(conn, model_version, bucket, as_of, rules, brands)
    new = [a for a in candidates if not is_stored(conn, a)]
    return _store(conn, model_version, new, rules.top_n, brand_phrases or {})


def _candidates(
    conn: Connection,
    model_version: str,
    bucket: Bucket,
    as_of: datetime,
    rules: AlertRules,
    brands: Sequence[str] | None,
) -> list[AlertRecord]:
    """The drop and spike alerts the rules find for each brand at ``as_of``, stored or not."""
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
    end = last_start + length
    day = floor_to_bucket(hour_end - timedelta(microseconds=1), "day")
    candidates: list[AlertRecord] = []
    for brand in names:
        drop = drop_alert(brand, series, last_start, end, bucket, rules, model_version)
        spike = spike_alert(brand, hourly, day_start, hour_end, day, rules, model_version)
        candidates.extend(a for a in (drop, spike) if a is not None)
    return candidates


def _store(
    conn: Connection,
    model_version: str,
    new: list[AlertRecord],
    top_n: int,
    phrases: Mapping[str, Sequence[str]],
) -> list[AlertRecord]:
    """Store each new alert with the posts and terms behind it; the ones this call stored."""
    now = datetime.now(UTC)
    inserted = []
    for alert in new:
        start, stop = alert.details["window"]
        window = (datetime.fromisoformat(start), datetime.fromisoformat(stop))
        details = {
            **alert.details,
            **_behind(conn, model_version, alert.brand, window, top_n, phrases),
        }
        stored = store_alert(conn, alert, details, now)
        if stored is not None:  # None: a concurrent evaluation stored it first
            inserted.append(stored)
    return inserted


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
    texts = negative_texts(conn, model_version, brand, window, TERM_SAMPLE)
    terms = top_terms(texts, exclude=[brand, *phrases.get(brand, ())], n=N_TERMS)
    return {
        "top_negative": [p.as_dict() for p in negative],
        "top_terms": [{"term": t, "posts": n} for t, n in terms],
    }
