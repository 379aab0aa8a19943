"""Alert rules as plain functions of counts: a sentiment drop and a volume spike.

Sentiment drop: the last bucket's net sentiment lies more than ``k`` spreads below its trailing
baseline. The baseline is the mean net sentiment of the previous ``baseline_buckets`` buckets
that have at least ``min_volume`` posts (quieter ones are too noisy to learn from); at least
``min_baseline_buckets`` of them are needed. The spread combines how much the baseline moves from
bucket to bucket (their sample standard deviation s) with the sampling error of the last bucket
itself (se = sqrt(var / n), var = (p+ + p-) - d^2 being the variance of one post's +1/0/-1):
spread = sqrt(s^2 + se^2). Without the se term a perfectly flat baseline (s = 0) would fire on
any wobble. The last bucket needs ``min_volume`` posts too.

Volume spike: the brand's posts in the last 24 hours against the daily mean of the 7 days
before them; it fires when the last 24 hours hold at least ``spike_factor`` times that mean and
at least ``spike_min_volume`` posts. A brand with no posts in those 7 days has no baseline and
never fires (a new source or brand is not a spike).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from pipeline.analytics.aggregate_math import Counts, total
from pipeline.report.types import AlertRecord, BucketCounts

SENTIMENT_DROP = "sentiment-drop"
VOLUME_SPIKE = "volume-spike"
ALERT_KINDS = (SENTIMENT_DROP, VOLUME_SPIKE)
SPIKE_BASELINE_DAYS = 7


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Thresholds of both rules; the defaults suit daily buckets of a few dozen posts or more."""

    bucket: str = "day"  # the sentiment-drop rule's bucket: "day" or "hour"
    baseline_buckets: int = 7
    min_baseline_buckets: int = 3
    k: float = 2.0
    min_volume: int = 20
    spike_factor: float = 3.0
    spike_min_volume: int = 20
    top_n: int = 3  # posts and terms named in each alert

    def __post_init__(self) -> None:
        if self.bucket not in ("day", "hour"):
            raise ValueError(f"AlertRules.bucket is day or hour, not {self.bucket!r}")
        if not 2 <= self.min_baseline_buckets <= self.baseline_buckets:
            raise ValueError(
                "AlertRules needs 2 <= min_baseline_buckets <= baseline_buckets (a standard "
                f"deviation needs two buckets), got {self.min_baseline_buckets} and "
                f"{self.baseline_buckets}"
            )
        if self.k <= 0 or self.spike_factor <= 1:
            raise ValueError("AlertRules needs k > 0 and spike_factor > 1")


@dataclass(frozen=True, slots=True)
class DropCheck:
    """The sentiment-drop rule applied to one brand's last bucket."""

    observed: float  # the last bucket's net sentiment
    baseline: float  # mean net sentiment of the usable trailing buckets
    std: float  # their sample standard deviation
    se: float  # the last bucket's standard error
    threshold: float  # baseline - k * sqrt(std^2 + se^2)
    volume: int
    n_baseline: int  # trailing buckets used
    fired: bool


@dataclass(frozen=True, slots=True)
class SpikeCheck:
    """The volume-spike rule applied to one brand's last 24 hours."""

    observed: int  # posts in the last 24 hours
    baseline: float  # mean posts per day over the 7 days before
    threshold: float  # max(spike_factor * baseline, spike_min_volume)
    fired: bool


def check_sentiment_drop(
    last: Counts, history: Sequence[Counts], rules: AlertRules
) -> DropCheck | None:
    """The drop rule on ``last`` given the trailing buckets; None when data is too thin."""
    if last.volume < rules.min_volume:
        return None
    usable = [c.net_sentiment for c in history if c.volume >= rules.min_volume]
    values = [v for v in usable if v is not None]
    if len(values) < rules.min_baseline_buckets:
        return None
    baseline = statistics.fmean(values)
    std = statistics.stdev(values)
    observed = (last.positive - last.negative) / last.volume
    per_post_variance = max(0.0, (last.positive + last.negative) / last.volume - observed**2)
    se = math.sqrt(per_post_variance / last.volume)
    threshold = baseline - rules.k * math.sqrt(std**2 + se**2)
    return DropCheck(
        observed=observed,
        baseline=baseline,
        std=std,
        se=se,
        threshold=threshold,
        volume=last.volume,
        n_baseline=len(values),
        fired=observed < threshold,
    )


