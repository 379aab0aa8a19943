"""Batches record how unlike the training data their text reads: posts scored, their model
tokens, the share of unknown tokens and the mean top probability (pipeline.model.domain_shift).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Nullable columns only: batches written before this revision keep NULL (they were not measured).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("n_scored", sa.Integer()),
    ("n_model_tokens", sa.Integer()),
    ("unknown_token_share", sa.Float()),
    ("mean_top_probability", sa.Float()),
)


def upgrade() -> None:
    for name, type_ in _COLUMNS:
        op.add_column("batches", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    # Batch mode: SQLite before 3.35 cannot drop a column in place.
    with op.batch_alter_table("batches") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
