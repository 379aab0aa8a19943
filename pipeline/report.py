"""Rendering of per-brand figures for people (a rich table) and machines (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.table import Table

REPORT_KEYS = ("brand", "volume", "positive", "neutral", "negative", "mean_score", "net_sentiment")


def report_json(rows: Sequence[dict[str, Any]]) -> str:
    """One JSON list, one object per brand, with the documented keys."""
    return json.dumps([{k: row.get(k) for k in REPORT_KEYS} for row in rows], indent=2)


def report_table(rows: Sequence[dict[str, Any]], title: str) -> Table:
    """A terminal table; net sentiment = (positive - negative) / volume."""
    table = Table(title=title)
    table.add_column("brand")
    for name in ("volume", "positive", "neutral", "negative", "mean score", "net sentiment"):
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(
            str(row["brand"]),
            f"{row['volume']:,}",
            f"{row['positive']:,}",
            f"{row['neutral']:,}",
            f"{row['negative']:,}",
            f"{row['mean_score']:+.3f}",
            f"{row['net_sentiment']:+.3f}",
        )
    return table
