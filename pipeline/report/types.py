"""Plain records a report is made of, filled by db/report_queries.py and flows/runtime/alerts.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.analytics.aggregate_math import Counts
from pipeline.records import DomainSignals


@dataclass(frozen=True, slots=True)
class BucketCounts:
    """One brand's counts in one time bucket (over one source or all of them)."""

    brand: str
    bucket_start: datetime
    counts: Counts


@dataclass(frozen=True, slots=True)
class TopPost:
    """A post picked to show a brand's mood: an original, with how often it was amplified."""

    post_id: int
    source: str
    external_id: str
    created_at: datetime
    label: str
    score: float
    copies: int  # retweets, quotes and duplicates of it in the same window
    text: str
    url: str | None = None

    def as_dict(self, max_chars: int = 280) -> dict[str, Any]:
        """JSON-ready, the text cut to ``max_chars`` characters."""
        text = self.text if len(self.text) <= max_chars else self.text[: max_chars - 1] + "…"
        return {
            "post_id": self.post_id,
            "source": self.source,
            "external_id": self.external_id,
            "created_at": self.created_at.isoformat(),
            "label": self.label,
            "score": round(self.score, 4),
            "copies": self.copies,
            "text": text,
            "url": self.url,
        }


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """A row of the ``alerts`` table."""

    brand: str
    kind: str
    bucket: str
    bucket_start: datetime
    observed: float
    baseline: float | None
    threshold: float | None
    volume: int | None
    model_version: str | None
    summary: str | None
    details: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "id": self.id,
            "brand": self.brand,
            "kind": self.kind,
            "bucket": self.bucket,
            "bucket_start": self.bucket_start.isoformat(),
            "observed": self.observed,
            "baseline": self.baseline,
            "threshold": self.threshold,
            "volume": self.volume,
            "model_version": self.model_version,
            "summary": self.summary,
            "top_terms": self.details.get("top_terms", []),
            "top_negative": self.details.get("top_negative", []),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


@dataclass(frozen=True, slots=True)
class ReportData:
    """What a report is drawn from: the series, top posts and alerts of a window."""

    model_version: str
    bucket: str
    source: str  # "*" for all sources
    since: datetime | None  # the first bucket's start, inclusive
    until: datetime | None  # the end of the last bucket, exclusive
    series: list[BucketCounts]
    top_positive: dict[str, list[TopPost]]
    top_negative: dict[str, list[TopPost]]
    alerts: list[AlertRecord]
    # Source -> out-of-domain signals of its latest batches (db.report_queries.source_signals).
    signals: dict[str, DomainSignals] = field(default_factory=dict)
