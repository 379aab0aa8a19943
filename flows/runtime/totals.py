"""What a run's batches did: each batch's report, and the run's totals that `sentimon run`
prints. Plain data, importable without the model, so that the CLI can print a run it skips
before anything heavy loads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.model.domain_shift import DomainSignals, signal_figures


@dataclass(frozen=True)
class BatchReport:
    """What one committed batch did. Frozen and picklable: it crosses Prefect's task boundary
    (and a Dask worker's) as it is."""

    source: str
    n_read: int
    n_posts: int
    n_new_posts: int
    n_rejects: int
    cursor_to: str | None
    timings: dict[str, float] = field(default_factory=dict)
    signals: DomainSignals = field(default_factory=DomainSignals)
    # Reason (its words before any detail) -> how many of this batch's rejects gave it.
    reject_reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class RunTotals:
    """The sums of a run's batch reports, and what the run adds to them (the flow's result)."""

    source: str
    batches: int = 0
    read: int = 0
    posts: int = 0
    new_posts: int = 0
    rejects: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)  # most frequent first
    seconds: float = 0.0
    signals: DomainSignals = field(default_factory=DomainSignals)
    refused_entries: int | None = None  # landing-folder entries never read (when any)
    files: int | None = None  # files of a landing folder read per file
    notices: list[str] | None = None  # what the reader found about its files (when anything)
    skipped: str | None = None  # why the run did nothing (its source was busy)
    alerts: int | None = None  # new alerts, once the batches are done
    team_lexicon: dict[str, Any] | None = None
    warning: str | None = None  # the out-of-domain warning, if any

    def add(self, report: BatchReport) -> None:
        self.batches += 1
        self.read += report.n_read
        self.posts += report.n_posts
        self.new_posts += report.n_new_posts
        self.rejects += report.n_rejects
        reasons = dict(self.reject_reasons)
        for reason, n in report.reject_reasons.items():
            reasons[reason] = reasons.get(reason, 0) + n
        self.reject_reasons = dict(sorted(reasons.items(), key=lambda item: -item[1]))
        self.seconds += sum(report.timings.values())
        self.signals += report.signals

    def as_dict(self) -> dict[str, Any]:
        """The run's summary as `sentimon run` prints it (JSON; keys in this order)."""
        out: dict[str, Any] = {
            "source": self.source,
            "batches": self.batches,
            "read": self.read,
            "posts": self.posts,
            "new_posts": self.new_posts,
            "rejects": self.rejects,
            "reject_reasons": self.reject_reasons,
            "seconds": round(self.seconds, 3),  # a sum of rounded laps: no float tail
        }
        if self.skipped is not None:
            return {**out, "skipped": self.skipped}
        optional = {
            "refused_entries": self.refused_entries,
            "files": self.files,
            "notices": self.notices,
            "alerts": self.alerts,
            "team_lexicon": self.team_lexicon,
        }
        out |= {key: value for key, value in optional.items() if value is not None}
        out |= signal_figures(self.signals)
        if self.warning is not None:
            out["warning"] = self.warning
        return out
