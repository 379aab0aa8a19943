"""`sentimon label export`: stored posts the active model is least sure of, as a CSV to label."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from db import repository
from db.engine import make_engine
from db.labelling import known_brands, known_sources, uncertain_posts
from db.migrate import current_revision
from flows.runtime.settings import Settings
from pipeline.errors import LabellingError, LabellingSelectionError
from pipeline.training.labelling import select_for_labelling, write_label_csv


@dataclass(frozen=True)
class Export:
    path: Path
    rows: int
    model_version: str


def export_for_labelling(
    settings: Settings,
    n: int,
    source: str | None = None,
    brand: str | None = None,
    out: Path | None = None,
) -> Export:
    """Write up to ``n`` posts to label into ``out`` (default: under the data directory)."""
    if out is not None and out.exists():
        # It may be a file someone has spent hours labelling: never written over.
        raise LabellingSelectionError(
            f"--out {out} exists already (it may hold labels): give a new file name, or move "
            "that file away first"
        )
    url = settings.db_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise LabellingError("no posts stored yet: ingest some with `sentimon run` first")
    engine = make_engine(url)
    try:
        if current_revision(engine) is None:
            raise LabellingError("no posts stored yet: ingest some with `sentimon run` first")
        with engine.connect() as conn:
            active = repository.active_model_version(conn)
            sources = known_sources(conn)
            if active is None or not sources:
                raise LabellingError("no posts stored yet: ingest some with `sentimon run` first")
            if source is not None and source not in sources:
                raise LabellingSelectionError(
                    f"no posts from source {source!r}: the sources stored are {', '.join(sources)}"
                )
            if brand is not None:
                brands = known_brands(conn)
                if brand not in brands:
                    raise LabellingSelectionError(
                        f"no posts mention brand {brand!r}: the brands stored are "
                        f"{', '.join(brands) or 'none'} (names as in the brands file)"
                    )
            candidates = uncertain_posts(conn, active.version, 2 * n, source, brand)
    finally:
        engine.dispose()
    chosen = select_for_labelling(candidates, n)
    if not chosen:
        raise LabellingError(
            f"no stored post of this selection is scored by the active model {active.version}: "
            "score them with `sentimon backfill`"
        )
    if out is None:
        out = settings.data_dir / "labels" / f"to-label-{datetime.now(UTC):%Y%m%d-%H%M%S}.csv"
    write_label_csv(out, chosen)
    return Export(out, len(chosen), active.version)
