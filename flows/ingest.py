"""The ingest-and-score flow: micro-batches of one source until it has nothing new.

The flow takes the source's lease, runs one task per micro-batch (each task reads after the
committed cursor, scores, and commits in one transaction), then gives the lease back. A
crash anywhere leaves the database at the last committed batch; the next run resumes there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from db.leases import Lease
from flows.alerts import evaluate_alerts_task
from flows.partitions import partition_reports, plan_partitions
from flows.progress import BatchProgress
from flows.runtime.batch import BatchLoop
from flows.runtime.config import load_config
from flows.runtime.leasing import SourceBusyError, give_back, take_source
from flows.runtime.process import Runtime, get_runtime
from flows.runtime.retry import TRANSIENT_RETRIES
from flows.runtime.settings import Settings
from flows.runtime.sources import ResolvedSource, open_source, resolve_source, with_run_options
from flows.runtime.totals import BatchReport, RunTotals
from pipeline.model.domain_shift import shift_warning, signals_markdown
from pipeline.report.markdown import md_code, md_text
from pipeline.sources import Source
from pipeline.sources.files import refused_entries
from pipeline.sources.validate import Validator


def _resolve(
    settings: Settings,
    source: str | None,
    input_path: str | None,
    settle_seconds: float | None = None,
    encoding: str | None = None,
    reread_changed: bool = False,
) -> ResolvedSource:
    """The run's source, resolved once per run from the settings the runtime holds; the run's
    options override sentimon.toml's."""
    resolved = resolve_source(load_config(settings.config), source, input_path)
    return with_run_options(resolved, settle_seconds, encoding, reread_changed)


@task(
    name="score-next-batch",
    cache_policy=NO_CACHE,
    **TRANSIENT_RETRIES,
)
def score_next_batch(loop: BatchLoop) -> BatchReport | None:
    """Read, score and commit the next batch of the run's loop. A retry re-reads from the
    committed cursor.

    ``loop`` is the run's (its runtime, reader, validator and lease, built once by the flow).
    The flow calls this task and never submits it, so it runs in the flow's process and
    thread whatever the task runner; with NO_CACHE Prefect neither hashes the loop nor
    persists the frozen report, which it hands back as it is.
    """
    return loop.next_batch()


@flow(name="ingest-and-score")
def ingest_and_score(
    input_path: str | None = None,
    source: str | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
    column_map: dict[str, str] | None = None,
    show_progress: bool = False,
    partition_files: bool = False,
    settle_seconds: float | None = None,
    encoding: str | None = None,
    reread_changed: bool = False,
    accept_rejects: bool = False,
) -> dict[str, Any]:
    """Process what the source holds now, then return a summary.

    ``source`` names a [sources.NAME] table of sentimon.toml; ``input_path`` is an ad hoc file,
    folder or URL (``source`` then names it). ``show_progress`` draws a progress bar on the
    terminal (the CLI sets it; a deployment has no terminal). ``partition_files`` reads a
    landing folder read for the first time per file, one task per file (flows/partitions.py).
    ``settle_seconds`` overrides how long a landing folder's newest file must be left alone
    before it is read (0: read now). ``encoding`` decodes CSV and JSONL files (default UTF-8);
    ``reread_changed`` reads a single file rewritten since it was read again from its start;
    ``accept_rejects`` stores a new source's first batch even when most of it is rejected.
    After the batches, the alert rules run once.
    """
    rt = get_runtime()
    resolved = _resolve(rt.settings, source, input_path, settle_seconds, encoding, reread_changed)
    totals = RunTotals(resolved.name)
    try:
        lease = take_source(rt.engine, resolved.name)
    except SourceBusyError as err:
        get_run_logger().warning("%s", err)
        totals.skipped = str(err)
        return totals.as_dict()
    # Called from a sync flow, Prefect's sync/async wrapper returns the id, not a coroutine.
    progress = cast(
        UUID, create_progress_artifact(progress=0.0, description=f"source {resolved.name}")
    )
    refused = _warn_refused(resolved, totals)
    size = batch_size or resolved.config.batch_size
    mapping = column_map or resolved.config.column_map
    run = _Run(rt, resolved, lease, size, max_batches, mapping, not accept_rejects)
    try:
        _score(run, totals, partition_files, show_progress, progress)
    finally:
        give_back(rt.engine, lease)
    if progress is not None:
        BatchProgress.finish(progress)
    _finish(rt, totals, refused)
    return totals.as_dict()


@dataclass(frozen=True)
class _Run:
    """What every batch of the run shares, resolved once by the flow."""

    rt: Runtime
    resolved: ResolvedSource
    lease: Lease
    batch_size: int
    max_batches: int | None
    column_map: dict[str, str] | None
    guard_first_batch: bool  # refuse a new source's first batch when mostly rejected


