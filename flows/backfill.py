"""The backfill flow: re-score stored posts of a period with a model version.

Predictions are keyed by (post, model version), so a backfill adds the version's rows beside
the existing ones and refreshes that version's aggregates; the active model's figures are
untouched until that version is activated. Each chunk commits on its own and only unscored
posts are read, so a backfill stopped halfway resumes where it stopped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from db import repository
from db.backfill import posts_to_rescore
from flows.runtime.process import get_runtime, get_scorer
from flows.runtime.retry import TRANSIENT_RETRIES


@task(
    name="rescore-chunk",
    cache_policy=NO_CACHE,
    **TRANSIENT_RETRIES,
)
def rescore_chunk(
    model_version: str | None,
    since: datetime | None,
    until: datetime | None,
    after_id: int,
    chunk_size: int,
) -> dict[str, Any]:
    """Score the next ``chunk_size`` unscored posts after ``after_id``; one transaction."""
    rt = get_runtime()
    scorer = get_scorer(rt, model_version)
    with rt.engine.connect() as conn:
        chunk = posts_to_rescore(conn, scorer.version, since, until, after_id, chunk_size)
    if not chunk:
        return {"n": 0, "last_id": after_id, "new": 0}
    preds = scorer.score_texts([p.text for p in chunk])
    with rt.engine.begin() as conn:
        new = repository.insert_predictions(
            conn, [(p.id, pred) for p, pred in zip(chunk, preds, strict=True)], datetime.now(UTC)
        )
        repository.add_rescored(conn, scorer.version, new)
    return {"n": len(chunk), "last_id": chunk[-1].id, "new": len(new)}


@flow(name="backfill")
def backfill(
    since: datetime | None = None,
    until: datetime | None = None,
    model_version: str | None = None,
    chunk_size: int = 2000,
) -> dict[str, Any]:
    """Score the posts created in [since, until) that ``model_version`` has not scored."""
    logger = get_run_logger()
    version = get_scorer(get_runtime(), model_version).version
    totals: dict[str, Any] = {"model_version": version, "chunks": 0, "posts": 0}
    totals["new_predictions"] = 0
    after_id = 0
    while True:
        result = rescore_chunk(model_version, since, until, after_id, chunk_size)
        if result["n"] == 0:
            break
        after_id = result["last_id"]
        totals["chunks"] += 1
        totals["posts"] += result["n"]
        totals["new_predictions"] += result["new"]
        logger.info("backfill %s: %d posts scored so far", version, totals["posts"])
    return totals
