"""Alerts in the database: which are stored, storing a new one, the posts behind one.

The rules live in pipeline/analytics/alert_rules.py and their evaluation in
flows/runtime/alerts.py; this module only reads and writes rows. Idempotent: an alert is keyed
by (brand, kind, bucket, bucket_start) and inserted with ON CONFLICT DO NOTHING, so storing the
same alert again stores nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from db.sql import dialect_insert
from db.tables import alerts, post_brands, posts, predictions, scored_mentions
from pipeline.report.types import AlertRecord


def is_stored(conn: Connection, alert: AlertRecord) -> bool:
    """Whether an alert with the key of ``alert`` is stored already."""
    a = alerts.c
    query = select(a.id).where(
        a.brand == alert.brand,
        a.kind == alert.kind,
        a.bucket == alert.bucket,
        a.bucket_start == alert.bucket_start,
    )
    return conn.execute(query).first() is not None


def negative_texts(
    conn: Connection,
    model_version: str,
    brand: str,
    window: tuple[datetime, datetime],
    limit: int,
) -> list[str]:
    """Texts of ``brand``'s original negative posts in [start, end), most negative first."""
    start, end = window
    query = (
        select(posts.c.text)
        .select_from(scored_mentions(model_version))
        .where(
            post_brands.c.brand == brand,
            predictions.c.label == "negative",
            posts.c.duplicate_of.is_(None),
            posts.c.created_at >= start,
            posts.c.created_at < end,
        )
        .order_by(predictions.c.score, posts.c.id)
        .limit(limit)
    )
    return [t or "" for t in conn.execute(query).scalars()]


def store_alert(
    conn: Connection, alert: AlertRecord, details: dict[str, Any], now: datetime
) -> AlertRecord | None:
    """Insert ``alert`` with ``details``; the stored record, or None if one was there first."""
    row = _row(alert, details, now)
    stmt = (
        dialect_insert(conn, alerts)
        .values(**row)
        .on_conflict_do_nothing(
            index_elements=[alerts.c.brand, alerts.c.kind, alerts.c.bucket, alerts.c.bucket_start]
        )
        .returning(alerts.c.id)
    )
    alert_id = conn.execute(stmt).scalar_one_or_none()
    return None if alert_id is None else AlertRecord(**{**row, "id": alert_id})


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
