"""The ingest-and-score flow: micro-batches of one source until it has nothing new.

The flow takes the source's lease, runs one task per micro-batch (each task reads after the
committed cursor, scores, and commits in one transaction), then gives the lease back. A
crash anywhere leaves the database at the last committed batch; the next run resumes there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import asdict
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
from flows.runtime.batch import process_batch
from flows.runtime.config import load_config
from flows.runtime.leasing import SourceBusyError, give_back, take_source
from flows.runtime.process import get_runtime
from flows.runtime.retry import TRANSIENT_RETRIES
from flows.runtime.settings import Settings
from flows.runtime.sources import (
    ResolvedSource,
    open_source,
    resolve_source,
    with_run_options,
)
from pipeline.model.domain_shift import (
    DomainSignals,
    shift_warning,
    signal_figures,
    signals_markdown,
)
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


# One reader per source and process for the whole run: a new reader would have to find its
# place again, which for .gz and Parquet means decoding the file from the start (measured:
# 1M rows of JSONL.gz 10.6 s with one reader, 52.7 s with one per batch of 5,000).
_READERS: dict[tuple[str, str], Source] = {}
_READERS_LOCK = threading.Lock()


def _reader(resolved: ResolvedSource) -> Source:
    key = (resolved.name, repr(resolved))
    with _READERS_LOCK:
        if key not in _READERS:
            _READERS[key] = open_source(resolved)
        return _READERS[key]


def _close_readers(name: str) -> None:
    with _READERS_LOCK:
        for key in [k for k in _READERS if k[0] == name]:
            _READERS.pop(key).close()


@task(
    name="score-next-batch",
    cache_policy=NO_CACHE,
    **TRANSIENT_RETRIES,
)
def score_next_batch(
    resolved: ResolvedSource,
    settings: Settings,
    batch_size: int,
    column_map: dict[str, str] | None,
    lease: Lease,
    accept_rejects: bool = False,
) -> dict[str, Any] | None:
    """Read, score and commit the next batch. A retry re-reads from the committed cursor.

    ``resolved`` and ``settings`` are the flow's, built once for the run (small picklable
    values, no connection): no batch reads the environment or sentimon.toml again. Without
    ``accept_rejects``, a first batch mostly rejected for one reason is refused
    (pipeline/sources/guard.py).
    """
    mapping = column_map or resolved.config.column_map
    report = process_batch(
        get_runtime(settings),
        _reader(resolved),
        Validator(resolved.name, mapping, guard_first_batch=not accept_rejects),
        batch_size,
        flow_run_id=str(flow_run.id) if flow_run.id else None,
        lease=lease,
    )
    return asdict(report) if report else None


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
    logger = get_run_logger()
    rt = get_runtime()
    resolved = _resolve(rt.settings, source, input_path, settle_seconds, encoding, reread_changed)
    name = resolved.name
    size = batch_size or resolved.config.batch_size
    totals: dict[str, Any] = {
        "source": name,
        "batches": 0,
        "read": 0,
        "posts": 0,
        "new_posts": 0,
        "rejects": 0,
        "reject_reasons": {},
        "seconds": 0.0,
    }
    try:
        lease = take_source(rt.engine, name)
    except SourceBusyError as err:
        logger.warning("%s", err)
        return {**totals, "skipped": str(err)}
    # Called from a sync flow, Prefect's sync/async wrapper returns the id, not a coroutine.
    progress_id = cast(UUID, create_progress_artifact(progress=0.0, description=f"source {name}"))
    signals = DomainSignals()
    # Symlinks out of a landing folder, FIFOs, folders...: never read, said once per run.
    refused = _refused(resolved)
    for entry, why in sorted(refused.items()):
        logger.warning("source %s: %r not read: it is %s", name, entry, why)
    if refused:
        totals["refused_entries"] = len(refused)
    try:
        parts = plan_partitions(rt.engine, resolved, partition_files)
        if parts is not None:
            totals["files"] = len(parts)
        elif partition_files:
            logger.warning("source %s is read as one sequence: its batches run one at a time", name)
        reports = (
            _batches(resolved, rt.settings, size, column_map, lease, max_batches, accept_rejects)
            if parts is None
            else partition_reports(
                parts,
                size,
                column_map or resolved.config.column_map,
                lease,
                max_batches,
                progress_id,
            )
        )
        with BatchProgress(name, max_batches, enabled=show_progress) as bar:
            for report in reports:
                _add(totals, report)
                signals += DomainSignals(**(report.get("signals") or {}))
                bar.advance(report)
                if progress_id is not None and parts is None:
                    bar.publish(progress_id)
                logger.info(
                    "source %s batch %d: %d read, %d posts (%d new), %d rejects, cursor %s",
                    name,
                    totals["batches"],
                    report["n_read"],
                    report["n_posts"],
                    report["n_new_posts"],
                    report["n_rejects"],
                    report["cursor_to"],
                )
    finally:
        notices = _notices(name)
        _close_readers(name)
        give_back(rt.engine, lease)
    if notices:  # files that landed late, were rewritten or hold binary data: said, not hidden
        totals["notices"] = notices
    if progress_id is not None:
        BatchProgress.finish(progress_id)
    totals["alerts"] = evaluate_alerts_task() if totals["new_posts"] else 0
    if rt.scorer.team_lexicon is not None:
        totals["team_lexicon"] = rt.scorer.team_lexicon
    # Out-of-domain signals (pipeline/model/domain_shift.py): a warning when the text is unfamiliar.
    thresholds = rt.settings.shift_thresholds
    totals |= signal_figures(signals)
    if warning := shift_warning(name, signals, thresholds, rt.model_version):
        totals["warning"] = warning
        logger.warning("%s", warning)
    summary = _summary(totals, rt.model_version, refused, notices) + signals_markdown(
        signals, thresholds, warning
    )
    create_markdown_artifact(key="ingest-summary", markdown=summary)
    return totals


def _batches(
    resolved: ResolvedSource,
    settings: Settings,
    size: int,
    column_map: dict[str, str] | None,
    lease: Lease,
    max_batches: int | None,
    accept_rejects: bool = False,
) -> Iterator[dict[str, Any]]:
    """A source read as one sequence: one task per batch, each after the last one's commit."""
    n = 0
    while max_batches is None or n < max_batches:
        report = score_next_batch(resolved, settings, size, column_map, lease, accept_rejects)
        if report is None:
            return
        n += 1
        yield report


