"""Source leases (one row per source being processed, so two runs never read the same
records), and indexes on posts.content_hash and posts.duplicate_of for linking retweets and
copies to their original and counting them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "source_leases",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_source_leases"),
    )
    op.create_index("ix_posts_content_hash", "posts", ["content_hash"])
    op.create_index("ix_posts_duplicate_of", "posts", ["duplicate_of"])


def downgrade() -> None:
    op.drop_index("ix_posts_duplicate_of", table_name="posts")
    op.drop_index("ix_posts_content_hash", table_name="posts")
    op.drop_table("source_leases")
