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
import uuid

import pytest
from sqlalchemy import func, select

from db.engine import make_engine
from db.tables import batches, posts, predictions, rejects, source_cursors
from flows.runtime.batch import process_batch
from flows.runtime.model_dirs import prepare_database
from flows.runtime.process import Runtime
from flows.runtime.settings import BUNDLED_BRANDS, Settings
from pipeline.model.artifacts import load_scorer
from pipeline.sources import FileSource
from pipeline.sources.validate import Validator
from pipeline.text.brand_file import load_brands
from pipeline.text.brands import BrandMatcher

pytestmark = pytest.mark.slow
TRIALS = 24
PER_PART = 1000
N_GOOD = 3 * PER_PART
BATCH = 25


def _records():
    """The input, in order: good posts, a repeated id, and records whose text is not text."""
    rng = random.Random(5)
    for i in range(N_GOOD):
        text = f"@united flight {i} " * rng.randint(1, 8)
        yield {"id": str(i), "text": text, "created_at": f"2026-03-{1 + i % 28:02d}T10:00:00Z"}
        if i % 97 == 0:
            yield {"id": "dup", "text": "same id again and again"}
        if i % 101 == 0:
            yield {"text": 42}


def _landing(folder):
    folder.mkdir()
    records = list(_records())
    size = -(-len(records) // 3)
    for part in range(3):
        with (folder / f"part-{part}.jsonl").open("w") as fh:
            for record in records[part * size : (part + 1) * size]:
                fh.write(json.dumps(record) + "\n")
    bad = sum(1 for i in range(N_GOOD) if i % 101 == 0)
    dups = sum(1 for i in range(N_GOOD) if i % 97 == 0)
    return {"posts": N_GOOD + 1, "rejects": bad, "records": N_GOOD + bad + dups}


def _work(url, make_source, scorer, matcher):
    """The child: process batches until the source is exhausted (or SIGKILL arrives)."""
    import torch

    torch.set_num_threads(1)  # the parent never started torch's thread pool: safe after fork
    engine = make_engine(url)  # never share a parent's connections across fork
    rt = Runtime(settings=Settings(), engine=engine, scorer=scorer, matcher=matcher)
    source = make_source()  # connections are opened here, in the child
    validator = Validator("landing")
    while process_batch(rt, source, validator, BATCH) is not None:
        pass
    os._exit(0)


def _trials(url, make_source, seed):
    engine = make_engine(url)
    scorer = load_scorer(prepare_database(engine, Settings().data_dir))
    matcher = BrandMatcher(scorer.nlp, load_brands(BUNDLED_BRANDS))
    # No scoring in the parent: a thread pool started before fork() would hang the children.
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(seed)

    def run(kill_after):
        child = ctx.Process(target=_work, args=(url, make_source, scorer, matcher))
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


def _check(url, expected, replayable=True):
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
    if replayable:
        assert n_read == expected["records"]  # every record in exactly one committed batch
        assert cursor == last
    else:
        # A stream re-delivers what was committed but not yet acknowledged when the kill came:
        # read more than once, written once.
        assert n_read >= expected["records"]


def _files(tmp_path):
    expected = _landing(tmp_path / "landing")
    return expected, lambda: FileSource(tmp_path / "landing", "landing", settle_seconds=0)


def _run_trials(url, make_source):
    seed = random.randrange(1 << 30)
    kills, _ = _trials(url, make_source, seed)
    assert kills >= TRIALS // 2, f"seed {seed}: only {kills} of {TRIALS} runs were killed"


def test_random_sigkills_files_on_sqlite(tmp_path):
    expected, make_source = _files(tmp_path)
    url = f"sqlite:///{tmp_path / 'sentimon.db'}"
    _run_trials(url, make_source)
    _check(url, expected)


@pytest.mark.postgres
def test_random_sigkills_files_on_postgresql(tmp_path, pg_schema_url):
    expected, make_source = _files(tmp_path)
    _run_trials(pg_schema_url, make_source)
    _check(pg_schema_url, expected)


def test_random_sigkills_sql_source(tmp_path):
    """Rows of a table in another database, read after an id cursor."""
    from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine, insert

    from db.sql_source import SqlSource

    shop = f"sqlite:///{tmp_path / 'shop.db'}"
    reviews = Table(
        "reviews",
        MetaData(),
        Column("seq", Integer, primary_key=True),
        Column("review_id", Text),
        Column("body", Text),
        Column("created_at", Text),
    )
    engine = create_engine(shop)
    reviews.metadata.create_all(engine)
    records = list(_records())
    with engine.begin() as conn:
        conn.execute(
            insert(reviews),
            [
                {
                    "seq": n,
                    "review_id": r.get("id"),
                    "body": r["text"] if isinstance(r["text"], str) else None,
                    "created_at": r.get("created_at"),
                }
                for n, r in enumerate(records, 1)
            ],
        )
    engine.dispose()
    bad = sum(1 for r in records if not isinstance(r["text"], str))
    expected = {"posts": N_GOOD + 1, "rejects": bad, "records": len(records)}
    url = f"sqlite:///{tmp_path / 'sentimon.db'}"
    _run_trials(
        url,
        lambda: _MappedSql(
            SqlSource(shop, "landing", cursor_column="seq", table="reviews", id_column="review_id")
        ),
    )
    _check(url, expected)


class _MappedSql:
    """The shop's column names, as `--map text=body,id=review_id` would give them."""

    readahead = False

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name
        self.notices = []

    def read_batch(self, cursor, limit):
        from pipeline.records import RawRecord
        from pipeline.sources import SourceBatch

        batch = self.inner.read_batch(cursor, limit)
        records = [
            RawRecord(
                r.locator,
                None if r.fields is None else {**r.fields, "text": r.fields["body"]},
                r.raw,
                r.error,
            )
            for r in batch.records
        ]
        return SourceBatch(records, batch.cursor_to)

    def acknowledge(self, batch):
        self.inner.acknowledge(batch)

    def close(self):
        """The trial closes the inner source itself."""


def test_random_sigkills_redis_stream(tmp_path):
    """A Redis stream: entries are acknowledged after the commit; a killed run's consumer name
    comes back and takes its unacknowledged entries first."""
    redis_url = os.environ.get("SENTIMON_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("SENTIMON_TEST_REDIS_URL not set: Redis tests skipped")
    import redis

    from pipeline.sources.redis_stream import RedisStreamSource

    stream = f"sentimon-kill-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url)
    records = list(_records())
    pipe = client.pipeline()
    for r in records:
        pipe.xadd(stream, {"json": json.dumps(r)})
    pipe.execute()
    bad = sum(1 for r in records if not isinstance(r["text"], str))
    expected = {"posts": N_GOOD + 1, "rejects": bad, "records": len(records)}
    url = f"sqlite:///{tmp_path / 'sentimon.db'}"
    try:
        _run_trials(
            url,
            lambda: RedisStreamSource(redis_url, stream, "sentimon", "worker-1", name="landing"),
        )
        _check(url, expected, replayable=False)
        assert client.xpending(stream, "sentimon")["pending"] == 0
    finally:
        client.delete(stream)
        client.close()
