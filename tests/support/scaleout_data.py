"""Shared by the scale-out tests: a small landing folder, and a database's results as sets.

Results are compared by natural keys (source, external_id), never by autoincrement ids, which
differ with the order in which parallel workers commit.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

BRANDS = ["@united", "@usairways", "@americanair", "@southwestair"]
WORDS = [
    "lost my bag again, terrible service",
    "great crew and a smooth flight, thank you",
    "delayed three hours with no updates",
    "the seat was fine i guess",
    "best landing ever, love it",
]


def write_landing(folder: Path, n_files: int = 3, rows: int = 11) -> int:
    """JSONL files with posts, a reject and an in-file repeat each; returns the line count.

    Texts are unique across files: which copy of a repeated text counts as the original
    (posts.duplicate_of) depends on the order files are read in (docs/operations.md, "Scaling out").
    """
    folder.mkdir(parents=True, exist_ok=True)
    lines = 0
    for f in range(n_files):
        records: list[dict[str, Any]] = []
        for i in range(rows):
            brand = BRANDS[(f + i) % len(BRANDS)]
            records.append(
                {
                    "id": f"f{f}-{i}",
                    "text": f"{brand} {WORDS[(f * 3 + i) % len(WORDS)]} (file {f} post {i})",
                    "created_at": f"2026-05-{1 + (f + i) % 4:02d}T{8 + i % 10:02d}:15:00Z",
                    "author": f"user{i % 3}",
                }
            )
        records.append({"id": f"f{f}-bad"})  # no text: a reject
        records.append({**records[0], "id": f"f{f}-again"})  # the same text again, same file
        body = "".join(json.dumps(r) + "\n" for r in records)
        path = folder / f"part-{f:02d}.jsonl"
        path.write_text(body)
        # Older than the settle time: a landing folder holds back files still being written.
        old = time.time() - 3600
        os.utime(path, (old, old))
        lines += len(records)
    return lines


def snapshot(engine: Engine) -> dict[str, Any]:
    """What a run leaves in the results database, keyed by natural keys."""
    with engine.connect() as conn:

        def rows(sql: str) -> list[Any]:
            return list(conn.execute(text(sql)))

        posts = {
            (r.source, r.external_id): (
                r.text,
                r.created_at,
                r.author,
                r.url,
                r.lang,
                (r.dup_source, r.dup_external_id) if r.dup_source else None,
            )
            for r in rows(
                "SELECT p.source, p.external_id, p.text, p.created_at, p.author, p.url, p.lang,"
                " o.source AS dup_source, o.external_id AS dup_external_id"
                " FROM posts p LEFT JOIN posts o ON o.id = p.duplicate_of"
            )
        }
        predictions = {
            (r.source, r.external_id, r.model_version): (
                r.label,
                r.p_negative,
                r.p_neutral,
                r.p_positive,
                r.score,
            )
            for r in rows(
                "SELECT p.source, p.external_id, d.model_version, d.label, d.p_negative,"
                " d.p_neutral, d.p_positive, d.score"
                " FROM predictions d JOIN posts p ON p.id = d.post_id"
            )
        }
        mentions = {
            (r.source, r.external_id, r.brand)
            for r in rows(
                "SELECT p.source, p.external_id, b.brand FROM post_brands b"
                " JOIN posts p ON p.id = b.post_id"
            )
        }
        rejects = {
            (r.source, r.locator, r.external_id, r.reason, r.raw)
            for r in rows("SELECT source, locator, external_id, reason, raw FROM rejects")
        }
        aggregates = {
            (r.brand, r.bucket, r.bucket_start, r.source, r.model_version): (
                r.volume,
                r.n_unique,
                r.n_negative,
                r.n_neutral,
                r.n_positive,
                r.mean_score,
            )
            for r in rows(
                "SELECT brand, bucket, bucket_start, source, model_version, volume, n_unique,"
                " n_negative, n_neutral, n_positive, mean_score FROM brand_sentiment"
            )
        }
        n_read = conn.execute(text("SELECT coalesce(sum(n_read), 0) FROM batches")).scalar_one()
    return {
        "posts": posts,
        "predictions": predictions,
        "mentions": mentions,
        "rejects": rejects,
        "aggregates": aggregates,
        "n_read": n_read,
    }


# The LSTM computes in float32 and batches of other sizes round their last bits differently
# (measured: up to 1.3e-8 between batchings of the same texts), so probabilities are compared
# to 1e-6 and labels exactly.
TOLERANCE = 1e-6


def assert_same_results(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """The two snapshots hold the same posts, predictions, mentions, rejects and aggregates."""
    for table in ("posts", "mentions", "rejects"):
        assert ours[table] == theirs[table], table
    assert ours["predictions"].keys() == theirs["predictions"].keys()
    for key, (label, *values) in ours["predictions"].items():
        other_label, *other_values = theirs["predictions"][key]
        assert label == other_label, key
        assert values == pytest.approx(other_values, abs=TOLERANCE), key
    assert ours["aggregates"].keys() == theirs["aggregates"].keys()
    for key, (*counts, mean) in ours["aggregates"].items():
        *other_counts, other_mean = theirs["aggregates"][key]
        assert counts == other_counts, key
        assert mean == pytest.approx(other_mean, abs=TOLERANCE), key
