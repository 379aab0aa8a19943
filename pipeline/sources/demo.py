"""Demo data: replay a labelled corpus split as a landing folder of timestamped posts."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path


def write_demo_stream(
    texts: Sequence[str], landing: Path, end: datetime, days: int = 30, seed: int = 7
) -> list[Path]:
    """Spread ``texts`` over ``days`` days before ``end`` into one file per day.

    Files alternate JSONL and CSV so the demo exercises both readers. Ids are stable
    (``demo-00042``), so running the demo again re-reads nothing new. Existing files are kept:
    the landing folder is an append-only stream.
    """
    rng = random.Random(seed)
    landing.mkdir(parents=True, exist_ok=True)
    span = timedelta(days=days).total_seconds()
    rows = []
    for i, text in enumerate(texts):
        at = end - timedelta(seconds=rng.uniform(0, span))
        rows.append(
            {
                "id": f"demo-{i:05d}",
                "text": text,
                "created_at": at.isoformat(timespec="seconds"),
                "author": f"user{rng.randrange(1, max(2, len(texts) // 3))}",
            }
        )
    rows.sort(key=lambda r: r["created_at"])
    by_day: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_day.setdefault(row["created_at"][:10], []).append(row)
    written = []
    for n, (day, day_rows) in enumerate(sorted(by_day.items())):
        path = landing / (f"posts-{day}.csv" if n % 3 == 2 else f"posts-{day}.jsonl")
        if not path.exists():
            tmp = path.with_name(path.name + ".part")
            _write_rows(tmp, day_rows)
            tmp.replace(path)  # readers never see a half-written file
        written.append(path)
    return written


def _write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        if path.name.endswith(".csv.part"):
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        else:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
