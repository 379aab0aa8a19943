"""SENTIMON_WORKERS=2: half of a batch analysed in a real worker process, same result as one
process; a worker that dies costs speed, never a post."""

import json
import multiprocessing
import os
from concurrent.futures.process import BrokenProcessPool

import pytest
from sqlalchemy import select

from db.tables import post_brands, posts, predictions
from flows.runtime.analysis import DEFERRED_SLICE, MIN_SPLIT, AnalysisPool, PendingAnalysis
from flows.runtime.batch import process_batch
from flows.runtime.process import get_runtime
from flows.runtime.settings import BUNDLED_BRANDS, BUNDLED_MODEL, Settings
from pipeline.analysis import analyse
from pipeline.sources import FileSource
from pipeline.sources.validate import Validator

TEMPLATES = [
    "@united lost my bag again, terrible service #fail",
    "Love my new iPhone from Apple! 😍",
    "Google maps got me home, thanks",
    "das ist wirklich sehr schlecht und teuer",
    "the flight was fine I guess",
    "not good at all @JetBlue, never again",
]


def _texts(n):
    return [f"{TEMPLATES[i % len(TEMPLATES)]} {i}" for i in range(n)]


def assert_same(a, b):
    """Equal analyses; scores to float32 rounding, as the LSTM's float sums depend on which
    texts share a padded batch."""
    assert (a.texts, a.langs, a.mentions) == (b.texts, b.langs, b.mentions)
    assert [p and p.label for p in a.predictions] == [p and p.label for p in b.predictions]
    scores = [[p.score for p in x.predictions if p] for x in (a, b)]
    assert scores[0] == pytest.approx(scores[1], abs=1e-5)
    # the parts' out-of-domain signals add up to those of the whole batch
    assert (a.signals.n_scored, a.signals.n_tokens, a.signals.n_unknown) == (
        b.signals.n_scored,
        b.signals.n_tokens,
        b.signals.n_unknown,
    )
    assert a.signals.top_probability_sum == pytest.approx(b.signals.top_probability_sum, abs=1e-3)
    assert a.signals.n_scored == sum(1 for p in a.predictions if p)


@pytest.fixture(scope="module")
def parts():
    rt = get_runtime(Settings(data_dir="/nonexistent-unused", database_url="sqlite://"))
    return rt.scorer, rt.language, rt.matcher


@pytest.fixture
def pool():
    pool = AnalysisPool(BUNDLED_MODEL, BUNDLED_BRANDS, processes=2)
    yield pool
    pool.close()


def test_a_split_batch_is_analysed_exactly_as_in_one_process(parts, pool):
    texts = _texts(MIN_SPLIT + 11)
    hints = [("Delta",) if i % 50 == 0 else () for i in range(len(texts))]
    assert pool.wait_ready(timeout=120)
    pending = pool.start(texts, hints, local_share=0.5)
    assert len(pending.remote) == 1 and pending.n_local == round(len(texts) / 2)
    split = pool.finish(pending, *parts)
    alone = analyse(*parts, texts, hints)
    assert_same(split, alone)
    assert {"de", "en"} <= set(split.langs) and None in split.predictions
    assert sum(1 for m in split.mentions if "Delta" in m) == len(range(0, len(texts), 50))


def test_warm_starts_the_worker_before_any_batch(parts, pool):
    # So that it loads its model while this process loads its own (get_runtime).
    before = {child.pid for child in multiprocessing.active_children()}
    pool.warm()
    started = [c for c in multiprocessing.active_children() if c.pid not in before]
    assert len(started) == 1
    texts = _texts(MIN_SPLIT)
    result = pool.finish(pool.start(texts, [()] * len(texts), local_share=0.5), *parts)
    assert_same(result, analyse(*parts, texts, [()] * len(texts)))
    assert [c for c in multiprocessing.active_children() if c.pid not in before] == started
    pool.close()
    assert not [c for c in multiprocessing.active_children() if c.pid not in before]


