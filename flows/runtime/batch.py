"""One micro-batch, start to finish, and the one loop that runs a reader's batches in order.

read after the stored cursor -> validate -> analyse (tokenise, language, brands, score;
flows/runtime/analysis.py) -> one transaction that writes everything and advances the cursor.

A BatchLoop serves a whole source read as one sequence (flows/ingest.py, one Prefect task per
batch) and one file of a landing folder (flows/partitions.py, one task per file) alike.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from db import repository
from db.leases import Lease, renew_lease
from flows.runtime.analysis import AnalysisPool
from flows.runtime.leasing import LEASE_TTL
from flows.runtime.process import Runtime
from flows.runtime.readahead import Ahead
from flows.runtime.totals import BatchReport
from pipeline.analysis import Analysis, Laps, analyse
from pipeline.records import Batch, Post, Reject
from pipeline.sources import Source, SourceBatch
from pipeline.sources.guard import check_first_batch, check_mapped_fields, check_repeated_ids
from pipeline.sources.validate import Validator

log = logging.getLogger(__name__)


class BatchLoop:
    """The micro-batches of one reader, in order: each reads after the committed cursor and
    commits before the next one reads.

    The loop holds the run's reader for the whole run: a new reader would have to find its
    place again, which for .gz and Parquet means decoding the file from the start (measured:
    1M rows of JSONL.gz 10.6 s with one reader, 52.7 s with one per batch of 5,000). Its
    owner (the flow, or the task of one file) closes the reader. A plain class, not a
    dataclass: Prefect walks dataclass task arguments field by field, down to the model.
    """

    def __init__(
        self,
        rt: Runtime,
        reader: Source,
        validator: Validator,
        batch_size: int,
        lease: Lease | None = None,
        flow_run_id: str | None = None,
    ) -> None:
        self.rt = rt
        self.reader = reader
        self.validator = validator
        self.batch_size = batch_size
        self.lease = lease
        self.flow_run_id = flow_run_id
        self.cursor: str | None = None  # the committed cursor the last batch was read after
        self.exhausted = False  # the last batch found nothing new

    def next_batch(self) -> BatchReport | None:
        """Read, score and commit the next batch; None when nothing new is there.

        The committed cursor is read once, here: a retry reads again from the cursor the
        database holds. With a lease, the commit renews it first and rolls back if another
        process took the source in the meantime (db.leases.LeaseLostError).
        """
        timings = Laps()
        with self.rt.engine.connect() as conn:
            self.cursor = repository.get_cursor(conn, self.reader.name)
        got = self._read(timings)
        self.exhausted = got is None
        if got is None:
            return None
        read, posts, rejects, analysis = got
        counts = self._commit(read, posts, rejects, analysis, timings)
        if counts.n_differing:
            log.warning(
                "source %s: %d records read again hold another text than the posts stored "
                "under their ids; the stored posts are kept as first read, with their brands "
                "and scores (`sentimon sources delete %s` deletes what the source stored; "
                "its next run then stores the records as they are now)",
                self.reader.name,
                counts.n_differing,
                self.reader.name,
            )
        return BatchReport(
            source=self.reader.name,
            n_read=len(read.records),
            n_posts=len(posts),
            n_new_posts=counts.n_new_posts,
            n_rejects=len(rejects),
            cursor_to=read.cursor_to,
            timings=timings.timings,
            signals=analysis.signals,
            reject_reasons=dict(Counter(reason_kind(r.reason) for r in rejects)),
        )

    def batches(
        self,
        max_batches: int | None = None,
        step: Callable[[], BatchReport | None] | None = None,
    ) -> Iterator[BatchReport]:
        """Batches until the source has nothing new or ``max_batches`` are done. ``step`` runs
        one batch (default: next_batch; the flow wraps it in a Prefect task)."""
        step = step or self.next_batch
        done = 0
        while max_batches is None or done < max_batches:
            report = step()
            if report is None:
                return
            done += 1
            yield report

    def _read(self, laps: Laps) -> tuple[SourceBatch, list[Post], list[Reject], Analysis] | None:
        """The batch after the cursor, validated and analysed; None when there is none."""
        rt, source, size = self.rt, self.reader, self.batch_size
        ahead = rt.readahead.take(source.name, self.cursor, size)
        if ahead is not None:  # read and sent to the workers while the previous batch committed
            read, posts, rejects = ahead.read, ahead.posts, ahead.rejects
            laps("read")
        else:
            read = source.read_batch(self.cursor, size)
            if not read.records:
                return None
            laps("read")
            posts, rejects = self.validator.split(read.records)
            if self.cursor is None and self.validator.guard_first_batch:
                check_first_batch(source.name, len(read.records), rejects)
                check_mapped_fields(source.name, read.records, self.validator.column_map)
                check_repeated_ids(source.name, posts, self.validator.column_map)
            laps("validate")
        pool = rt.pool
        if pool is None:
            analysis = analyse(rt.scorer, rt.language, rt.matcher, *_inputs(posts), laps)
            return read, posts, rejects, analysis
        pending = (
            pool.resume(ahead.pending, FRESH_LOCAL_SHARE)
            if ahead is not None
            else pool.start(*_inputs(posts), FRESH_LOCAL_SHARE)
        )
        # The next batch is queued for the workers now, before this one's local part: they go
        # straight from this batch's parts to the next one's instead of waiting for this
        # process to finish, collect and read on.
        _read_ahead(rt, pool, source, self.validator, read.cursor_to, size)
        laps("read_ahead")
        analysis = pool.finish(pending, rt.scorer, rt.language, rt.matcher)
        # The read-ahead batch, if it came while the workers loaded, goes to them now that
        # they may be ready: they analyse it while this process commits.
        rt.readahead.update(source.name, lambda ahead: pool.resume(ahead, None))
        laps("analyse")
        return read, posts, rejects, analysis

    def _commit(
        self,
        read: SourceBatch,
        posts: list[Post],
        rejects: list[Reject],
        analysis: Analysis,
        laps: Laps,
    ) -> repository.BatchCounts:
        """One transaction: renew the lease, write the batch, advance the cursor; then
        acknowledge the read (only now: a Redis stream must not forget entries whose rows are
        not yet durable)."""
        batch = Batch(
            source=self.reader.name,
            cursor_from=self.cursor,
            cursor_to=read.cursor_to,
            scored=analysis.scored(posts),
            rejects=rejects,
            post_locators=_post_locators(read, rejects),
            timings=laps.timings,
            signals=analysis.signals,
        )
        with self.rt.engine.begin() as conn:
            if self.lease is not None:
                renew_lease(conn, self.lease, datetime.now(UTC), LEASE_TTL)
            counts = repository.commit_batch(conn, batch, flow_run_id=self.flow_run_id)
        self.reader.acknowledge(read)
        laps("commit")
        return counts


def _post_locators(read: SourceBatch, rejects: list[Reject]) -> list[str]:
    """Where the records that validated were read: all the batch's, less its rejects'."""
    refused = {r.locator for r in rejects}
    return [r.locator for r in read.records if r.locator not in refused]


def process_batch(
    rt: Runtime,
    source: Source,
    validator: Validator,
    batch_size: int,
    flow_run_id: str | None = None,
    lease: Lease | None = None,
) -> BatchReport | None:
    """Process the next batch of ``source``; None when nothing new is there (one step of a
    BatchLoop, for callers that step a reader themselves)."""
    return BatchLoop(rt, source, validator, batch_size, lease, flow_run_id).next_batch()


def reason_kind(reason: str) -> str:
    """A reject reason without its details: "unparsable created_at: '3' is a bare number" ->
    "unparsable created_at", "text over the size limit (25000 > 20000 chars)" -> "text over
    the size limit"."""
    return reason.split(": ", 1)[0].split(" (", 1)[0].strip() or reason


def _inputs(posts: list[Post]) -> tuple[list[str], list[tuple[str, ...]]]:
    return [p.text for p in posts], [p.brand_hints for p in posts]


# The share of a batch left to this process when its parts start together (nothing is being
# committed meanwhile): half each.
FRESH_LOCAL_SHARE = 0.5
# A read-ahead batch is started with ``local_share=None``: this process first commits the
# batch before it, and keeps the pool's measured share (flows/runtime/analysis.py).


def _read_ahead(
    rt: Runtime,
    pool: AnalysisPool,
    source: Source,
    validator: Validator,
    cursor: str | None,
    batch_size: int,
) -> None:
    """Read the batch after ``cursor`` and start its analysis in the workers, so that they
    work while this process commits; the next batch takes it if the committed cursor is then
    still ``cursor``. Only for sources whose reads depend on the cursor alone (files, SQL): a
    Redis consumer group hands out entries by reading them."""
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
    pending = pool.start(*_inputs(posts), None)
    rt.readahead.put(Ahead(source.name, cursor, batch_size, read, posts, rejects, pending))
