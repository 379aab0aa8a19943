"""A landing folder read per file, so that its files can be scored on several Dask workers at once.

Design (docs/operations.md, "Scaling out"):

- A files source ``NAME`` that is a folder is read either as one sequence (the default: one
  cursor ``NAME`` = file + offset, files strictly in name order) or per file: each file ``F`` is
  a partition with its own cursor ``NAME/F`` (``source_cursors`` and ``batches`` carry that key).
  Posts and rejects keep ``source = NAME`` and the same external ids and locators, so the
  results are those of a sequential read.
- The mode sticks to the source: once it has per-file cursors it is always read per file (with
  any task runner), and a source with a sequential cursor is always read in sequence. So no
  record can be read under both. A source read for the first time is read per file when the run
  asks for it (``sentimon run --task-runner dask``).
- One task per partition reads its micro-batches in order (batch k+1 starts at batch k's
  committed cursor) and commits each like a sequential batch. Partitions run in parallel on
  Dask workers; with the default thread runner they run one after another in this process.
- The run's lease on ``NAME`` covers every partition: each commit renews it (a fencing check),
  so two runs of one source never overlap, wherever their tasks run.
- A partition that reached the end of its file stores the file's size in its cursor; later runs
  skip it until the size changes, so a folder of thousands of read files costs no tasks.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.exceptions import MissingContextError
from prefect.futures import as_completed
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from sqlalchemy import Engine

from db import repository
from db.leases import Lease, renew_lease
from db.partitions import partition_cursors, partition_key, set_cursor
from flows.runtime.batch import BatchLoop
from flows.runtime.leasing import LEASE_TTL
from flows.runtime.process import get_runtime
from flows.runtime.retry import TRANSIENT_RETRIES
from flows.runtime.sources import ResolvedSource
from flows.runtime.totals import BatchReport
from pipeline.errors import PartitionsFailedError
from pipeline.sources import SETTLE_SECONDS, FileSource
from pipeline.sources.validate import Validator


@dataclass(frozen=True)
class Partition:
    """One file of a landing folder: small and picklable, so it can travel to a Dask worker."""

    source: str  # the posts' source name
    key: str  # the cursor key, SOURCE/FILE
    path: str  # the file, as the workers see it (a shared filesystem)
    encoding: str | None = None  # of a CSV or JSONL file (None: UTF-8)


def plan_partitions(
    engine: Engine, resolved: ResolvedSource, requested: bool
) -> list[Partition] | None:
    """The files of ``resolved`` still to read per file, or None to read it as one sequence."""
    folder = resolved.path
    if resolved.config.kind != "files" or folder is None or not folder.is_dir():
        return None
    with engine.connect() as conn:
        cursors = partition_cursors(conn, resolved.name)
        sequential = repository.get_cursor(conn, resolved.name) is not None
    if sequential or not (cursors or requested):
        return None
    settle = resolved.config.settle_seconds
    settle = SETTLE_SECONDS if settle is None else settle
    parts = []
    for file in FileSource(folder, resolved.name).files():
        try:
            stat = file.stat()
        except FileNotFoundError:  # moved away since the listing (archived, say)
            continue
        # The same rule as FileSource: a file modified within the settle time may still be
        # written. Unlike a sequential read, later files need not wait for it.
        if settle > 0 and time.time() - stat.st_mtime < settle:
            continue
        if _fully_read(cursors.get(file.name), stat.st_size):
            continue
        key = partition_key(resolved.name, file.name)
        parts.append(Partition(resolved.name, key, str(file.resolve()), resolved.config.encoding))
    return parts


def _fully_read(position: str | None, size: int) -> bool:
    if position is None:
        return False
    try:
        return bool(json.loads(position).get("size") == size)
    except (ValueError, AttributeError):
        return False


# One partition at a time per process: the runtime's spaCy pipeline and model are shared by
# the process's threads, and a Dask worker started with --nthreads > 1 must not race on them.
_PROCESS_LOCK = threading.Lock()


@task(
    name="score-partition",
    cache_policy=NO_CACHE,
    **TRANSIENT_RETRIES,
)
def score_partition(
    part: Partition,
    batch_size: int,
    column_map: dict[str, str] | None,
    lease: Lease,
    max_batches: int | None = None,
) -> list[BatchReport]:
    """Read, score and commit the micro-batches of one file; returns their reports."""
    # No module globals here: Dask pickles this function's body by value, and a lock in it
    # would not pickle. read_partition is pickled by reference.
    return read_partition(part, batch_size, column_map, lease, max_batches)


def read_partition(
    part: Partition,
    batch_size: int,
    column_map: dict[str, str] | None,
    lease: Lease | None,
    max_batches: int | None = None,
) -> list[BatchReport]:
    """The task's work as a plain function (each process builds its runtime once)."""
    with _PROCESS_LOCK:
        return _read_partition(part, batch_size, column_map, lease, max_batches)


