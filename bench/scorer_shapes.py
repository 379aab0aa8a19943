"""The scorer's batch shapes: exact-length batches padded to SHAPE_BATCH_SIZES or not, and
oneDNN's primitive cache size, each in a fresh process, as one run of the pipeline meets them.

    .venv/bin/python bench/scorer_shapes.py [MODEL_DIR] [--texts 60000] [--chunk 1250]

``--chunk`` is how many texts one `Scorer.predict_proba` call gets: a worker's or the pipeline
process's part of a batch. Each configuration scores the same corpus texts (drawn with
bench/run.py's seed, tokenised first, not timed) once, chunk after chunk, in a process of its
own, since oneDNN reads its cache capacity when it makes its first primitive. Prints docs/s of
the scoring (encode, LSTM, softmax), the process's peak RSS growth while scoring, and the
largest probability difference from the unpadded batches of the first configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIGS = [  # (padded to SHAPE_BATCH_SIZES, ONEDNN_PRIMITIVE_CACHE_CAPACITY)
    (False, 32),
    (False, 256),
    (True, 32),
    (True, 256),
]


def child(model_dir: Path, n: int, chunk: int, padded: bool, out: Path) -> dict[str, float]:
    import numpy as np

    from pipeline.model import predict
    from pipeline.model.artifacts import load_scorer
    from pipeline.training.corpus import load_corpus

    if not padded:
        predict.SHAPE_BATCH_SIZES = ()  # every batch as many rows as texts of its length
    corpus = load_corpus()["text"].tolist()
    rng = random.Random(1)
    scorer = load_scorer(model_dir)
    tokens = scorer.tokenize([rng.choice(corpus) for _ in range(n)])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    probs = [scorer.predict_proba(tokens[i : i + chunk]) for i in range(0, n, chunk)]
    seconds = time.perf_counter() - started
    np.save(out, np.concatenate(probs))
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return {"docs_per_s": round(n / seconds), "rss_growth_mb": round(grown / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, nargs="?", default=ROOT / "models" / "default")
    parser.add_argument("--texts", type=int, default=60_000)
    parser.add_argument("--chunk", type=int, default=1_250)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        padded, out = args.child.split(",", 1)
        result = child(args.model_dir, args.texts, args.chunk, padded == "1", Path(out))
        print(json.dumps(result))
        return
    import numpy as np

    work = Path(tempfile.mkdtemp())
    reference = None
    print(f"{args.texts:,} corpus texts in chunks of {args.chunk:,}, one process each")
    for padded, capacity in CONFIGS:
        out = work / f"{int(padded)}-{capacity}.npy"
        env = dict(os.environ, ONEDNN_PRIMITIVE_CACHE_CAPACITY=str(capacity))
        done = subprocess.run(  # noqa: S603 (our own interpreter and script)
            [
                sys.executable,
                __file__,
                str(args.model_dir),
                f"--texts={args.texts}",
                f"--chunk={args.chunk}",
                f"--child={int(padded)},{out}",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        probs = np.load(out)
        reference = probs if reference is None else reference
        diff = float(np.abs(probs - reference).max())
        labels = int((probs.argmax(1) != reference.argmax(1)).sum())
        print(
            f"padded={padded!s:5} cache={capacity:4}: {result['docs_per_s']:>7,} docs/s, "
            f"RSS +{result['rss_growth_mb']} MB, max |dp| {diff:.1e}, labels changed {labels}"
        )


if __name__ == "__main__":
    main()
