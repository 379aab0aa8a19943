"""The ingest-and-score flow: micro-batches of one source until it has nothing new."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.batch import process_batch
from flows.runtime import get_runtime
from pipeline.sources import FileSource
from pipeline.validate import Validator


@task(
    name="score-next-batch",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_jitter_factor=0.5,
)
def score_next_batch(
    input_path: str, source: str, batch_size: int, column_map: dict[str, str] | None
) -> dict[str, Any] | None:
    """Read, score and commit the next batch. A retry re-reads from the committed cursor."""
    rt = get_runtime()
    report = process_batch(
        rt,
        FileSource(Path(input_path), source),
        Validator(source, column_map),
        batch_size,
        flow_run_id=str(flow_run.id) if flow_run.id else None,
    )
    return asdict(report) if report else None


@flow(name="ingest-and-score")
def ingest_and_score(
    input_path: str,
    source: str | None = None,
    batch_size: int = 500,
    max_batches: int | None = None,
    column_map: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Process what ``input_path`` holds now (a file or a landing folder), then return."""
    logger = get_run_logger()
    name = source or source_name_for(input_path)
    totals = {"batches": 0, "read": 0, "posts": 0, "new_posts": 0, "rejects": 0, "seconds": 0.0}
    while max_batches is None or totals["batches"] < max_batches:
        report = score_next_batch(input_path, name, batch_size, column_map)
        if report is None:
            break
        totals["batches"] += 1
        totals["read"] += report["n_read"]
        totals["posts"] += report["n_posts"]
        totals["new_posts"] += report["n_new_posts"]
        totals["rejects"] += report["n_rejects"]
        totals["seconds"] += sum(report["timings"].values())
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
    rate = totals["read"] / totals["seconds"] if totals["seconds"] else 0.0
    create_markdown_artifact(
        key="ingest-summary",
        markdown=(
            f"### Source `{name}`\n\n| batches | read | posts | new posts | rejects | posts/s |\n"
            f"|---|---|---|---|---|---|\n| {totals['batches']} | {totals['read']} | "
            f"{totals['posts']} | {totals['new_posts']} | {totals['rejects']} | {rate:,.0f} |\n\n"
            f"Model version: `{get_runtime().model_version}`"
        ),
    )
    return {"source": name, **totals}


def source_name_for(input_path: str) -> str:
    """An ad hoc input's source name: its file or folder name without suffixes."""
    path = Path(input_path)
    return path.name.split(".")[0] or "input"
