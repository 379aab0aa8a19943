"""Aggregates added batch by batch (db.aggregates.add_to_aggregates) equal a full rebuild.

commit_batch adds each batch's new mentions and predictions to their buckets instead of
rebuilding the days they touch. A stream with everything that could make the two disagree
(late posts, replays, retweets, a mention added to an old post, an unscored post, two model
versions, posts of one batch across many days) is committed, the table is copied, every bucket
is rebuilt with refresh_aggregates, and the two must match row for row.
"""

import dataclasses
import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from db import repository
from db.tables import brand_sentiment
from pipeline.records import Batch

BRANDS = ("Apple", "Google", "Coachella")
LABELS = {"negative": (0.7, 0.2, 0.1), "neutral": (0.2, 0.6, 0.2), "positive": (0.1, 0.2, 0.7)}
KEY = ("brand", "bucket", "bucket_start", "source", "model_version")
COUNTS = ("volume", "n_unique", "n_amplification", "n_negative", "n_neutral", "n_positive")
RATIOS = ("mean_score", "net_sentiment", "nss")


def _table(conn):
    rows = conn.execute(select(brand_sentiment)).mappings()
    return {tuple(r[k] for k in KEY): r for r in rows}


def _stream(scored, day):
    rng = random.Random(11)
    texts = [f"the {w} service today was something else" for w in ("good", "bad", "odd", "new")]
    batches = []
    for b in range(6):
        items = []
        for i in range(40):
            n = b * 40 + i
            label = rng.choice(list(LABELS))
            late = timedelta(days=rng.choice([0, 0, 0, 1, 2]))  # some posts arrive late
            when = day(3 + b) + timedelta(minutes=17 * i) - late
            brands = tuple(rng.sample(BRANDS, rng.choice([0, 1, 1, 2])))
            # Every fifth post repeats an earlier text: stored as amplification (duplicate_of).
            text = rng.choice(texts) if n % 5 == 0 else f"post {n} says {label} things"
            jitter = rng.uniform(-0.05, 0.05)
            p = LABELS[label]
            p = (p[0] + jitter, p[1], p[2] - jitter)
            items.append(scored(f"t{n}", label, p, when, brands, "tweets", text=text))
        batches.append(items)
    return batches


@pytest.fixture
def streamed(db, scored, day):
    batches = _stream(scored, day)
    with db.begin() as conn:
        for n, items in enumerate(batches):
            repository.commit_batch(conn, Batch("tweets", str(n), str(n + 1), items))
        # A replay of the second batch adds nothing.
        repository.commit_batch(conn, Batch("tweets", "1", "2", batches[1]))
        # An old post gains a brand (a replay under a longer brands file).
        old = batches[0][3]
        more = dataclasses.replace(old, brands=(*old.brands, "Zeta"))
        repository.commit_batch(conn, Batch("tweets", "6", "7", [more]))
        # A post stored without a prediction (not English) counts nowhere.
        unscored = dataclasses.replace(
            scored("u1", "neutral", LABELS["neutral"], day(4), ("Apple",), "tweets"),
            prediction=None,
        )
        # A second version scores some old posts again, in a batch of its own.
        again = [
            scored(
                it.post.external_id,
                "negative",
                LABELS["negative"],
                it.post.created_at,
                it.brands,
                "tweets",
                model_version="v2",
                text=it.post.text,
            )
            for it in batches[2][:15]
        ]
        repository.commit_batch(conn, Batch("tweets", "7", "8", [unscored, *again]))
    return db


def test_added_aggregates_equal_a_full_rebuild(streamed, day):
    with streamed.begin() as conn:
        added = _table(conn)
        days = [day(1) + timedelta(days=d) for d in range(12)]
        for version in ("v1", "v2"):
            repository.refresh_aggregates(conn, version, [*BRANDS, "Zeta"], days)
        rebuilt = _table(conn)
    assert added.keys() == rebuilt.keys()
    assert {k[1] for k in added} == {"day", "hour"}
    assert {k[4] for k in added} == {"v1", "v2"}
    assert any(k[0] == "Zeta" for k in added)  # the mention added to an old post counted
    assert sum(r["n_amplification"] for r in added.values() if r["bucket"] == "day") > 0
    for key, row in rebuilt.items():
        assert {c: added[key][c] for c in COUNTS} == {c: row[c] for c in COUNTS}, key
        for column in RATIOS:
            if row[column] is None:
                assert added[key][column] is None, (key, column)
            else:
                assert added[key][column] == pytest.approx(row[column], abs=1e-9), (key, column)


def test_a_replayed_stream_changes_no_aggregate(streamed, scored, day):
    with streamed.begin() as conn:
        before = {k: {c: r[c] for c in COUNTS + RATIOS} for k, r in _table(conn).items()}
        for n, items in enumerate(_stream(scored, day)):
            repository.commit_batch(conn, Batch("tweets", str(n), str(n + 1), items))
        after = {k: {c: r[c] for c in COUNTS + RATIOS} for k, r in _table(conn).items()}
    assert after == before
