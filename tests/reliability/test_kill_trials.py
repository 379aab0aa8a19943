"""SIGKILL at random moments, 24 times in a row: the exactly-once effect still holds.

Forked worker processes (the model is loaded once, before forking, so each trial costs a
fraction of a second instead of a fresh interpreter's start-up) run the real batch path,
read -> validate -> tokenise -> score -> one commit, against a real SQLite file and a real
PostgreSQL schema, and are killed with SIGKILL after a random delay: before the first batch,
inside a batch, inside a commit, between batches. The end state is checked after a final
uninterrupted run. `tests/flows/test_kill_resume.py` does the same through `sentimon run`.
"""

import json
import multiprocessing
import os
import random
import signal
import time

import pytest
from sqlalchemy import func, select

from db.engine import make_engine
from db.tables import batches, posts, predictions, rejects, source_cursors
from flows.batch import process_batch
from flows.runtime import Runtime, prepare_database
from flows.settings import BUNDLED_BRANDS, Settings
from pipeline.artifacts import load_scorer
from pipeline.brands import BrandMatcher, load_brands
from pipeline.sources import FileSource
from pipeline.validate import Validator

pytestmark = pytest.mark.slow
TRIALS = 24
PER_PART = 1000
N_GOOD = 3 * PER_PART
BATCH = 25


def _landing(folder):
    folder.mkdir()
    rng = random.Random(5)
    for part in range(3):
        with (folder / f"part-{part}.jsonl").open("w") as fh:
            for i in range(part * PER_PART, (part + 1) * PER_PART):
                fh.write(
                    json.dumps(
                        {
                            "id": str(i),
                            "text": f"@united flight {i} " * rng.randint(1, 8),
                            "created_at": f"2026-03-{1 + i % 28:02d}T10:00:00Z",
                        }
                    )
                    + "\n"
                )
                if i % 97 == 0:
                    fh.write('{"id": "dup", "text": "same id again and again"}\n')
                if i % 101 == 0:
                    fh.write('{"text": 42}\n')
    bad = sum(1 for i in range(N_GOOD) if i % 101 == 0)
    dups = sum(1 for i in range(N_GOOD) if i % 97 == 0)
    return {"posts": N_GOOD + 1, "rejects": bad, "records": N_GOOD + bad + dups}


def _work(url, folder, scorer, matcher):
    """The child: process batches until the source is exhausted (or SIGKILL arrives)."""
    import torch

    torch.set_num_threads(1)  # the parent never started torch's thread pool: safe after fork
    engine = make_engine(url)  # never share a parent's connections across fork
    rt = Runtime(settings=Settings(), engine=engine, scorer=scorer, matcher=matcher)
    source = FileSource(folder, "landing", settle_seconds=0)
    validator = Validator("landing")
    while process_batch(rt, source, validator, BATCH) is not None:
        pass
    os._exit(0)


def _trials(url, folder, seed):
    engine = make_engine(url)
    scorer = load_scorer(prepare_database(engine))
    matcher = BrandMatcher(scorer.nlp, load_brands(BUNDLED_BRANDS))
    # No scoring in the parent: a thread pool started before fork() would hang the children.
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(seed)

    def run(kill_after):
        child = ctx.Process(target=_work, args=(url, folder, scorer, matcher))
        child.start()
        if kill_after is not None:
            time.sleep(kill_after)
            if child.is_alive():
                os.kill(child.pid, signal.SIGKILL)
        child.join(120)
        assert child.exitcode is not None, "a worker hung"
        return child.exitcode

    # An uninterrupted run takes a few seconds here; the kills come 20-300 ms after each start,
    # so that 24 of them land while there is still work left.
    started = time.monotonic()
    kills = 0
    for _ in range(TRIALS):
        kills += run(rng.uniform(0.02, 0.3)) == -signal.SIGKILL
    assert run(None) == 0
    engine.dispose()
    return kills, time.monotonic() - started


def _check(url, expected):
    engine = make_engine(url)
    with engine.connect() as conn:
        n_posts = conn.execute(select(func.count()).select_from(posts)).scalar_one()
        n_preds = conn.execute(select(func.count()).select_from(predictions)).scalar_one()
        n_rejects = conn.execute(select(func.count()).select_from(rejects)).scalar_one()
        n_read = conn.execute(select(func.sum(batches.c.n_read))).scalar_one()
        n_new = conn.execute(select(func.sum(batches.c.n_new_posts))).scalar_one()
        last = conn.execute(select(batches.c.cursor_to).order_by(batches.c.id.desc())).first()[0]
        cursor = conn.execute(select(source_cursors.c.position)).scalar_one()
    engine.dispose()
    assert n_posts == n_preds == n_new == expected["posts"]
    assert n_rejects == expected["rejects"]
    assert n_read == expected["records"]  # every record in exactly one committed batch
    assert cursor == last


def test_random_sigkills_on_sqlite(tmp_path):
    expected = _landing(tmp_path / "landing")
    url = f"sqlite:///{tmp_path / 'sentimon.db'}"
    seed = random.randrange(1 << 30)
    kills, _ = _trials(url, tmp_path / "landing", seed)
    assert kills >= TRIALS // 2, f"seed {seed}: only {kills} of {TRIALS} runs were killed"
    _check(url, expected)


@pytest.mark.postgres
def test_random_sigkills_on_postgresql(tmp_path, pg_schema_url):
    expected = _landing(tmp_path / "landing")
    seed = random.randrange(1 << 30)
    kills, _ = _trials(pg_schema_url, tmp_path / "landing", seed)
    assert kills >= TRIALS // 2, f"seed {seed}: only {kills} of {TRIALS} runs were killed"
    _check(pg_schema_url, expected)
