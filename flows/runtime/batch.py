"""One micro-batch, start to finish, as a plain function (the flow wraps it in a task).

read after the stored cursor -> validate -> analyse (tokenise, language, brands, score;
flows/runtime/analysis.py) -> one transaction that writes everything and advances the cursor.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from db import repository
from db.leases import Lease, renew_lease
from flows.runtime.analysis import AnalysisPool
from flows.runtime.leasing import LEASE_TTL
from flows.runtime.process import Runtime
from flows.runtime.readahead import Ahead
from pipeline.analysis import analyse
from pipeline.model.domain_shift import DomainSignals
from pipeline.records import Batch, Post, ScoredPost
from pipeline.sources import Source
from pipeline.sources.guard import check_first_batch
from pipeline.sources.validate import Validator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchReport:
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


def process_batch(
    rt: Runtime,
    source: Source,
    validator: Validator,
    batch_size: int,
    flow_run_id: str | None = None,
    lease: Lease | None = None,
) -> BatchReport | None:
    """Process the next batch of ``source``; None when nothing new is there.

    With a ``lease``, the commit renews it first and rolls back if another process took the
    source in the meantime (db.leases.LeaseLostError).
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 4)
        clock = now

    with rt.engine.connect() as conn:
        cursor = repository.get_cursor(conn, source.name)
    pool, ahead = rt.pool, rt.readahead.take(source.name, cursor, batch_size)
    if ahead is not None:  # read and sent to the workers while the previous batch committed
        read, posts, rejects = ahead.read, ahead.posts, ahead.rejects
        lap("read")
    else:
        read = source.read_batch(cursor, batch_size)
        if not read.records:
            return None
        lap("read")
        posts, rejects = validator.split(read.records)
        if cursor is None and validator.guard_first_batch:
            check_first_batch(source.name, len(read.records), rejects)
        lap("validate")
    if pool is not None:
        pending = ahead.pending if ahead is not None else pool.start(*_inputs(posts), 0.5)
        analysis = pool.finish(pending, rt.scorer, rt.language, rt.matcher)
        lap("analyse")
        _read_ahead(rt, pool, source, validator, read.cursor_to, batch_size)
        lap("read_ahead")
    else:
        analysis = analyse(rt.scorer, rt.language, rt.matcher, *_inputs(posts), lap)
    batch = Batch(
        source=source.name,
        cursor_from=cursor,
        cursor_to=read.cursor_to,
        scored=[
            ScoredPost(post=p, brands=b, prediction=pr, lang=lang, content=key)
            for p, b, pr, lang, key in zip(
                posts,
                analysis.mentions,
                analysis.predictions,
                analysis.langs,
                analysis.keys,
                strict=True,
            )
        ],
        rejects=rejects,
        timings=timings,
        signals=analysis.signals,
    )
    with rt.engine.begin() as conn:
        if lease is not None:
            renew_lease(conn, lease, datetime.now(UTC), LEASE_TTL)
        counts = repository.commit_batch(conn, batch, flow_run_id=flow_run_id)
    # Only now: a Redis stream must not forget entries whose rows are not yet durable.
    source.acknowledge(read)
    lap("commit")
    return BatchReport(
        source=source.name,
        n_read=len(read.records),
        n_posts=len(posts),
        n_new_posts=counts.n_new_posts,
        n_rejects=len(rejects),
        cursor_to=read.cursor_to,
        timings=timings,
        signals=analysis.signals,
        reject_reasons=dict(Counter(reason_kind(r.reason) for r in rejects)),
    )


def reason_kind(reason: str) -> str:
    """A reject reason without its details: "unparsable created_at: '3' is a bare number" ->
    "unparsable created_at", "text over the size limit (25000 > 20000 chars)" -> "text over
    the size limit"."""
    return reason.split(": ", 1)[0].split(" (", 1)[0].strip() or reason


def _inputs(posts: list[Post]) -> tuple[list[str], list[tuple[str, ...]]]:
    return [p.text for p in posts], [p.brand_hints for p in posts]


# The share of a read-ahead batch left to this process, which first commits the batch before
# it: on 2 cores the commit is about a third of the work, so a quarter here and three quarters
# in the worker finish together (analysis here 2 x 1/4, commit ~1/2, worker 3/4).
AHEAD_LOCAL_SHARE = 0.25


def _read_ahead(
    rt: Runtime,
    pool: AnalysisPool,
    source: Source,
    validator: Validator,
    cursor: str | None,
    batch_size: int,
) -> None:
    """Read the batch after ``cursor`` and start its analysis in the workers, so that they
    work while this process commits; the next process_batch takes it if the committed cursor
    is then still ``cursor``. Only for sources whose reads depend on the cursor alone (files,
    SQL): a Redis consumer group hands out entries by reading them."""
    if not source.readahead or pool.broken:
        return
    try:
        read = source.read_batch(cursor, batch_size)
    except Exception as err:  # the next batch reads again and reports it properly
        log.debug("read-ahead of %s failed: %s", source.name, err)
        return
    if not read.records:
        return
    posts, rejects = validator.split(read.records)
    pending = pool.start(*_inputs(posts), AHEAD_LOCAL_SHARE)
    rt.readahead.put(Ahead(source.name, cursor, batch_size, read, posts, rejects, pending))
