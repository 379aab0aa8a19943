"""Scoring speed of model versions: docs/s of the Scorer on the same texts, one thread.

    .venv/bin/python bench/model_speed.py models/default OTHER_MODEL_DIR [--texts 20000]

Each model tokenises the corpus's texts with its own tokenizer once (not timed), then scores
them in batches of 1,000, as a pipeline batch does; the models take turns and the best of
``--repeats`` runs of each is kept, so that another process's burst on a shared machine does
not count against one of them. Also prints each artifact's
size on disk.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from pipeline.model.artifacts import load_scorer
from pipeline.model.predict import Scorer
from pipeline.training.corpus import load_corpus


def artifact_mb(model_dir: Path) -> float:
    return sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file()) / 1e6


def seconds(scorer: Scorer, tokens: list[list[str]], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(tokens), batch):
        scorer.predict_proba(tokens[start : start + batch])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    texts = load_corpus(None)["text"].tolist()[: args.texts]
    print(f"{len(texts):,} corpus texts, batches of {args.batch:,}, best of {args.repeats}")
    scorers = [load_scorer(model_dir) for model_dir in args.models]
    tokens = [scorer.tokenize(texts) for scorer in scorers]
    best = [float("inf")] * len(scorers)
    # Models take turns, so a burst of another process's work hits all of them alike.
    for _ in range(args.repeats):
        for i, scorer in enumerate(scorers):
            best[i] = min(best[i], seconds(scorer, tokens[i], args.batch))
    for model_dir, took in zip(args.models, best, strict=True):
        rate = len(texts) / took
        print(f"{model_dir}: {rate:,.0f} docs/s, artifact {artifact_mb(model_dir):.1f} MB")


if __name__ == "__main__":
    main()
