"""The garbage collector's share of the analysis, with and without ``gc.freeze()``.

    .venv/bin/python bench/gc_freeze.py [MODEL_DIR] [--posts 25000]

Loads the model, tokenizer, language identifier and brand matcher as a pipeline process does,
warms them on 5,000 corpus posts, then analyses ``--posts`` more in batches of 5,000
(`pipeline.analysis.analyse`), timing every collection with ``gc.callbacks``. Run once as is and
once with ``--freeze`` (what `flows.runtime.workers.freeze_loaded_objects` does after loading):
the full (generation 2) passes are the ones that walk torch's and spaCy's objects.
Not part of the test suite (docs/performance.md).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.analysis import analyse  # noqa: E402
from pipeline.model.artifacts import load_scorer  # noqa: E402
from pipeline.text.brand_file import load_brands  # noqa: E402
from pipeline.text.brands import BrandMatcher  # noqa: E402
from pipeline.text.language import LanguageIdentifier  # noqa: E402
from pipeline.training.corpus import load_corpus  # noqa: E402

BATCH = 5_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, nargs="?", default=ROOT / "models" / "default")
    parser.add_argument("--posts", type=int, default=25_000)
    parser.add_argument("--brands", type=Path, default=ROOT / "configs" / "brands.toml")
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after loading")
    args = parser.parse_args()

    corpus = load_corpus()["text"].tolist()
    rng = random.Random(1)
    texts = [rng.choice(corpus) for _ in range(BATCH + args.posts)]
    hints: list[tuple[str, ...]] = [()] * len(texts)
    scorer = load_scorer(args.model_dir)
    runtime = (scorer, LanguageIdentifier(), BrandMatcher(scorer.nlp, load_brands(args.brands)))
    analyse(*runtime, texts[:BATCH], hints[:BATCH])  # loads the language models too
    if args.freeze:
        gc.freeze()

    seconds = [0.0, 0.0, 0.0]
    passes = [0, 0, 0]
    started = [0.0]

    def timer(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            seconds[info["generation"]] += time.perf_counter() - started[0]
            passes[info["generation"]] += 1

    gc.callbacks.append(timer)
    kept = []  # the results stay alive, as a batch's do until its commit
    wall = time.perf_counter()
    for start in range(BATCH, len(texts), BATCH):
        kept.append(analyse(*runtime, texts[start : start + BATCH], hints[start : start + BATCH]))
    wall = time.perf_counter() - wall
    gc.callbacks.remove(timer)
    print(
        f"{'frozen' if args.freeze else 'not frozen'}: {args.posts:,} posts in {wall:.2f} s "
        f"({args.posts / wall:,.0f} docs/s); GC {sum(seconds):.2f} s, of it full passes "
        f"{seconds[2]:.2f} s ({passes[2]} passes); {len(gc.get_objects()):,} objects tracked"
    )


if __name__ == "__main__":
    main()
