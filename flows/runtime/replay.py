"""Replaying stored rejects (`sentimon rejects replay`): validate them again, under another
column mapping, and store the ones that now pass through the normal batch path.

Each batch of rejects is analysed like a read batch (pipeline.analysis: language, brands,
score) and committed in one transaction that stores the posts, their mentions and predictions,
adds them to the aggregates, records the batch and deletes the rejects it stored
(db.repository.commit_batch, db.rejects.settle_rejects); the source's cursor stays where it is.
Rejects that fail again keep their row with the new reason. A record missing created_at gets
the time it was first read, as it would have then. Running it again stores nothing twice:
stored rejects are gone, and posts are keyed by (source, external_id).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from db import repository
from db.leases import Lease, renew_lease
from db.rejects import StillRejected, count_unreplayable, replayable_rejects, settle_rejects
from flows.runtime.alerts import evaluate_alerts
from flows.runtime.leasing import LEASE_TTL
from flows.runtime.process import Runtime
from flows.runtime.reporting import configured_brands
from pipeline.analysis import analyse
from pipeline.errors import ConfigError
from pipeline.records import Batch, Post, RawRecord
from pipeline.report.types import AlertRecord
from pipeline.sources.validate import Validator

REPLAY_BATCH = 1000


@dataclass
class ReplayReport:
    source: str
    batches: int = 0
    replayed: int = 0  # rejects validated again
    stored: int = 0  # of those, now posts (their rejects deleted)
    new_posts: int = 0  # of those, posts the database did not hold yet
    still_rejected: int = 0
    not_replayable: int = 0  # rejects the reader could not parse: no fields kept
    reasons: Counter[str] = field(default_factory=Counter)  # of the still rejected
    alerts: list[AlertRecord] = field(default_factory=list)


def replay_rejects(
    rt: Runtime,
    source: str,
    column_map: dict[str, str] | None,
    lease: Lease,
    batch_size: int = REPLAY_BATCH,
) -> ReplayReport:
    """Replay every replayable reject of ``source``; the caller holds the source's ``lease``."""
    validator = Validator(source, column_map)
    report = ReplayReport(source)
    after = 0
    while True:
        with rt.engine.connect() as conn:
            records = replayable_rejects(conn, source, after, batch_size)
        if not records:
            break
        after = records[-1].id
        stored: list[int] = []
        posts: list[Post] = []
        still: list[StillRejected] = []
        for record in records:
            raw = RawRecord(record.locator, dict(record.fields), "")
            accepted, refused = validator.split([raw], now=record.created_at)
            if accepted:
                stored.append(record.id)
                posts.extend(accepted)
            else:
                reject = refused[0]
                still.append(StillRejected(record.id, reject.reason, reject.external_id))
                report.reasons[reject.reason.split(":")[0]] += 1
        lease = _commit(rt, source, posts, stored, still, lease, report)
        report.batches += 1
        report.replayed += len(records)
        report.stored += len(stored)
        report.still_rejected += len(still)
    with rt.engine.connect() as conn:
        report.not_replayable = count_unreplayable(conn, source)
    if report.new_posts:
        report.alerts = _evaluate_alerts(rt)
    return report


def _commit(
    rt: Runtime,
    source: str,
    posts: list[Post],
    stored: list[int],
    still: list[StillRejected],
    lease: Lease,
    report: ReplayReport,
) -> Lease:
    """Analyse ``posts`` and commit them with the settled rejects, in one transaction."""
    timings: dict[str, float] = {}
    analysis = analyse(
        rt.scorer, rt.language, rt.matcher, [p.text for p in posts], [p.brand_hints for p in posts]
    )
    batch = Batch(
        source=source,
        cursor_from=None,
        cursor_to=None,
        scored=analysis.scored(posts),
        timings=timings,
        signals=analysis.signals,
    )
    with rt.engine.begin() as conn:
        lease = renew_lease(conn, lease, datetime.now(UTC), LEASE_TTL)
        if posts:
            counts = repository.commit_batch(conn, batch, advance_cursor=False)
            report.new_posts += counts.n_new_posts
        settle_rejects(conn, stored, still)
    return lease


def _evaluate_alerts(rt: Runtime) -> list[AlertRecord]:
    """The alert rules on the updated aggregates, as after an ingest run (stored, not emitted:
    the CLI emits the events when a Prefect server is configured)."""
    try:
        phrases = configured_brands(rt.settings)
    except ConfigError:
        phrases = {}
    with rt.engine.begin() as conn:
        active = repository.active_model_version(conn)
        if active is None:
            return []
        return evaluate_alerts(conn, active.version, brand_phrases=phrases)