def _score(
    run: _Run,
    totals: RunTotals,
    partition_files: bool,
    show_progress: bool,
    progress: UUID | None,
) -> None:
    """Run the batches, per file or as one sequence, and add each report to ``totals``."""
    logger = get_run_logger()
    name = run.resolved.name
    parts = plan_partitions(run.rt.engine, run.resolved, partition_files)
    if parts is not None:
        totals.files = len(parts)
    elif partition_files:
        logger.warning("source %s is read as one sequence: its batches run one at a time", name)
    reader = None
    with ExitStack() as stack:
        if parts is None:
            reader = stack.enter_context(closing(open_source(run.resolved)))
            reports = _sequence(run, reader)
        else:
            reports = partition_reports(
                parts, run.batch_size, run.column_map, run.lease, run.max_batches, progress
            )
        bar = stack.enter_context(BatchProgress(name, run.max_batches, enabled=show_progress))
        for report in reports:
            totals.add(report)
            bar.advance(report)
            if progress is not None and parts is None:
                bar.publish(progress)
            logger.info(
                "source %s batch %d: %d read, %d posts (%d new), %d rejects, cursor %s",
                *(name, totals.batches, report.n_read, report.n_posts),
                *(report.n_new_posts, report.n_rejects, report.cursor_to),
            )
    # Files that landed late, were rewritten or hold binary data: said, not hidden.
    totals.notices = (list(reader.notices) or None) if reader is not None else None


def _sequence(run: _Run, reader: Source) -> Iterator[BatchReport]:
    """A source read as one sequence: one task per batch, each after the last one's commit,
    all with the run's one reader."""
    run_id = str(flow_run.id) if flow_run.id else None
    validator = Validator(
        run.resolved.name, run.column_map, guard_first_batch=run.guard_first_batch
    )
    loop = BatchLoop(run.rt, reader, validator, run.batch_size, run.lease, run_id)
    return loop.batches(run.max_batches, step=lambda: score_next_batch(loop))


def _finish(rt: Runtime, totals: RunTotals, refused: dict[str, str]) -> None:
    """After the batches: the alert rules, the out-of-domain check, the summary artifact."""
    totals.alerts = evaluate_alerts_task(settings=rt.settings) if totals.new_posts else 0
    totals.team_lexicon = rt.scorer.team_lexicon
    # Out-of-domain signals (pipeline/model/domain_shift.py): a warning when the text is unfamiliar.
    thresholds = rt.settings.shift_thresholds
    signals = totals.signals
    totals.warning = shift_warning(totals.source, signals, thresholds, rt.model_version) or None
    if totals.warning:
        get_run_logger().warning("%s", totals.warning)
    summary = _summary(totals, rt.model_version, refused, totals.notices) + signals_markdown(
        signals, thresholds, totals.warning
    )
    create_markdown_artifact(key="ingest-summary", markdown=summary)


def _warn_refused(resolved: ResolvedSource, totals: RunTotals) -> dict[str, str]:
    """Symlinks out of a landing folder, FIFOs, folders...: never read, said once per run."""
    refused = _refused(resolved)
    for entry, why in sorted(refused.items()):
        get_run_logger().warning("source %s: %r not read: it is %s", resolved.name, entry, why)
    if refused:
        totals.refused_entries = len(refused)
    return refused


def _summary(
    totals: RunTotals,
    model_version: str,
    refused: dict[str, str],
    notices: list[str] | None = None,
) -> str:
    """The run's Markdown artifact. Names come from the input (file names, ids): every one is
    escaped, so none can close its code span and inject HTML or links."""
    rate = totals.read / totals.seconds if totals.seconds else 0.0
    team = totals.team_lexicon
    text = (
        f"### Source {md_code(totals.source)}\n\n"
        "| batches | read | posts | new posts | rejects | posts/s |\n"
        "|---|---|---|---|---|---|\n"
        f"| {totals.batches} | {totals.read} | {totals.posts} | {totals.new_posts} "
        f"| {totals.rejects} | {rate:,.0f} |\n\n"
        f"Model version: {md_code(model_version)}"
        + (
            f"; team lexicon {md_code(str(team['path']))} (sha256 {team['sha256'][:12]}, "
            f"{team['terms']} terms)"
            if team
            else ""
        )
    )
    if reasons := totals.reject_reasons:
        lines = [f"- {md_text(reason)}: {n}" for reason, n in reasons.items()]
        text += "\n\nRejects by reason:\n\n" + "\n".join(lines)
    if refused:
        lines = [f"- {md_code(name)}: {md_text(why)}" for name, why in sorted(refused.items())]
        text += "\n\nNot read from the landing folder:\n\n" + "\n".join(lines)
    if notices:
        text += "\n\nFiles:\n\n" + "\n".join(f"- {md_text(note)}" for note in notices)
    return text


def _refused(resolved: ResolvedSource) -> dict[str, str]:
    """Landing-folder entries the reader will not open (pipeline/sources/landing.py)."""
    if resolved.config.kind != "files" or resolved.path is None or not resolved.path.is_dir():
        return {}
    return refused_entries(resolved.path)
