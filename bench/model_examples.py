"""Probe texts a brand team meets on day one, scored by model versions side by side with VADER.

    .venv/bin/python bench/model_examples.py models/default [OTHER_MODEL_DIR ...]

The texts are the kinds of post the model card lists as strengths and known failure modes:
review phrasing, emoji-only posts, negation, sarcasm. They are probes written for this script,
not a test set: no figure here is a measure of accuracy.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.model.artifacts import load_scorer
from pipeline.training.baselines import vader_scores

PROBES: tuple[tuple[str, str], ...] = (
    ("review", "Five stars, would buy again!"),
    ("review", "Works as expected."),
    ("review", "The headphones stopped charging after a week, asking for a refund."),
    ("review", "Battery life is superb and the fit is comfortable."),
    ("negation", "I can't say I'm happy with the fit"),
    ("negation", "Not bad at all for the price."),
    ("emoji", "👎👎👎"),
    ("emoji", "👎"),
    ("emoji", "💩💩💩"),
    ("emoji", "👍👍👍"),
    ("emoji", "😍😍"),
    ("emoji", "😡😡😡😡😡😡😡😡"),
    ("sarcasm", "Oh great, another update that bricked my phone. Love it."),
    ("sarcasm", "Thanks for losing my bag again, really appreciate it."),
    ("sarcasm", "Wow, only three hours on hold. Amazing service."),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    args = parser.parse_args()
    texts = [text for _, text in PROBES]
    columns = [("VADER", [f"{s:+.2f}" for s in vader_scores(texts)])]
    for model_dir in args.models:
        scorer = load_scorer(model_dir)
        cells = [
            f"{p.label[:3]} {p.p_positive - p.p_negative:+.2f}" for p in scorer.score_texts(texts)
        ]
        columns.append((scorer.version, cells))
    print("| kind | text | " + " | ".join(name for name, _ in columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for i, (kind, text) in enumerate(PROBES):
        print(f"| {kind} | {text} | " + " | ".join(cells[i] for _, cells in columns) + " |")


if __name__ == "__main__":
    main()
