"""One micro-batch, start to finish, as a plain function (the flow wraps it in a task).

read after the stored cursor -> validate -> analyse (tokenise, language, brands, score;
flows/analysis.py) -> one transaction that writes everything and advances the cursor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from db import repository
from db.leases import Lease, renew_lease
from flows.analysis import analyse
from flows.leasing import LEASE_TTL
from flows.runtime import Runtime
from pipeline.records import Batch, ScoredPost
from pipeline.sources import Source
from pipeline.validate import Validator


@dataclass(frozen=True)
class BatchReport:
    source: str
    n_read: int
    n_posts: int
    n_new_posts: int
    n_rejects: int
    cursor_to: str | None
    timings: dict[str, float] = field(default_factory=dict)


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
    read = source.read_batch(cursor, batch_size)
    if not read.records:
        return None
    lap("read")
    posts, rejects = validator.split(read.records)
    lap("validate")
    texts, hints = [p.text for p in posts], [p.brand_hints for p in posts]
    if rt.pool is not None:
        analysis = rt.pool.analyse(rt.scorer, rt.language, rt.matcher, texts, hints, lap)
    else:
        analysis = analyse(rt.scorer, rt.language, rt.matcher, texts, hints, lap)
    batch = Batch(
        source=source.name,
        cursor_from=cursor,
        cursor_to=read.cursor_to,
        scored=[
            ScoredPost(post=p, brands=b, prediction=pr, lang=lang)
            for p, b, pr, lang in zip(
                posts, analysis.mentions, analysis.predictions, analysis.langs, strict=True
            )
        ],
        rejects=rejects,
        timings=timings,
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
    )
