"""The commit of a micro-batch alone (db.repository.commit_batch), on SQLite and PostgreSQL.

    .venv/bin/python bench/commit_speed.py [--posts 60000] [--batch-size 5000] [--timed 6]
                                           [--postgres URL] [--statements] [--json out.json]

The posts are bench/run.py's (drawn from the bundled corpus with its seed, event times over 30
days in arrival order, 5% up to 2 days late), analysed once in this process with the bundled
model and brands file and cached (``--cache``, default the system's temp folder), so that
every run commits the same batches and only the first one pays for the model. Each database
(a SQLite file; with ``--postgres``, a fresh schema of that database, dropped afterwards) gets
all batches in order, one transaction each as the pipeline commits them; the last ``--timed``
are reported (the others build up the tables first). ``--repeat N`` does it all N times, on a
new database each time, and keeps each batch's best time: on a shared machine a burst of
another process then counts only if it hits every repeat. ``--statements`` adds the SQL
statements' own time per statement kind, per batch, from the last repeat (COPY, which
bypasses SQLAlchemy, is not among them).
One process, no workers: quiet enough for a shared machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, event  # noqa: E402
from sqlalchemy.schema import CreateSchema, DropSchema  # noqa: E402

from db import migrate, repository  # noqa: E402
from db.engine import make_engine  # noqa: E402
from pipeline.records import Batch, Post, ScoredPost  # noqa: E402


def generate_posts(n: int, seed: int = 1) -> list[Post]:
    """bench/run.py's posts (same draws, same times), as validated Posts."""
    from pipeline.training.corpus import load_corpus

    corpus = load_corpus()["text"].tolist()
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    texts = [rng.choice(corpus) for _ in range(n)]
    step = 30 * 86400 / max(n, 1)
    posts = []
    for i, body in enumerate(texts):
        late = rng.randrange(2 * 86400) if rng.random() < 0.05 else 0
        when = start + timedelta(seconds=i * step - late)
        # FileSource keeps second precision from the ISO text; so do these.
        when = when.replace(microsecond=0)
        posts.append(Post(source="bench", external_id=f"b{i}", text=body, created_at=when))
    return posts


def analysed_batches(n: int, batch_size: int, cache: Path) -> list[Batch]:
    """The scored batches, from the cache when this model and these posts were analysed."""
    from flows.runtime.settings import BUNDLED_BRANDS, BUNDLED_MODEL
    from pipeline.analysis import analyse
    from pipeline.model.manifest import read_manifest

    manifest = json.dumps(read_manifest(BUNDLED_MODEL), sort_keys=True, default=str)
    brands = BUNDLED_BRANDS.read_bytes()
    key = hashlib.sha256(f"{n}:{batch_size}:{manifest}".encode() + brands).hexdigest()[:16]
    path = cache / f"sentimon-commit-bench-{key}.pickle"
    if path.exists():
        with path.open("rb") as fh:
            batches: list[Batch] = pickle.load(fh)  # noqa: S301 (our own cache file)
        return batches
    from pipeline.model.artifacts import load_scorer
    from pipeline.text.brand_file import load_brands
    from pipeline.text.brands import BrandMatcher
    from pipeline.text.language import LanguageIdentifier

    scorer = load_scorer(BUNDLED_MODEL)
    matcher = BrandMatcher(scorer.nlp, load_brands(BUNDLED_BRANDS))
    language = LanguageIdentifier()
    posts = generate_posts(n)
    batches = []
    for start in range(0, n, batch_size):
        part = posts[start : start + batch_size]
        found = analyse(scorer, language, matcher, [p.text for p in part], [() for _ in part])
        scored = [
            ScoredPost(post=p, brands=b, prediction=pr, lang=lang, content=k)
            for p, b, pr, lang, k in zip(
                part, found.mentions, found.predictions, found.langs, found.keys, strict=True
            )
        ]
        cursor = None if start == 0 else str(start)
        batches.append(Batch("bench", cursor, str(start + len(part)), scored, [], {}))
    with path.open("wb") as fh:
        pickle.dump(batches, fh)
    return batches


