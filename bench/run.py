"""End-to-end benchmark: sentimon's pipeline against the machine's limits and the usual tools.

    .venv/bin/python bench/run.py [--posts 200000] [--batch-size 5000] [--postgres URL]
                                  [--only e2e] [--skip-prefect] [--json results.json]
                                  [--profile profile.html] [--workers N]

On the same generated texts (N posts drawn from the bundled corpus, so with its length
distribution; ids unique; event times over 30 days in arrival order, 5% up to 2 days late),
in one run:
- **pipeline**: file source -> validate -> spaCy -> brands -> LSTM -> one commit per batch ->
  aggregates, in a child process (so that its peak RSS is its own), with SENTIMON_WORKERS =
  --workers (default: all cores), on SQLite, and on PostgreSQL when --postgres is given; p50/p95
  latency of a batch; each stage's own speed from a one-process run on the same texts;
- **tokenizer**: spaCy's bare tokenizer (`spacy.blank("en").tokenizer.pipe`) on all cores;
- **VADER**: `SentimentIntensityAnalyzer.polarity_scores` in one process;
- **Prefect overhead**: the same batches through the `ingest-and-score` flow (one task per
  batch) on a smaller input, against the plain loop's batch time.
With --profile, pyinstrument samples the SQLite pipeline child and writes an HTML call tree
(and the text one to stderr): where the time goes.
Not part of the test suite: run it by hand (docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children_peak_rss_mb() -> float:
    """The summed peak resident sets of this process's live child processes, in MB."""
    total = 0.0
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[1] != me:  # the parent pid
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except (OSError, IndexError):  # the process ended meanwhile
            continue
    return total


def generate(n: int, path: Path, seed: int = 1) -> list[str]:
    """Write ``n`` posts as JSONL; return their texts."""
    from pipeline.training.corpus import load_corpus

    corpus = load_corpus()["text"].tolist()
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    texts = [rng.choice(corpus) for _ in range(n)]
    step = 30 * 86400 / max(n, 1)
    with path.open("w", encoding="utf-8") as fh:
        for i, text in enumerate(texts):
            # A stream: event times follow arrival order, and one post in 20 is up to 2 days late.
            late = rng.randrange(2 * 86400) if rng.random() < 0.05 else 0
            when = start + timedelta(seconds=i * step - late)
            row = {"id": f"b{i}", "text": text, "created_at": when.isoformat()}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return texts


# --- the pipeline, in a child process -------------------------------------------------------


def run_pipeline(
    url: str, input_path: Path, batch_size: int, profile: Path | None = None
) -> dict[str, Any]:
    """Child: every batch through flows.runtime.batch.process_batch, no Prefect; prints JSON."""
    from db.engine import make_engine
    from flows.runtime.model_dirs import prepare_database
    from flows.runtime.settings import BUNDLED_BRANDS, Settings
    from flows.runtime.workers import start_early, worker_key

    engine = make_engine(url)
    settings = Settings()  # SENTIMON_WORKERS comes from --workers
    model_dir = prepare_database(engine, settings.data_dir)
    workers = settings.workers
    if workers > 1:  # as `sentimon run` does once its checks pass, before torch and Prefect load
        start_early(worker_key(Path(model_dir), BUNDLED_BRANDS, None, workers))

    from flows.runtime.analysis import AnalysisPool
    from flows.runtime.batch import process_batch
    from flows.runtime.process import Runtime
    from pipeline.model.artifacts import load_scorer
    from pipeline.sources import FileSource
    from pipeline.sources.validate import Validator
    from pipeline.text.brand_file import load_brands
    from pipeline.text.brands import BrandMatcher

    pool = AnalysisPool(model_dir, BUNDLED_BRANDS, workers) if workers > 1 else None
    if pool is not None:
        pool.warm()  # as flows.runtime.process builds a runtime: takes the workers started above
    scorer = load_scorer(model_dir)
    matcher = BrandMatcher(scorer.nlp, load_brands(BUNDLED_BRANDS))
    rt = Runtime(settings, engine, scorer, matcher, pool=pool)
    source, validator = FileSource(input_path, "bench"), Validator("bench")
    stages: dict[str, float] = {}
    latencies: list[float] = []
    n = 0
    profiler = _start_profiler() if profile else None
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        report = process_batch(rt, source, validator, batch_size)
        if report is None:
            break
        latencies.append(time.perf_counter() - t0)
        n += report.n_read
        for stage, seconds in report.timings.items():
            stages[stage] = stages.get(stage, 0.0) + seconds
    wall = time.perf_counter() - started
    workers_rss = children_peak_rss_mb()
    if pool is not None:
        pool.close()
    if profiler is not None and profile is not None:
        profiler.stop()
        profile.write_text(profiler.output_html())
        print(profiler.output_text(color=False, show_all=False), file=sys.stderr)
    return {
        "posts": n,
        "seconds": round(wall, 2),
        "docs_per_s": round(n / wall, 1),
        "stages_docs_per_s": {k: round(n / v, 1) for k, v in stages.items() if v},
        "stage_share": {k: round(v / wall, 3) for k, v in stages.items()},
        "batch_p50_s": round(statistics.median(latencies), 3),
        "batch_p95_s": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 3),
        # The first batch waits for whatever the runtime still loads (workers, lazy models).
        "first_batches_s": [round(t, 3) for t in latencies[:3]],
        "batches": len(latencies),
        "workers": settings.workers,
        # The share of a read-ahead batch the pipeline process analysed itself, at the end.
        "commit_share": None if pool is None else round(pool.commit_share, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        # Worker processes' peaks, summed: the run's memory is both.
        "workers_peak_rss_mb": round(workers_rss, 1),
        "model_version": scorer.version,
    }