def check_volume_spike(last_24h: int, previous_7d: int, rules: AlertRules) -> SpikeCheck | None:
    """The spike rule; None when the 7 days before hold no posts (no baseline)."""
    if previous_7d <= 0:
        return None
    baseline = previous_7d / SPIKE_BASELINE_DAYS
    threshold = max(rules.spike_factor * baseline, float(rules.spike_min_volume))
    return SpikeCheck(
        observed=last_24h, baseline=baseline, threshold=threshold, fired=last_24h >= threshold
    )


def drop_summary(brand: str, bucket_label: str, check: DropCheck, k: float) -> str:
    """One line for people: what dropped, from what, by how much."""
    return (
        f"{brand}: net sentiment {check.observed:+.2f} in {bucket_label} "
        f"({check.volume} posts) vs baseline {check.baseline:+.2f} "
        f"(threshold {check.threshold:+.2f} = baseline - {k:g} x spread)"
    )


def spike_summary(brand: str, window_label: str, check: SpikeCheck) -> str:
    """One line for people: how many posts against how many a day before."""
    ratio = check.observed / check.baseline if check.baseline else math.inf
    return (
        f"{brand}: {check.observed} posts in the 24 h to {window_label}, "
        f"{ratio:.1f}x the daily mean of {check.baseline:.1f} over the 7 days before"
    )


def drop_alert(
    brand: str,
    series: list[BucketCounts],
    last_start: datetime,
    end: datetime,
    bucket: str,
    rules: AlertRules,
    model_version: str,
) -> AlertRecord | None:
    """The sentiment-drop alert of ``brand`` for the bucket [last_start, end), or None.

    ``series``: the rule's buckets of every brand, the baseline buckets and the last one.
    """
    by_start = {r.bucket_start: r.counts for r in series if r.brand == brand}
    last = by_start.get(last_start)
    if last is None:
        return None
    history = [by_start[s] for s in sorted(by_start) if s < last_start]
    check = check_sentiment_drop(last, history, rules)
    if check is None or not check.fired:
        return None
    label = last_start.strftime("%Y-%m-%d" if bucket == "day" else "%Y-%m-%d %H:00 UTC")
    return AlertRecord(
        brand=brand,
        kind=SENTIMENT_DROP,
        bucket=bucket,
        bucket_start=last_start,
        observed=check.observed,
        baseline=check.baseline,
        threshold=check.threshold,
        volume=check.volume,
        model_version=model_version,
        summary=drop_summary(brand, label, check, rules.k),
        details={
            "check": asdict(check),
            "rules": asdict(rules),
            "window": [last_start.isoformat(), end.isoformat()],
        },
    )


def spike_alert(
    brand: str,
    hourly: list[BucketCounts],
    day_start: datetime,
    hour_end: datetime,
    day: datetime,
    rules: AlertRules,
    model_version: str,
) -> AlertRecord | None:
    """The volume-spike alert of ``brand`` for the 24 hours [day_start, hour_end), or None.

    ``hourly``: hourly buckets of every brand, the baseline days and the last 24 hours;
    ``day``: the start of the UTC day the window ends in (the alert's bucket).
    """
    mine = [r for r in hourly if r.brand == brand]
    last: Counts = total(r.counts for r in mine if r.bucket_start >= day_start)
    before: Counts = total(r.counts for r in mine if r.bucket_start < day_start)
    check = check_volume_spike(last.volume, before.volume, rules)
    if check is None or not check.fired:
        return None
    return AlertRecord(
        brand=brand,
        kind=VOLUME_SPIKE,
        bucket="day",
        bucket_start=day,
        observed=float(check.observed),
        baseline=check.baseline,
        threshold=check.threshold,
        volume=check.observed,
        model_version=model_version,
        summary=spike_summary(brand, hour_end.strftime("%Y-%m-%d %H:00 UTC"), check),
        details={
            "check": asdict(check),
            "rules": asdict(rules),
            "window": [day_start.isoformat(), hour_end.isoformat()],
        },
    )
