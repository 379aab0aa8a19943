"""`sentimon demo`: the corpus's test split replayed as a stream, scored by the ingest flow."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from flows.ingest import ingest_and_score
from flows.runtime.settings import DEMO_SOURCE, Settings, demo_landing
from pipeline.sources.demo import write_demo_stream
from pipeline.training.corpus import dedupe, load_corpus, split_corpus


def run_demo(
    settings: Settings, batch_size: int, days: int, limit: int | None, console: Console
) -> Path:
    """Write the landing folder (once) and run the ingest-and-score flow over it."""
    landing = demo_landing(settings.data_dir)
    test = split_corpus(dedupe(load_corpus()))["test"]
    texts = test["text"].tolist()[:limit] if limit else test["text"].tolist()
    # The stream ends at the current hour; files already written are kept, so a second demo
    # adds nothing and the report stays the same.
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    files = write_demo_stream(texts, landing, end=end, days=days)
    console.print(f"replaying {len(texts):,} test-split posts from {len(files)} daily files")
    result = ingest_and_score(
        str(landing),
        DEMO_SOURCE,
        batch_size,
        # The demo wrote these files itself, completely: no need to wait for them to settle.
        settle_seconds=0,
    )
    console.print(
        f"ingested {result['read']:,} records in {result['batches']} batches: "
        f"{result['new_posts']:,} new posts, {result['rejects']} rejects"
    )
    return landing
