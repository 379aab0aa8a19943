"""Initial schema: posts, mentions, predictions, aggregates, alerts, rejects, models, batches,
cursors, and the analyst views v_scored_posts and v_brand_daily.

Revision ID: 0001
Revises:
Create Date: 2025-11-25

Written by hand to match db/tables.py (tests/db/test_migrate.py compares them). Timestamps are
naive UTC (sa.DateTime); JSON columns are TEXT. The view SQL is plain SQL that runs unchanged
on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One line per post scored by the active model version; posts without brands are included
# (n_brands = 0). Join post_brands on post_id for one line per (post, brand).
V_SCORED_POSTS = """
CREATE VIEW v_scored_posts AS
SELECT
    p.id AS post_id,
    p.source,
    p.external_id,
    p.created_at,
    p.ingested_at,
    p.author,
    p.url,
    p.lang,
    p.duplicate_of,
    p.text,
    pr.model_version,
    pr.label,
    pr.p_negative,
    pr.p_neutral,
    pr.p_positive,
    pr.score,
    pr.scored_at,
    (SELECT COUNT(*) FROM post_brands pb WHERE pb.post_id = p.id) AS n_brands
FROM posts p
JOIN predictions pr ON pr.post_id = p.id
JOIN model_versions mv ON mv.version = pr.model_version AND mv.active
"""

# Daily figures per brand for the active model version, summed over sources. `day` is the
# day's UTC start; CAST keeps the division a float division on PostgreSQL too.
V_BRAND_DAILY = """
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


def upgrade() -> None:
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("lang", sa.Text(), nullable=True),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_posts"),
        sa.ForeignKeyConstraint(
            ["duplicate_of"],
            ["posts.id"],
            name="fk_posts_duplicate_of_posts",
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("source", "external_id", name="uq_posts_source_external_id"),
    )
    op.create_index("ix_posts_created_at", "posts", ["created_at"])

    op.create_table(
        "post_brands",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("brand", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("post_id", "brand", name="pk_post_brands"),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name="fk_post_brands_post_id_posts", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_post_brands_brand", "post_brands", ["brand"])

    op.create_table(
        "predictions",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("p_negative", sa.Float(), nullable=False),
        sa.Column("p_neutral", sa.Float(), nullable=False),
        sa.Column("p_positive", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("post_id", "model_version", name="pk_predictions"),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name="fk_predictions_post_id_posts", ondelete="CASCADE"
        ),
    )

    op.create_table(
        "brand_sentiment",
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("bucket_start", sa.DateTime(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("volume", sa.Integer(), nullable=False),
        sa.Column("n_negative", sa.Integer(), nullable=False),
        sa.Column("n_neutral", sa.Integer(), nullable=False),
        sa.Column("n_positive", sa.Integer(), nullable=False),
        sa.Column("mean_score", sa.Float(), nullable=False),
        sa.Column("net_sentiment", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "brand", "bucket", "bucket_start", "source", "model_version", name="pk_brand_sentiment"
        ),
        sa.CheckConstraint("bucket IN ('day', 'hour')", name="ck_brand_sentiment_bucket"),
    )

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("bucket_start", sa.DateTime(), nullable=False),
        sa.Column("observed", sa.Float(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint(
            "brand",
            "kind",
            "bucket",
            "bucket_start",
            name="uq_alerts_brand_kind_bucket_bucket_start",
        ),
    )

    op.create_table(
        "rejects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("locator", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rejects"),
        sa.UniqueConstraint("source", "locator", name="uq_rejects_source_locator"),
    )

    op.create_table(
        "model_versions",
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_model_versions"),
    )

    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("cursor_from", sa.Text(), nullable=True),
        sa.Column("cursor_to", sa.Text(), nullable=True),
        sa.Column("n_read", sa.Integer(), nullable=False),
        sa.Column("n_posts", sa.Integer(), nullable=False),
        sa.Column("n_new_posts", sa.Integer(), nullable=False),
        sa.Column("n_rejects", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("timings", sa.Text(), nullable=True),
        sa.Column("flow_run_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_batches"),
    )

    op.create_table(
        "source_cursors",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("position", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_source_cursors"),
    )

    op.execute(V_SCORED_POSTS)
    op.execute(V_BRAND_DAILY)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_brand_daily")
    op.execute("DROP VIEW IF EXISTS v_scored_posts")
    for table in (
        "source_cursors",
        "batches",
        "model_versions",
        "rejects",
        "alerts",
        "brand_sentiment",
        "predictions",
        "post_brands",
        "posts",
    ):
        op.drop_table(table)