def test_a_batch_that_comes_while_the_worker_loads_is_analysed_here_until_it_is_ready(parts, pool):
    texts = _texts(MIN_SPLIT)
    hints = [()] * len(texts)
    # The worker spawned just now: it is still importing torch and spaCy (seconds).
    pending = pool.start(texts, hints, local_share=0.5)
    assert pending.deferred and pending.remote == [] and pending.n_local == len(texts)
    assert pool.resume(pending, 0.5) is pending  # still loading: nothing changes
    assert pool.wait_ready(timeout=120)
    resumed = pool.resume(pending, 0.5)
    assert len(resumed.remote) == 1 and resumed.n_local == len(texts) // 2
    assert not resumed.deferred
    assert_same(pool.finish(resumed, *parts), analyse(*parts, texts, hints))
    # Finished without a resume, a deferred batch is split now that the worker is ready.
    assert_same(pool.finish(pending, *parts), analyse(*parts, texts, hints))


def test_a_deferred_batch_is_analysed_here_a_slice_at_a_time_until_the_worker_is_ready(
    parts, pool, monkeypatch
):
    texts = _texts(DEFERRED_SLICE * 2 + 500)
    hints = [("Delta",) if i % 97 == 0 else () for i in range(len(texts))]
    pending = PendingAnalysis(texts, hints, len(texts), [], deferred=True, local_share=0.5)
    assert pool.wait_ready(timeout=120)
    # The worker "becomes ready" after the first slice: the rest of the batch is split then.
    answers = iter([False])
    monkeypatch.setattr(pool, "ready", lambda: next(answers, True))
    splits = []
    start = pool.start

    def spied_start(texts, hints, local_share):
        splits.append(split := start(texts, hints, local_share))
        return split

    monkeypatch.setattr(pool, "start", spied_start)
    result = pool.finish(pending, *parts)
    assert_same(result, analyse(*parts, texts, hints))
    [split] = splits
    assert len(split.texts) == len(texts) - DEFERRED_SLICE  # one slice analysed here first
    assert split.n_local == round(len(split.texts) / 2) and len(split.remote) == 1


def test_a_dead_worker_falls_back_to_this_process(parts, pool, caplog):
    texts = _texts(MIN_SPLIT * 2)
    hints = [()] * len(texts)
    executor = pool._start()
    with pytest.raises(BrokenProcessPool):
        executor.submit(os._exit, 1).result()
    result = pool.finish(pool.start(texts, hints, local_share=0.5), *parts)
    assert pool.broken
    assert "analysis worker died" in caplog.text
    assert_same(result, analyse(*parts, texts, hints))


@pytest.mark.slow  # ~6 s: starts a worker pool twice
def test_workers_2_writes_what_one_process_writes(tmp_path, monkeypatch):
    folder = tmp_path / "landing"
    folder.mkdir()
    rows = [
        {"id": str(i), "text": text, "created_at": f"2026-11-0{1 + i % 3}T0{i % 10}:00:00Z"}
        for i, text in enumerate(_texts(3 * MIN_SPLIT))
    ]
    (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def run(workers):
        monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / f"data{workers}"))
        monkeypatch.setenv("SENTIMON_WORKERS", str(workers))
        rt = get_runtime(Settings())
        assert (rt.pool is not None) == (workers > 1)
        if rt.pool is not None:  # so that every batch is split, not analysed here whole
            assert rt.pool.wait_ready(timeout=120)
        source, validator = FileSource(folder, "test", settle_seconds=0), Validator("test")
        while process_batch(rt, source, validator, 2 * MIN_SPLIT) is not None:
            pass
        if rt.pool is not None:
            rt.pool.close()
        with rt.engine.connect() as conn:
            return (
                conn.execute(
                    select(posts.c.external_id, posts.c.lang, posts.c.duplicate_of).order_by(
                        posts.c.id
                    )
                ).all(),
                conn.execute(
                    select(post_brands.c.post_id, post_brands.c.brand).order_by(
                        post_brands.c.post_id, post_brands.c.brand
                    )
                ).all(),
                conn.execute(
                    select(
                        predictions.c.post_id, predictions.c.label, predictions.c.score
                    ).order_by(predictions.c.post_id)
                ).all(),
            )

    one, two = run(1), run(2)
    assert len(one[0]) == len(rows) and len(one[2]) > 0
    assert two[:2] == one[:2]  # posts, languages, duplicates, mentions
    # The LSTM's float sums depend on which texts share a padded batch: labels are the same,
    # scores agree to float32 rounding.
    assert [(p, label) for p, label, _ in two[2]] == [(p, label) for p, label, _ in one[2]]
    assert [s for *_, s in two[2]] == pytest.approx([s for *_, s in one[2]], abs=1e-5)


