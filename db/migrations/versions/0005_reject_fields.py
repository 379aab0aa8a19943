"""Rejects keep the fields their reader parsed (JSON), so that `sentimon rejects replay` can
validate them again under another column mapping without the input file.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

A nullable column: rejects stored before this revision, and records the reader could not parse
(invalid JSON, undecodable bytes), keep NULL; re-reading the input (`sentimon sources reset`) is
their way back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("rejects", sa.Column("fields", sa.Text(), nullable=True))


def downgrade() -> None:
    # Batch mode: SQLite before 3.35 cannot drop a column in place.
    with op.batch_alter_table("rejects") as batch:
        batch.drop_column("fields")