class StatementClock:
    """Seconds spent per SQL statement kind (its first words), from SQLAlchemy's events."""

    def __init__(self, engine: Engine) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.on = False
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.on:
            kind = " ".join(statement.split())[:70]
            self.totals[kind] += time.perf_counter() - conn.info.pop("bench_started")
            self.counts[kind] += 1

    def report(self, batches: int) -> list[dict[str, Any]]:
        top = sorted(self.totals.items(), key=lambda kv: -kv[1])[:12]
        return [
            {"ms_per_batch": round(1000 * s / batches, 1), "n": self.counts[k], "sql": k}
            for k, s in top
        ]


def run(engine: Engine, batches: list[Batch], timed: int, statements: bool) -> dict[str, Any]:
    migrate.upgrade(engine)
    clock = StatementClock(engine) if statements else None
    times, cpu = [], []
    for n, batch in enumerate(batches):
        is_timed = n >= len(batches) - timed
        if clock is not None:
            clock.on = is_timed
        started, started_cpu = time.perf_counter(), time.process_time()
        with engine.begin() as conn:
            repository.commit_batch(conn, batch)
        if is_timed:
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
    posts = sum(len(b.scored) for b in batches[-timed:])
    result: dict[str, Any] = {
        "batch_s": [round(t, 3) for t in times],
        # This process's CPU time: on SQLite the whole commit, on PostgreSQL the client's part.
        "cpu_s": [round(t, 3) for t in cpu],
        "p50_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "docs_per_s": round(posts / sum(times), 1),
    }
    if clock is not None:
        result["statements"] = clock.report(len(times))
    return result


def best_of(runs: list[dict[str, Any]], posts: int) -> dict[str, Any]:
    """Each batch's best time over the runs; statements of the last run."""
    best = [min(times) for times in zip(*(r["batch_s"] for r in runs), strict=True)]
    cpu = [min(times) for times in zip(*(r["cpu_s"] for r in runs), strict=True)]
    result = {
        "batch_s": best,
        "p50_s": round(statistics.median(best), 3),
        "cpu_p50_s": round(statistics.median(cpu), 3),
        "min_s": min(best),
        "docs_per_s": round(posts / sum(best), 1),
        "runs": len(runs),
    }
    if "statements" in runs[-1]:
        result["statements"] = runs[-1]["statements"]
    return result


def postgres_run(
    url: str, batches: list[Batch], timed: int, statements: bool, keep: str | None = None
) -> dict[str, Any]:
    """``run`` in a schema of its own, dropped afterwards unless it is ``keep`` (for EXPLAIN)."""
    schema = keep or f"commit_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(CreateSchema(schema))
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        return run(engine, batches, timed, statements)
    finally:
        engine.dispose()
        if keep is None:
            with admin.connect() as conn:
                conn.execute(DropSchema(schema, cascade=True))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=60_000)
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--timed", type=int, default=6, help="batches timed, at the end")
    parser.add_argument("--postgres", help="a PostgreSQL URL; the run uses a schema of its own")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--keep-schema", help="PostgreSQL: use this new schema and keep it")
    parser.add_argument("--repeat", type=int, default=1, help="runs; each batch's best counts")
    parser.add_argument("--statements", action="store_true", help="time per SQL statement kind")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.keep_schema and args.repeat > 1:
        parser.error("--keep-schema keeps one run's schema: use it with --repeat 1")
    batches = analysed_batches(args.posts, args.batch_size, args.cache)
    timed = min(args.timed, len(batches))
    results: dict[str, Any] = {
        "posts": args.posts,
        "batch_size": args.batch_size,
        "timed_batches": timed,
        "mentions_per_batch": round(
            sum(len(s.brands) for b in batches for s in b.scored) / len(batches), 1
        ),
    }
    runs: dict[str, list[dict[str, Any]]] = {"sqlite": [], "postgresql": []}
    for _ in range(args.repeat):
        if not args.no_sqlite:
            with tempfile.TemporaryDirectory() as work:
                engine = make_engine(f"sqlite:///{work}/bench.db")
                runs["sqlite"].append(run(engine, batches, timed, args.statements))
                engine.dispose()
        if args.postgres:
            runs["postgresql"].append(
                postgres_run(args.postgres, batches, timed, args.statements, args.keep_schema)
            )
    posts = sum(len(b.scored) for b in batches[-timed:])
    for name, done in runs.items():
        if done:
            results[name] = best_of(done, posts)
    out = json.dumps(results, indent=2)
    print(out)
    if args.json:
        args.json.write_text(out + "\n")


if __name__ == "__main__":
    main()
