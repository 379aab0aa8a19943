"""Aggregates gain unique/amplification counts and NSS, hour buckets are kept, alerts gain plain
columns; views v_brand_daily (reworked), v_brand_hourly and v_alerts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

brand_sentiment is derived data: the upgrade rebuilds it, day and hour buckets for every model
version, from posts, mentions and predictions with plain SQL frozen here (not db.aggregates, whose
columns may move on in later revisions). The view SQL runs unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_FORMATS = {"day": "%Y-%m-%d 00:00:00.000000", "hour": "%Y-%m-%d %H:00:00.000000"}


def _brand_view(name: str, bucket: str, alias: str) -> str:
    # Overall figures of the active model: the per-source rows summed. share_of_voice is the
    # brand's share of all brands' mentions in the same bucket (a post naming two brands counts
    # for each). NULLIF keeps NSS NULL where a bucket has no positive and no negative post.
    # (S608: what is interpolated here are this module's constants, never input.)
    return f"""
CREATE VIEW {name} AS
SELECT
    bs.brand,
    bs.bucket_start AS {alias},
    bs.model_version,
    SUM(bs.volume) AS volume,
    SUM(bs.n_unique) AS n_unique,
    SUM(bs.n_amplification) AS n_amplification,
    SUM(bs.n_negative) AS n_negative,
    SUM(bs.n_neutral) AS n_neutral,
    SUM(bs.n_positive) AS n_positive,
    SUM(bs.mean_score * bs.volume) / SUM(bs.volume) AS mean_score,
    CAST(SUM(bs.n_positive) - SUM(bs.n_negative) AS DOUBLE PRECISION) / SUM(bs.volume)
        AS net_sentiment,
    CAST(SUM(bs.n_positive) - SUM(bs.n_negative) AS DOUBLE PRECISION)
        / NULLIF(SUM(bs.n_positive) + SUM(bs.n_negative), 0) AS nss,
    CAST(SUM(bs.volume) AS DOUBLE PRECISION)
        / SUM(SUM(bs.volume)) OVER (PARTITION BY bs.bucket_start, bs.model_version)
        AS share_of_voice
FROM brand_sentiment bs
JOIN model_versions mv ON mv.version = bs.model_version AND mv.active
WHERE bs.bucket = '{bucket}'
GROUP BY bs.brand, bs.bucket_start, bs.model_version
"""  # noqa: S608


V_ALERTS = """
CREATE VIEW v_alerts AS
SELECT
    a.id,
    a.brand,
    a.kind,
    a.bucket,
    a.bucket_start,
    a.observed,
    a.baseline,
    a.threshold,
    a.observed - a.baseline AS change,
    a.volume,
    a.summary,
    a.model_version,
    a.created_at,
    a.details
FROM alerts a
"""

# v_brand_daily as revision 0001 made it, for the downgrade.
V_BRAND_DAILY_0001 = """
CREATE VIEW v_brand_daily AS
SELECT
    bs.brand,
    bs.bucket_start AS day,
    bs.model_version,
    SUM(bs.volume) AS volume,
    SUM(bs.n_negative) AS n_negative,
    SUM(bs.n_neutral) AS n_neutral,
    SUM(bs.n_positive) AS n_positive,
    SUM(bs.mean_score * bs.volume) / SUM(bs.volume) AS mean_score,
    CAST(SUM(bs.n_positive) - SUM(bs.n_negative) AS DOUBLE PRECISION) / SUM(bs.volume)
        AS net_sentiment
FROM brand_sentiment bs
JOIN model_versions mv ON mv.version = bs.model_version AND mv.active
WHERE bs.bucket = 'day'
GROUP BY bs.brand, bs.bucket_start, bs.model_version
"""


def _bucket_sql(dialect: str, unit: str) -> str:
    if dialect == "postgresql":
        return f"date_trunc('{unit}', p.created_at)"
    return f"strftime('{_SQLITE_FORMATS[unit]}', p.created_at)"


def _rebuild_sql(dialect: str, unit: str) -> str:
    start = _bucket_sql(dialect, unit)
    return f"""
