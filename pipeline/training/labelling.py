"""Choosing stored posts for a person to label (`sentimon label export`), and the CSV they fill.

The posts worth a person's time are those the model is least sure of (lowest top probability;
ties by entropy), spread over sources and brands so that one busy brand does not take every
row, each text once: a retweet or a copy teaches nothing its original does not.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from pipeline.records import Candidate
from pipeline.training.corpus import dedup_key

COLUMNS = (
    "post_id",
    "source",
    "brands",
    "text",
    "model_label",
    "p_negative",
    "p_neutral",
    "p_positive",
    "label",
)


def merge_mentions(candidates: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per post, with the brands of all its rows (in first-seen order)."""
    merged: dict[int, Candidate] = {}
    for c in candidates:
        seen = merged.get(c.post_id)
        if seen is None:
            merged[c.post_id] = c
        else:
            brands = tuple(dict.fromkeys(seen.brands + c.brands))
            merged[c.post_id] = replace(seen, brands=brands)
    return list(merged.values())


def select_for_labelling(candidates: Sequence[Candidate], n: int) -> list[Candidate]:
    """Up to ``n`` posts, least sure first within each (source, brand) group, taken from the
    groups in turn (round robin, the group holding the least sure post first); a text whose
    dedup key (`pipeline.training.corpus.dedup_key`) was taken already is skipped."""
    posts = merge_mentions(candidates)
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for c in posts:
        groups.setdefault((c.source, c.brands[0] if c.brands else ""), []).append(c)
    queues = [
        sorted(group, key=lambda c: (c.confidence, -c.entropy, c.post_id))
        for _, group in sorted(groups.items())
    ]
    queues.sort(key=lambda q: (q[0].confidence, q[0].post_id))
    chosen: list[Candidate] = []
    keys: set[str] = set()
    ids: set[int] = set()
    positions = [0] * len(queues)
    while len(chosen) < n and any(pos < len(q) for pos, q in zip(positions, queues, strict=True)):
        for i, queue in enumerate(queues):
            while positions[i] < len(queue):
                c = queue[positions[i]]
                positions[i] += 1
                key = dedup_key(c.text)
                if key not in keys and c.post_id not in ids:
                    keys.add(key)
                    ids.add(c.post_id)
                    chosen.append(c)
                    break
            if len(chosen) >= n:
                break
    return chosen


def write_label_csv(path: Path, chosen: Sequence[Candidate]) -> None:
    """The CSV a person fills in: ``label`` empty (negative, neutral or positive to write)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for c in chosen:
            writer.writerow(
                [
                    c.post_id,
                    c.source,
                    "; ".join(c.brands),
                    c.text,
                    c.label,
                    f"{c.p_negative:.4f}",
                    f"{c.p_neutral:.4f}",
                    f"{c.p_positive:.4f}",
                    "",
                ]
            )
