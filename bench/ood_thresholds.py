"""Measure the out-of-domain signals of a model version, to choose (or re-derive) the thresholds
of pipeline/model/domain_shift.py.

    .venv/bin/python bench/ood_thresholds.py models/default [--uci sentimon-data/uci] [--json]

Texts are scored in batches of ``--batch-size`` (1,000), as a pipeline batch would be, and each
batch's unknown token share and mean top probability is reported (min / median / max over
batches, and the figure over all texts of the set). Sets:

- ``corpus test``: the in-corpus test split (`pipeline.training.corpus.load_splits`, seed 13);
- ``airline`` / ``non-airline``: the validation and test splits (texts the weights never saw)
  cut by topic, the held-out-topic division of `pipeline.training.experiment`;
- ``uci amazon`` / ``imdb`` / ``yelp``: the UCI "Sentiment Labelled Sentences"
  (`pipeline.training.devsets.load_uci`;
   `make uci` fetches them; never commit them), when the ``--uci``
  folder holds them.

The thresholds should sit beyond every in-corpus batch and be crossed by the foreign domains.
The suggestion printed last puts them a margin beyond the worst in-corpus batch (unknown
share x 1.2, top probability - 0.02, rounded outwards to 0.005), at ``--batch-size`` and at
500 (a source's default batch size: smaller batches spread wider), and counts the batches of
each set it would warn about; the thresholds in force are pipeline/model/domain_shift.py's constants
(SENTIMON_MAX_UNKNOWN_TOKEN_SHARE and SENTIMON_MIN_MEAN_TOP_PROBABILITY override them).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.errors import DevsetError
from pipeline.model.artifacts import load_scorer
from pipeline.model.domain_shift import DomainSignals, ShiftThresholds, is_unfamiliar
from pipeline.model.predict import Scorer
from pipeline.training.corpus import load_splits
from pipeline.training.devsets import load_uci

IN_CORPUS = ("corpus test", "airline", "non-airline")
SOURCE_BATCH_SIZE = 500  # flows.runtime.config.SourceConfig's default batch_size


def text_sets(uci: Path | None) -> dict[str, list[str]]:
    """Name -> texts of each set that exists."""
    splits, _ = load_splits(None, None, None, None, 13)
    unseen = pd.concat([splits["validation"], splits["test"]], ignore_index=True)
    sets = {
        "corpus test": splits["test"]["text"].tolist(),
        "airline": unseen.loc[unseen["topic"] == "airline", "text"].tolist(),
        "non-airline": unseen.loc[unseen["topic"] != "airline", "text"].tolist(),
    }
    try:
        found = load_uci(uci) if uci else {}
    except DevsetError as err:  # the corpus sets alone still say where the corpus lies
        print(f"no UCI sets: {err}", file=sys.stderr)
        found = {}
    sets.update({f"uci {name}": texts.texts for name, texts in found.items()})
    return sets


def batch_signals(scorer: Scorer, texts: list[str], batch_size: int) -> list[DomainSignals]:
    """The signals of each batch of ``texts``, in order."""
    out = []
    for start in range(0, len(texts), batch_size):
        tokens = scorer.tokenize(texts[start : start + batch_size])
        out.append(scorer.score_with_signals(tokens)[1])
    return out


def suggest(measured: dict[str, list[DomainSignals]]) -> ShiftThresholds:
    """Thresholds a margin beyond the worst in-corpus batch (see the module docstring)."""
    corpus = [
        b for name, batches in measured.items() if name.startswith(IN_CORPUS) for b in batches
    ]
    worst_unknown = max(b.unknown_token_share or 0.0 for b in corpus)
    worst_top = min(b.mean_top_probability or 1.0 for b in corpus)
    return ShiftThresholds(
        # round(..., 6) first: 0.665 / 0.005 is 132.99999... in floating point.
        max_unknown_token_share=math.ceil(round(worst_unknown * 1.2 / 0.005, 6)) * 0.005,
        min_mean_top_probability=math.floor(round((worst_top - 0.02) / 0.005, 6)) * 0.005,
    )


def summarise(batches: list[DomainSignals], thresholds: ShiftThresholds) -> dict[str, Any]:
    total = sum(batches, DomainSignals())
    unknown = [b.unknown_token_share or 0.0 for b in batches]
    top = [b.mean_top_probability or 0.0 for b in batches]
    return {
        "texts": total.n_scored,
        "batches": len(batches),
        "unknown_token_share": _spread(unknown, total.unknown_token_share),
        "mean_top_probability": _spread(top, total.mean_top_probability),
        "batches_warned": sum(is_unfamiliar(b, thresholds) for b in batches),
    }


def _spread(values: list[float], overall: float | None) -> dict[str, float | None]:
    return {
        "min": round(min(values), 4),
        "median": round(statistics.median(values), 4),
        "max": round(max(values), 4),
        "all": None if overall is None else round(overall, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--uci", type=Path, default=Path("sentimon-data/uci"))
    parser.add_argument("--batch-size", type=int, default=1_000)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()

    started = time.perf_counter()
    scorer = load_scorer(args.model_dir)
    thresholds = ShiftThresholds()
    sets = text_sets(args.uci)
    measured = {name: batch_signals(scorer, texts, args.batch_size) for name, texts in sets.items()}
    results = {name: summarise(batches, thresholds) for name, batches in measured.items()}
    small = {
        name: batch_signals(scorer, texts, SOURCE_BATCH_SIZE)
        for name, texts in sets.items()
        if name in IN_CORPUS and args.batch_size > SOURCE_BATCH_SIZE
    }
    suggested = suggest({**measured, **{f"{n} ({SOURCE_BATCH_SIZE})": b for n, b in small.items()}})
    warned = {
        name: sum(is_unfamiliar(b, suggested) for b in batches)
        for name, batches in measured.items()
    }
    if args.json:
        out = {
            "model": scorer.version,
            "batch_size": args.batch_size,
            "thresholds": {
                "max_unknown_token_share": thresholds.max_unknown_token_share,
                "min_mean_top_probability": thresholds.min_mean_top_probability,
            },
            "sets": results,
            "suggested": {
                "max_unknown_token_share": round(suggested.max_unknown_token_share, 3),
                "min_mean_top_probability": round(suggested.min_mean_top_probability, 3),
                "batches_warned": warned,
            },
        }
        print(json.dumps(out, indent=2))
        return
    print(f"model {scorer.version} ({args.model_dir}), batches of {args.batch_size:,}")
    print(
        f"current thresholds: unknown token share > {thresholds.max_unknown_token_share}, "
        f"mean top probability < {thresholds.min_mean_top_probability}\n"
    )
    header = (
        f"{'set':<14}{'texts':>7}{'batches':>8}   {'unknown token share':<29}"
        f"{'mean top probability':<29}{'warned':>7}"
    )
    print(header)
    print(f"{'':<29}   {'min / median / max (all)':<29}{'min / median / max (all)':<29}")
    for name, r in results.items():
        u, t = r["unknown_token_share"], r["mean_top_probability"]
        print(
            f"{name:<14}{r['texts']:>7,}{r['batches']:>8}   "
            f"{u['min']:.3f} / {u['median']:.3f} / {u['max']:.3f} ({u['all']:.3f})    "
            f"{t['min']:.3f} / {t['median']:.3f} / {t['max']:.3f} ({t['all']:.3f})    "
            f"{r['batches_warned']:>4}/{r['batches']}"
        )
    print(
        f"\nsuggested: unknown token share > {suggested.max_unknown_token_share:.3f}, "
        f"mean top probability < {suggested.min_mean_top_probability:.3f}; batches warned: "
        + ", ".join(f"{name} {n}/{len(measured[name])}" for name, n in warned.items())
    )
    print(f"{time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