def _start_profiler() -> Any:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.005)
    profiler.start()
    return profiler


def run_flow(url: str, input_path: Path, batch_size: int) -> dict[str, Any]:
    """Child: the same batches through the Prefect flow; overhead per batch."""
    from flows.ingest import ingest_and_score

    os.environ["SENTIMON_DATABASE_URL"] = url
    ingest_and_score(str(input_path), "warm-up", batch_size, max_batches=1)  # server start-up
    started = time.perf_counter()
    totals = ingest_and_score(str(input_path), "bench-flow", batch_size)
    wall = time.perf_counter() - started
    per_batch = totals["seconds"] / totals["batches"]
    overhead = (wall - totals["seconds"]) / totals["batches"]
    return {
        "batches": totals["batches"],
        "flow_seconds": round(wall, 2),
        "batch_work_s": round(per_batch, 3),
        "overhead_per_batch_s": round(overhead, 3),
        "overhead_share_of_batch": round(overhead / per_batch, 3),
    }


def child(
    kind: str,
    url: str,
    input_path: Path,
    batch_size: int,
    profile: Path | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SENTIMON_DATA_DIR=tempfile.mkdtemp())
    env["SENTIMON_WORKERS"] = str(workers)
    if kind == "flow":
        env["PREFECT_HOME"] = tempfile.mkdtemp()
        env.pop("PREFECT_API_URL", None)
        env["PREFECT_LOGGING_LEVEL"] = "WARNING"
    args = [sys.executable, __file__, f"--child={kind}", f"--url={url}", f"--input={input_path}"]
    if profile is not None:
        args.append(f"--profile={profile.resolve()}")
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [*args, f"--batch-size={batch_size}"], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{done.stderr[-3000:]}")
    if profile is not None:
        print(done.stderr, file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the references ------------------------------------------------------------------------


def _tokenize_chunk(texts: list[str]) -> int:
    import spacy

    nlp = spacy.blank("en")
    return sum(len(doc) for doc in nlp.tokenizer.pipe(texts, batch_size=1000))


def bare_tokenizer(texts: list[str], processes: int) -> dict[str, Any]:
    chunks = [texts[i::processes] for i in range(processes)]
    with get_context("spawn").Pool(processes) as pool:
        pool.map(_tokenize_chunk, [c[:100] for c in chunks])  # start the workers first
        started = time.perf_counter()
        tokens = sum(pool.map(_tokenize_chunk, chunks))
        wall = time.perf_counter() - started
    return {
        "processes": processes,
        "docs_per_s": round(len(texts) / wall, 1),
        "tokens_per_s": round(tokens / wall, 1),
    }


def vader(texts: list[str]) -> dict[str, Any]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    started = time.perf_counter()
    for text in texts:
        analyzer.polarity_scores(text)
    wall = time.perf_counter() - started
    return {"processes": 1, "docs_per_s": round(len(texts) / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL (an empty database or schema)")
    parser.add_argument("--only", choices=["e2e"], help="only the pipeline (memory runs)")
    parser.add_argument("--skip-prefect", action="store_true")
    parser.add_argument("--flow-posts", type=int, default=50_000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--profile", type=Path, help="pyinstrument HTML of the SQLite pipeline")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="SENTIMON_WORKERS of the pipeline runs (default: the machine's cores); with more "
        "than 1, a one-process run on the same texts gives each stage's own speed",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "pipeline":
            result = run_pipeline(args.url, args.input, args.batch_size, args.profile)
        else:
            result = run_flow(args.url, args.input, args.batch_size)
        print(json.dumps(result))
        return

    work = Path(tempfile.mkdtemp(prefix="sentimon-bench-"))
    texts = generate(args.posts, work / "posts.jsonl")
    results: dict[str, Any] = {
        "posts": args.posts,
        "batch_size": args.batch_size,
        "cpus": os.cpu_count(),
        "machine": os.uname().machine,
    }
    posts = work / "posts.jsonl"
    results["pipeline_sqlite"] = child(
        "pipeline", f"sqlite:///{work / 'bench.db'}", posts, args.batch_size, workers=args.workers
    )
    if (args.workers > 1 and args.only != "e2e") or args.profile:
        # Stages overlap across processes above: their own speeds come from one process.
        results["pipeline_sqlite_one_process"] = child(
            "pipeline", f"sqlite:///{work / 'one.db'}", posts, args.batch_size, args.profile
        )
    if args.postgres:
        results["pipeline_postgresql"] = child(
            "pipeline", args.postgres, posts, args.batch_size, workers=args.workers
        )
    if args.only != "e2e":
        results["tokenizer_all_cores"] = bare_tokenizer(texts, os.cpu_count() or 1)
        results["vader_one_process"] = vader(texts)
        e2e = results["pipeline_sqlite"]["docs_per_s"]
        results["ratio_pipeline_to_tokenizer"] = round(
            e2e / results["tokenizer_all_cores"]["docs_per_s"], 3
        )
        results["ratio_pipeline_to_vader"] = round(
            e2e / results["vader_one_process"]["docs_per_s"], 3
        )
        if not args.skip_prefect:
            flow_input = work / "flow.jsonl"
            generate(min(args.flow_posts, args.posts), flow_input, seed=2)
            results["prefect"] = child(
                "flow",
                f"sqlite:///{work / 'flow.db'}",
                flow_input,
                args.batch_size,
                workers=args.workers,
            )
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