def test_a_read_ahead_batch_is_used_only_after_the_cursor_it_was_read_after():
    from flows.runtime.readahead import Ahead, Readahead
    from pipeline.sources import SourceBatch

    def ahead(cursor, made=None):
        extra = {} if made is None else {"made": made}
        batch = SourceBatch([], "next")
        return Ahead("s", cursor, 100, batch, [], [], pending=None, **extra)  # type: ignore[arg-type]

    box = Readahead()
    box.put(ahead("c1"))
    assert box.take("s", "c0", 100) is None  # another cursor: dropped ...
    assert box.take("s", "c1", 100) is None  # ... for good
    box.put(ahead("c1"))
    assert box.take("s", "c1", 50) is None  # another batch size
    box.put(ahead("c1", made=0.0))
    assert box.take("s", "c1", 100) is None  # too old
    box.put(ahead("c1"))
    assert box.take("t", "c1", 100) is None  # another source
    assert box.take("s", "c1", 100) is not None


def _landing_with_workers(tmp_path, monkeypatch):
    """A landing folder of 3 * MIN_SPLIT posts, and a runtime with one analysis worker."""
    folder = tmp_path / "landing"
    folder.mkdir()
    rows = [
        {"id": str(i), "text": text, "created_at": "2026-11-01T10:00:00Z"}
        for i, text in enumerate(_texts(3 * MIN_SPLIT))
    ]
    (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SENTIMON_WORKERS", "2")
    return rows, get_runtime(Settings())


@pytest.mark.slow  # ~6 s: a worker pool and read-ahead
def test_a_rewound_cursor_ignores_the_read_ahead_and_loses_nothing(tmp_path, monkeypatch):
    from db.tables import source_cursors

    rows, rt = _landing_with_workers(tmp_path, monkeypatch)
    source = FileSource(tmp_path / "landing", "test", settle_seconds=0)
    validator = Validator("test")
    first = process_batch(rt, source, validator, MIN_SPLIT)
    assert first is not None and first.n_posts == MIN_SPLIT
    assert rt.readahead._ahead  # the second batch was read ahead
    with rt.engine.begin() as conn:  # as if another run had rewound the source
        conn.execute(source_cursors.delete())
    reports = []
    while (report := process_batch(rt, source, validator, MIN_SPLIT)) is not None:
        reports.append(report)
    rt.pool.close()
    assert [r.n_new_posts for r in reports] == [0, MIN_SPLIT, MIN_SPLIT]
    with rt.engine.connect() as conn:
        stored = conn.execute(select(posts.c.external_id)).scalars().all()
        n_predictions = len(conn.execute(select(predictions.c.post_id)).all())
    assert sorted(stored, key=int) == [r["id"] for r in rows]
    assert n_predictions == len(rows) - sum(1 for t in _texts(len(rows)) if "schlecht" in t)


@pytest.mark.slow  # ~6 s: a worker pool and read-ahead
def test_a_batch_read_ahead_while_the_worker_loaded_goes_to_it_before_the_commit(
    tmp_path, monkeypatch
):
    rows, rt = _landing_with_workers(tmp_path, monkeypatch)
    assert rt.pool is not None and rt.pool.wait_ready(timeout=120)
    # Still loading when the first batch and the one read ahead of it start; ready after.
    answers = iter([False, False])
    monkeypatch.setattr(rt.pool, "ready", lambda: next(answers, True))
    source = FileSource(tmp_path / "landing", "test", settle_seconds=0)
    validator = Validator("test")
    assert process_batch(rt, source, validator, MIN_SPLIT) is not None
    ahead = rt.readahead._ahead["test"].pending
    assert not ahead.deferred and len(ahead.remote) == 1  # in the worker during the commit
    while process_batch(rt, source, validator, MIN_SPLIT) is not None:
        pass
    rt.pool.close()
    with rt.engine.connect() as conn:
        stored = conn.execute(select(posts.c.external_id)).scalars().all()
    assert sorted(stored, key=int) == [r["id"] for r in rows]


def test_the_commit_share_moves_towards_the_process_that_waits_less():
    from flows.runtime.analysis import COMMIT_SHARE, COMMIT_SHARE_RANGE

    pool = AnalysisPool(BUNDLED_MODEL, BUNDLED_BRANDS, processes=2)  # no worker started
    texts = _texts(100)

    def batch(local_share=None, n_local=25):
        return PendingAnalysis(texts, [()] * 100, n_local, [], local_share=local_share)

    # 75 posts in 0.75 s: the whole batch would take 1 s in one process.
    pool._balance(batch(), waited=0.0, started=10.0, ended=10.75)
    assert pool.commit_share == COMMIT_SHARE  # nothing to compare the first part with
    # The worker sat idle 0.2 s before its next part: this process keeps less.
    pool._balance(batch(), waited=0.0, started=10.95, ended=11.70)
    assert pool.commit_share == pytest.approx(COMMIT_SHARE - 0.2 / 2 / 8)
    # This process waited 0.4 s for the worker: it keeps more.
    pool._balance(batch(), waited=0.4, started=11.70, ended=12.45)
    assert pool.commit_share == pytest.approx(COMMIT_SHARE - 0.2 / 2 / 8 + 0.4 / 2 / 8)
    # An even split on purpose (nothing committed meanwhile) teaches nothing.
    before = pool.commit_share
    pool._balance(batch(local_share=0.5, n_local=50), waited=0.3, started=13.0, ended=13.5)
    assert pool.commit_share == before
    # However long the waits, the share stays within its range.
    for _ in range(200):
        pool._balance(batch(), waited=5.0, started=20.0, ended=20.75)
    assert pool.commit_share == COMMIT_SHARE_RANGE[1]
    at = 30.0
    for _ in range(200):
        pool._balance(batch(), waited=0.0, started=at + 5.0, ended=at + 5.75)
        at += 5.75
    assert pool.commit_share == COMMIT_SHARE_RANGE[0]


@pytest.mark.slow  # ~5 s: a worker pool
def test_workers_started_by_the_run_command_are_the_ones_the_flow_s_runtime_uses(
    tmp_path, monkeypatch
):
    from flows.cli.run import _start_workers_early
    from flows.runtime import workers

    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SENTIMON_WORKERS", "2")
    settings = Settings()
    # As `sentimon run` does on a new database, before the flow prepares it.
    _start_workers_early(settings)
    [(executor, ready)] = workers._EARLY.values()
    rt = get_runtime(settings)
    assert rt.pool is not None and rt.pool.wait_ready(timeout=120)
    assert rt.pool._executor is executor and rt.pool._ready == ready and not workers._EARLY
    texts = _texts(MIN_SPLIT)
    pending = rt.pool.start(texts, [()] * len(texts), local_share=0.5)
    assert len(pending.remote) == 1
    alone = analyse(*parts_of(rt), texts, [()] * len(texts))
    assert_same(rt.pool.finish(pending, *parts_of(rt)), alone)
    rt.pool.close()


def parts_of(rt):
    return rt.scorer, rt.language, rt.matcher


def test_workers_started_for_another_model_are_stopped_when_the_pool_starts_its_own():
    from flows.runtime import workers

    stale = workers.worker_key(BUNDLED_MODEL, BUNDLED_BRANDS, None, 3)
    workers.start_early(stale)
    [(executor, _)] = workers._EARLY.values()
    assert workers.take_early(workers.worker_key(BUNDLED_MODEL, BUNDLED_BRANDS, None, 2)) is None
    assert not workers._EARLY and executor._shutdown_thread