def _add(totals: dict[str, Any], report: dict[str, Any]) -> None:
    totals["batches"] += 1
    totals["read"] += report["n_read"]
    totals["posts"] += report["n_posts"]
    totals["new_posts"] += report["n_new_posts"]
    totals["rejects"] += report["n_rejects"]
    reasons = totals.setdefault("reject_reasons", {})
    for reason, n in (report.get("reject_reasons") or {}).items():
        reasons[reason] = reasons.get(reason, 0) + n
    totals["reject_reasons"] = dict(sorted(reasons.items(), key=lambda item: -item[1]))
    totals["seconds"] += sum(report["timings"].values())


def _notices(name: str) -> list[str]:
    """What the run's readers of ``name`` found about its files (pipeline/sources/files.py)."""
    with _READERS_LOCK:
        readers = [reader for key, reader in _READERS.items() if key[0] == name]
    return [note for reader in readers for note in getattr(reader, "notices", [])]


def _summary(
    totals: dict[str, Any],
    model_version: str,
    refused: dict[str, str],
    notices: list[str] | None = None,
) -> str:
    """The run's Markdown artifact. Names come from the input (file names, ids): every one is
    escaped, so none can close its code span and inject HTML or links."""
    rate = totals["read"] / totals["seconds"] if totals["seconds"] else 0.0
    text = (
        f"### Source {md_code(totals['source'])}\n\n"
        "| batches | read | posts | new posts | rejects | posts/s |\n"
        "|---|---|---|---|---|---|\n"
        f"| {totals['batches']} | {totals['read']} | {totals['posts']} | {totals['new_posts']} "
        f"| {totals['rejects']} | {rate:,.0f} |\n\n"
        f"Model version: {md_code(model_version)}"
        + (
            f"; team lexicon {md_code(str(team['path']))} (sha256 {team['sha256'][:12]}, "
            f"{team['terms']} terms)"
            if (team := totals.get("team_lexicon"))
            else ""
        )
    )
    if reasons := totals.get("reject_reasons"):
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
