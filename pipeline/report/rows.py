"""The brand report as plain rows (one dict per brand), and its JSON and CSV renderings.

Every figure is derived from counts by pipeline/analytics/aggregate_math.py. Net sentiment =
(positive - negative) / volume over all scored posts; NSS = (positive - negative) /
(positive + negative), Talkwalker's net sentiment score, which ignores neutral posts. Both are
shown and labelled because they answer different questions and can differ a lot.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pipeline.analytics.aggregate_math import DEFAULT_MIN_VOLUME, Counts, share_of_voice, total
from pipeline.report.types import ReportData

# The keys every brand object of `sentimon report --format json` has (README documents them).
REPORT_KEYS = (
    "brand",
    "volume",
    "unique",
    "amplification",
    "positive",
    "neutral",
    "negative",
    "mean_score",
    "net_sentiment",
    "net_sentiment_low",
    "net_sentiment_high",
    "nss",
    "share_of_voice",
    "low_volume",
    "alerts",
    "top_positive",
    "top_negative",
    "series",
)
# The flat (non-list) keys: the CSV columns.
CSV_KEYS = tuple(
    k for k in REPORT_KEYS if k not in ("alerts", "top_positive", "top_negative", "series")
)


def figures(counts: Counts, sov: float | None, min_volume: int) -> dict[str, Any]:
    """The figures of one Counts as a JSON-ready dict (ratios rounded to 6 places)."""
    interval = counts.net_sentiment_interval
    return {
        "volume": counts.volume,
        "unique": counts.unique,
        "amplification": counts.amplification,
        "positive": counts.positive,
        "neutral": counts.neutral,
        "negative": counts.negative,
        "mean_score": _round(counts.mean_score),
        "net_sentiment": _round(counts.net_sentiment),
        "net_sentiment_low": _round(interval[0]) if interval else None,
        "net_sentiment_high": _round(interval[1]) if interval else None,
        "nss": _round(counts.nss),
        "share_of_voice": _round(sov),
        "low_volume": counts.low_volume(min_volume),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def build_report(
    data: ReportData,
    configured_brands: Iterable[str],
    brands: Sequence[str] | None = None,
    min_volume: int = DEFAULT_MIN_VOLUME,
) -> list[dict[str, Any]]:
    """One dict per brand with data in the window, busiest first (keys: REPORT_KEYS).

    ``data.series`` should hold every brand, so that share of voice (among
    ``configured_brands``) is right; ``brands`` then picks the brands reported.
    """
    configured = list(configured_brands)
    by_brand: dict[str, list[tuple[datetime, Counts]]] = defaultdict(list)
    by_start: dict[datetime, dict[str, int]] = defaultdict(dict)
    for row in data.series:
        by_brand[row.brand].append((row.bucket_start, row.counts))
        by_start[row.bucket_start][row.brand] = row.counts.volume
    totals = {brand: total(c for _, c in rows) for brand, rows in by_brand.items()}
    sov_total = share_of_voice({b: t.volume for b, t in totals.items()}, configured)
    sov_bucket = {start: share_of_voice(vols, configured) for start, vols in by_start.items()}
    alerts_by_brand: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for alert in data.alerts:
        alerts_by_brand[alert.brand].append(alert.as_dict())
    wanted = set(brands) if brands else set(by_brand)
    report = []
    for brand in sorted(wanted & set(by_brand), key=lambda b: (-totals[b].volume, b)):
        series = [
            {
                "bucket_start": start.isoformat(),
                **figures(counts, sov_bucket[start].get(brand), min_volume),
            }
            for start, counts in by_brand[brand]
        ]
        report.append(
            {
                "brand": brand,
                **figures(totals[brand], sov_total.get(brand), min_volume),
                "alerts": alerts_by_brand.get(brand, []),
                "top_positive": [p.as_dict() for p in data.top_positive.get(brand, [])],
                "top_negative": [p.as_dict() for p in data.top_negative.get(brand, [])],
                "series": series,
            }
        )
    return report


def report_json(rows: Sequence[dict[str, Any]]) -> str:
    """One JSON list, one object per brand, with the documented keys."""
    return json.dumps([{k: row.get(k) for k in REPORT_KEYS} for row in rows], indent=2)


def report_csv(rows: Sequence[dict[str, Any]]) -> str:
    """One CSV line per brand with the flat figures (the series and posts are in the JSON)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*CSV_KEYS, "n_alerts"], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        cells = {k: csv_cell(row.get(k)) for k in CSV_KEYS}
        writer.writerow({**cells, "n_alerts": len(row["alerts"])})
    return out.getvalue()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet will not run as a formula (OWASP's CSV injection rule: a
    leading ``'`` before ``= + - @``, tab or CR). Brand names can come from the input, so
    ``=HYPERLINK(...)`` must arrive as text. Numbers pass unchanged (a negative figure is
    a number, not a formula)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def series_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-bucket figures of every brand as flat rows (a table artifact's rows)."""
    return [
        {"brand": row["brand"], **{k: v for k, v in bucket.items()}}
        for row in rows
        for bucket in row["series"]
    ]
