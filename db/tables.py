"""The schema as SQLAlchemy Core tables (Core, not ORM: the writes are bulk upserts).

Column names of the analyst-facing tables are a contract (see ARCHITECTURE.md): add columns
freely, rename none. ``db/migrations`` must create exactly this schema; a test checks it.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.sql.expression import Join

from db.types import JSONText, UTCDateTime

# Explicit names keep constraints identical on SQLite and PostgreSQL, so that migrations
# (and SQLite's batch mode, which recreates tables) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

posts = Table(
    "posts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("external_id", Text, nullable=False),
    Column("text", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("ingested_at", UTCDateTime, nullable=False),
    Column("author", Text),
    Column("url", Text),
    Column("lang", Text),
    Column("duplicate_of", Integer, ForeignKey("posts.id", ondelete="SET NULL")),
    Column("content_hash", Text),
    UniqueConstraint("source", "external_id"),
    Index(None, "created_at"),
    Index(None, "content_hash"),
    Index(None, "duplicate_of"),
)

post_brands = Table(
    "post_brands",
    metadata,
    Column("post_id", Integer, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    Column("brand", Text, nullable=False),
    PrimaryKeyConstraint("post_id", "brand"),
    Index(None, "brand"),
)

predictions = Table(
    "predictions",
    metadata,
    Column("post_id", Integer, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    Column("model_version", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("p_negative", Float, nullable=False),
    Column("p_neutral", Float, nullable=False),
    Column("p_positive", Float, nullable=False),
    Column("score", Float, nullable=False),
    Column("scored_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("post_id", "model_version"),
)

# One row per source: the overall figures of a (brand, bucket) are the sum over its sources
# (source "*" in reports; v_brand_daily and v_brand_hourly do the sum), so that a plain
# SUM(volume) over this table never counts a post twice.
brand_sentiment = Table(
    "brand_sentiment",
    metadata,
    Column("brand", Text, nullable=False),
    Column("bucket", Text, nullable=False),
    Column("bucket_start", UTCDateTime, nullable=False),
    Column("source", Text, nullable=False),
    Column("model_version", Text, nullable=False),
    Column("volume", Integer, nullable=False),
    # volume = n_unique + n_amplification: original posts vs retweets, quotes and duplicates
    # (posts.duplicate_of set).
    Column("n_unique", Integer, nullable=False),
    Column("n_amplification", Integer, nullable=False),
    Column("n_negative", Integer, nullable=False),
    Column("n_neutral", Integer, nullable=False),
    Column("n_positive", Integer, nullable=False),
    Column("mean_score", Float, nullable=False),
    Column("net_sentiment", Float, nullable=False),
    # (positive - negative) / (positive + negative); NULL when a bucket has neither.
    Column("nss", Float),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("brand", "bucket", "bucket_start", "source", "model_version"),
    CheckConstraint("bucket IN ('day', 'hour')", name="bucket"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("brand", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("bucket", Text, nullable=False),
    Column("bucket_start", UTCDateTime, nullable=False),
    Column("observed", Float, nullable=False),
    Column("baseline", Float),
    Column("details", JSONText),
    Column("created_at", UTCDateTime, nullable=False),
    # Plain columns for what analysts filter on; the posts and terms behind it are in details.
    Column("threshold", Float),
    Column("volume", Integer),
    Column("model_version", Text),
    Column("summary", Text),
    UniqueConstraint("brand", "kind", "bucket", "bucket_start"),
)

rejects = Table(
    "rejects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("locator", Text, nullable=False),
    Column("external_id", Text),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # The record's fields as its reader parsed them (each text value cut at one character over
    # the text limit, which keeps every validation outcome), for `sentimon rejects replay`.
    # NULL when the reader could not parse the record (or for rejects stored before 0005).
    Column("fields", JSONText),
    UniqueConstraint("source", "locator"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("version", Text, primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("path", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("metrics", JSONText),
    Column("active", Boolean, nullable=False),
)

batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("cursor_from", Text),
    Column("cursor_to", Text),
    Column("n_read", Integer, nullable=False),
    Column("n_posts", Integer, nullable=False),
    Column("n_new_posts", Integer, nullable=False),
    Column("n_rejects", Integer, nullable=False),
    Column("model_version", Text),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("timings", JSONText),
    Column("flow_run_id", Text),
    # How unlike the training data the batch's text reads (pipeline.model.domain_shift):
    # posts scored,
    # their model tokens, the share of those the model does not know, and the mean over posts
    # of the top class probability. NULL for batches written before revision 0004.
    Column("n_scored", Integer),
    Column("n_model_tokens", Integer),
    Column("unknown_token_share", Float),
    Column("mean_top_probability", Float),
)

source_cursors = Table(
    "source_cursors",
    metadata,
    Column("source", Text, primary_key=True),
    Column("position", Text),
    Column("updated_at", UTCDateTime, nullable=False),
)

# One row per source being processed: who holds it and until when. Two `sentimon run`s of one
# source must not read the same records; the holder renews the lease with every batch commit,
# and a commit checks it still holds it (a fencing check), so a process that lost its lease
# (paused past the expiry, say) cannot write a batch another process may also have read.
source_leases = Table(
    "source_leases",
    metadata,
    Column("source", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)


def scored_mentions(model_version: str) -> Join:
    """posts ⋈ post_brands ⋈ predictions of ``model_version``: one row per scored mention."""
    return posts.join(post_brands, post_brands.c.post_id == posts.c.id).join(
        predictions,
        and_(predictions.c.post_id == posts.c.id, predictions.c.model_version == model_version),
    )