def _read_partition(
    part: Partition,
    batch_size: int,
    column_map: dict[str, str] | None,
    lease: Lease | None,
    max_batches: int | None,
) -> list[BatchReport]:
    rt = get_runtime()
    path = Path(part.path)
    run_id = str(flow_run.id) if flow_run.id else None
    reports: list[BatchReport] = []
    # A file of a landing folder rewritten since it was read is read again, as in a sequential
    # read of the folder (pipeline/sources/files.py).
    reader = FileSource(
        path, part.key, settle_seconds=0, encoding=part.encoding, reread_changed=True
    )
    with closing(reader):
        loop = BatchLoop(rt, reader, Validator(part.source, column_map), batch_size, lease, run_id)
        try:
            for report in loop.batches(max_batches):
                reports.append(report)
        except Exception:
            _logger().error(
                "source %s, file %s: batch %d failed; batches before it are committed and "
                "a rerun resumes after them",
                part.source,
                path.name,
                len(reports) + 1,
            )
            raise
        if loop.exhausted:
            _mark_fully_read(rt.engine, part, path.stat().st_size, lease, loop.cursor)
    return reports


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:  # called as a plain function, outside a run
        return logging.getLogger(__name__)


def _mark_fully_read(
    engine: Engine, part: Partition, size: int, lease: Lease | None, position: str | None
) -> None:
    """Store the file's size in its cursor ``position`` (the one its last batch found nothing
    after, read by that batch): later runs skip the file until its size changes."""
    with engine.begin() as conn:
        if lease is not None:
            renew_lease(conn, lease, datetime.now(UTC), LEASE_TTL)
        data = json.loads(position) if position else {"file": Path(part.path).name, "offset": 0}
        set_cursor(conn, part.key, json.dumps({**data, "size": size}))


def partition_reports(
    parts: list[Partition],
    batch_size: int,
    column_map: dict[str, str] | None,
    lease: Lease,
    max_batches: int | None,
    progress_id: UUID | None,
) -> Iterator[BatchReport]:
    """Score ``parts`` with the flow's task runner; yield each batch report as its file finishes.

    Dask and other parallel runners get one task per file, all submitted at once. The default
    thread runner reads the files one after another, in this process. A failed file does not
    stop the others: they finish, then PartitionsFailedError names what failed.
    """
    ctx = FlowRunContext.get()
    parallel = ctx is not None and not isinstance(ctx.task_runner, ThreadPoolTaskRunner)
    done = 0
    if not parallel:
        for part in parts:
            yield from score_partition(part, batch_size, column_map, lease, max_batches)
            done += 1
            _progress(progress_id, done, len(parts))
        return
    futures = {
        score_partition.submit(part, batch_size, column_map, lease, max_batches): part
        for part in parts
    }
    failures: list[tuple[Partition, BaseException]] = []
    for future in as_completed(list(futures)):
        try:
            reports = future.result()
        except Exception as err:  # each failure is reported once all files are done
            failures.append((futures[future], err))
            continue
        yield from reports
        done += 1
        _progress(progress_id, done, len(parts))
    if failures:
        first, cause = failures[0]
        names = ", ".join(Path(p.path).name for p, _ in failures)
        raise PartitionsFailedError(
            f"source {first.source}: {len(failures)} of {len(parts)} files failed ({names}); "
            f"the first: {cause}. The other files are committed; run again to resume."
        ) from cause


def _progress(progress_id: UUID | None, done: int, total: int) -> None:
    if progress_id is not None and total:
        update_progress_artifact(progress_id, 100.0 * done / total)