INSERT INTO brand_sentiment (
    brand, bucket, bucket_start, source, model_version, volume, n_unique, n_amplification,
    n_negative, n_neutral, n_positive, mean_score, net_sentiment, nss, updated_at
)
SELECT
    pb.brand, '{unit}', {start}, p.source, pr.model_version,
    COUNT(*),
    SUM(CASE WHEN p.duplicate_of IS NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN p.duplicate_of IS NULL THEN 0 ELSE 1 END),
    SUM(CASE WHEN pr.label = 'negative' THEN 1 ELSE 0 END),
    SUM(CASE WHEN pr.label = 'neutral' THEN 1 ELSE 0 END),
    SUM(CASE WHEN pr.label = 'positive' THEN 1 ELSE 0 END),
    AVG(pr.score),
    CAST(SUM(CASE WHEN pr.label = 'positive' THEN 1 WHEN pr.label = 'negative' THEN -1 ELSE 0 END)
        AS DOUBLE PRECISION) / COUNT(*),
    CAST(SUM(CASE WHEN pr.label = 'positive' THEN 1 WHEN pr.label = 'negative' THEN -1 ELSE 0 END)
        AS DOUBLE PRECISION)
        / NULLIF(SUM(CASE WHEN pr.label IN ('positive', 'negative') THEN 1 ELSE 0 END), 0),
    :now
FROM posts p
JOIN post_brands pb ON pb.post_id = p.id
JOIN predictions pr ON pr.post_id = p.id
GROUP BY pb.brand, {start}, p.source, pr.model_version
"""  # noqa: S608


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_brand_daily")
    op.drop_table("brand_sentiment")
    op.create_table(
        "brand_sentiment",
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("bucket_start", sa.DateTime(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("volume", sa.Integer(), nullable=False),
        sa.Column("n_unique", sa.Integer(), nullable=False),
        sa.Column("n_amplification", sa.Integer(), nullable=False),
        sa.Column("n_negative", sa.Integer(), nullable=False),
        sa.Column("n_neutral", sa.Integer(), nullable=False),
        sa.Column("n_positive", sa.Integer(), nullable=False),
        sa.Column("mean_score", sa.Float(), nullable=False),
        sa.Column("net_sentiment", sa.Float(), nullable=False),
        sa.Column("nss", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "brand", "bucket", "bucket_start", "source", "model_version", name="pk_brand_sentiment"
        ),
        sa.CheckConstraint("bucket IN ('day', 'hour')", name="ck_brand_sentiment_bucket"),
    )
    bind = op.get_bind()
    now = datetime.now(UTC).replace(tzinfo=None)
    for unit in ("day", "hour"):
        bind.execute(sa.text(_rebuild_sql(bind.dialect.name, unit)), {"now": now})

    op.add_column("alerts", sa.Column("threshold", sa.Float(), nullable=True))
    op.add_column("alerts", sa.Column("volume", sa.Integer(), nullable=True))
    op.add_column("alerts", sa.Column("model_version", sa.Text(), nullable=True))
    op.add_column("alerts", sa.Column("summary", sa.Text(), nullable=True))

    op.execute(_brand_view("v_brand_daily", "day", "day"))
    op.execute(_brand_view("v_brand_hourly", "hour", "hour"))
    op.execute(V_ALERTS)


def downgrade() -> None:
    for view in ("v_alerts", "v_brand_hourly", "v_brand_daily"):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    # SQLite recreates the tables (batch mode); the views that name them are gone by now.
    with op.batch_alter_table("alerts") as batch:
        for column in ("summary", "model_version", "volume", "threshold"):
            batch.drop_column(column)
    with op.batch_alter_table("brand_sentiment") as batch:
        for column in ("nss", "n_amplification", "n_unique"):
            batch.drop_column(column)
    op.execute(V_BRAND_DAILY_0001)
