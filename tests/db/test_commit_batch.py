"""commit_batch: one transaction that writes a micro-batch, idempotently."""

import pytest
from sqlalchemy import func, select

from db import repository
from db.tables import (
    batches,
    brand_sentiment,
    metadata,
    post_brands,
    posts,
    predictions,
    rejects,
    source_cursors,
)
from pipeline.records import Batch, Reject


@pytest.fixture
def batch(scored, day):
    return Batch(
        source="reviews",
        cursor_from=None,
        cursor_to="reviews.jsonl:4",
        scored=[
            scored("1", "positive", (0.1, 0.2, 0.7), day(1), brands=("Apple", "Google")),
            scored("2", "negative", (0.8, 0.1, 0.1), day(1), brands=("Apple", "Apple")),
            scored("3", "neutral", (0.2, 0.6, 0.2), day(2), text=""),  # no brand, empty text
        ],
        rejects=[
            Reject("reviews", "reviews.jsonl:4", "unparsable created_at", "x" * 5000, "4"),
            Reject("reviews", "reviews.jsonl:5", "not UTF-8", "bad\x00bytes"),
        ],
        timings={"read": 0.5, "score": 1.5},
    )


def snapshot(conn, skip=("batches",)):
    """Every row of every table but ``skip``, in a stable order."""
    rows = {}
    for table in metadata.sorted_tables:
        if table.name in skip:
            continue
        query = select(table).order_by(*table.primary_key.columns)
        rows[table.name] = [tuple(r) for r in conn.execute(query)]
    return rows


def count(conn, table):
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_commit_batch_writes_everything(db, batch, day):
    with db.begin() as conn:
        counts = repository.commit_batch(conn, batch, flow_run_id="run-1")
    assert (counts.n_posts, counts.n_new_posts, counts.n_rejects, counts.n_new_rejects) == (
        3,
        3,
        2,
        2,
    )
    assert counts.n_new_predictions == 3
    assert counts.touched == 2  # (Apple, day 1), (Google, day 1)
    with db.connect() as conn:
        stored = {r.external_id: r for r in conn.execute(select(posts))}
        assert stored["1"].created_at == day(1)
        assert stored["3"].text == ""
        assert stored["1"].ingested_at.tzinfo is not None
        assert len(stored["1"].content_hash) == 64
        mentions = conn.execute(
            select(posts.c.external_id, post_brands.c.brand).join(post_brands)
        ).all()
        assert sorted(mentions) == [("1", "Apple"), ("1", "Google"), ("2", "Apple")]
        scores = dict(
            conn.execute(select(posts.c.external_id, predictions.c.score).join(predictions)).all()
        )
        assert scores == pytest.approx({"1": 0.6, "2": -0.7, "3": 0.0})
        assert conn.execute(select(predictions.c.label, predictions.c.model_version)).all()
        raws = dict(conn.execute(select(rejects.c.locator, rejects.c.raw)).all())
        assert len(raws["reviews.jsonl:4"]) == repository.RAW_LIMIT
        assert raws["reviews.jsonl:5"] == "bad\ufffdbytes"
        assert repository.get_cursor(conn, "reviews") == "reviews.jsonl:4"
        audit = conn.execute(select(batches)).one()
        assert (audit.n_read, audit.n_posts, audit.n_new_posts, audit.n_rejects) == (5, 3, 3, 2)
        assert audit.flow_run_id == "run-1"
        assert audit.model_version == "v1"
        assert audit.timings == {"read": 0.5, "score": 1.5}
        assert (audit.finished_at - audit.started_at).total_seconds() == pytest.approx(2.0)
        # (day buckets; hour buckets are kept too, see test_aggregates.py)
        day_rows = select(func.count()).where(brand_sentiment.c.bucket == "day")
        assert conn.execute(day_rows).scalar_one() == 2


def test_replaying_a_batch_adds_only_an_audit_row(db, batch):
    with db.begin() as conn:
        repository.commit_batch(conn, batch)
    with db.connect() as conn:
        before = snapshot(conn)
    with db.begin() as conn:
        counts = repository.commit_batch(conn, batch)
    assert (counts.n_new_posts, counts.n_new_rejects, counts.n_new_predictions) == (0, 0, 0)
    assert counts.touched == 0
    with db.connect() as conn:
        assert snapshot(conn) == before
        assert count(conn, batches) == 2
        assert conn.execute(
            select(batches.c.n_new_posts).order_by(batches.c.id)
        ).scalars().all() == [3, 0]


def test_stored_posts_gain_what_they_lack_beside_new_posts(db, scored, day):
    # New posts' mentions and predictions go in without a conflict check (db.sql.insert_fresh),
    # a stored post's through ON CONFLICT: one batch holding both must count each right.
    post_1 = {"label": "positive", "p": (0.1, 0.2, 0.7), "created_at": day(1), "text": "one"}
    first = Batch("reviews", None, "r:1", [scored("1", **post_1)])
    with db.begin() as conn:
        repository.commit_batch(conn, first)
    again = scored("1", **post_1, brands=("Apple", "Google"))
    new = scored("2", "negative", (0.8, 0.1, 0.1), day(1), brands=("Google",), text="two")
    with db.begin() as conn:
        counts = repository.commit_batch(conn, Batch("reviews", "r:1", "r:3", [again, new]))
    assert (counts.n_new_posts, counts.n_new_predictions) == (1, 1)
    with db.connect() as conn:
        mentions = conn.execute(
            select(posts.c.external_id, post_brands.c.brand).join(post_brands)
        ).all()
        assert sorted(mentions) == [("1", "Apple"), ("1", "Google"), ("2", "Google")]
        assert count(conn, predictions) == 2
        google = select(func.sum(brand_sentiment.c.volume)).where(
            brand_sentiment.c.brand == "Google", brand_sentiment.c.bucket == "day"
        )
        assert conn.execute(google).scalar_one() == 2


def test_a_post_read_again_with_another_text_keeps_what_it_was_stored_with(db, scored, day):
    # A source reset and read with a corrected --map: the id's stored text is not the one
    # read now, so the brands and score found now (of the new text) are not added to it.
    wrong = scored("1", "neutral", (0.2, 0.6, 0.2), day(1), text="user0")
    with db.begin() as conn:
        repository.commit_batch(conn, Batch("reviews", None, "r:1", [wrong]))
    right = scored("1", "positive", (0.1, 0.1, 0.8), day(1), brands=("Apple",), text="love it")
    same = scored("2", "negative", (0.8, 0.1, 0.1), day(1), brands=("Apple",), text="broke")
    with db.begin() as conn:
        repository.commit_batch(conn, Batch("reviews", None, "r:2", [same]))
        counts = repository.commit_batch(conn, Batch("reviews", None, "r:2", [right, same]))
    assert counts.n_differing == 1 and counts.n_new_posts == 0
    with db.connect() as conn:
        mentions = conn.execute(
            select(posts.c.external_id, post_brands.c.brand).join(post_brands)
        ).all()
        assert mentions == [("2", "Apple")]  # none for "user0"
        stored = conn.execute(select(posts.c.text).where(posts.c.external_id == "1"))
        assert stored.scalar_one() == "user0"
        apple = select(func.sum(brand_sentiment.c.volume)).where(
            brand_sentiment.c.brand == "Apple", brand_sentiment.c.bucket == "day"
        )
        assert conn.execute(apple).scalar_one() == 1


def test_a_failed_transaction_leaves_nothing_and_the_cursor_unmoved(db, batch):
    with pytest.raises(RuntimeError, match="crash after commit_batch"), db.begin() as conn:
        repository.commit_batch(conn, batch)
        raise RuntimeError("crash after commit_batch")
    with db.connect() as conn:
        assert all(rows == [] for rows in snapshot(conn, skip=()).values())
        assert repository.get_cursor(conn, "reviews") is None


def test_the_cursor_advances_batch_by_batch(db, scored, day):
    first = Batch("reviews", None, "a:1", [scored("1", "neutral", (0.3, 0.4, 0.3), day(1))])
    second = Batch("reviews", "a:1", "a:2", [scored("2", "neutral", (0.3, 0.4, 0.3), day(1))])
    with db.begin() as conn:
        repository.commit_batch(conn, first)
    with db.begin() as conn:
        assert repository.get_cursor(conn, "reviews") == "a:1"
        repository.commit_batch(conn, second)
    with db.connect() as conn:
        assert repository.get_cursor(conn, "reviews") == "a:2"
        assert repository.get_cursor(conn, "tweets") is None
        assert count(conn, source_cursors) == 1


def test_an_empty_batch_only_moves_the_cursor(db):
    with db.begin() as conn:
        counts = repository.commit_batch(conn, Batch("reviews", None, "a:9"))
    assert (counts.n_posts, counts.n_new_posts, counts.n_rejects, counts.touched) == (0, 0, 0, 0)
    with db.connect() as conn:
        assert repository.get_cursor(conn, "reviews") == "a:9"
        assert conn.execute(select(batches.c.model_version)).scalar_one() is None


def test_a_post_listed_twice_in_a_batch_is_written_once(db, scored, day):
    twice = scored("1", "positive", (0.1, 0.2, 0.7), day(1), brands=("Apple",))
    with db.begin() as conn:
        counts = repository.commit_batch(conn, Batch("reviews", None, "a:2", [twice, twice]))
    assert (counts.n_posts, counts.n_new_posts, counts.n_new_predictions) == (2, 1, 1)
    with db.connect() as conn:
        assert count(conn, posts) == 1
        day_volume = select(brand_sentiment.c.volume).where(brand_sentiment.c.bucket == "day")
        assert conn.execute(day_volume).scalar_one() == 1


def test_a_batch_larger_than_one_id_lookup_chunk(db, scored, day):
    many = [
        scored(str(i), "positive", (0.1, 0.2, 0.7), day(1 + i % 3), brands=("Apple",))
        for i in range(1_234)
    ]
    with db.begin() as conn:
        counts = repository.commit_batch(conn, Batch("reviews", None, "a:1234", many))
    assert counts.n_new_posts == 1_234
    with db.connect() as conn:
        assert count(conn, predictions) == 1_234
        volumes = conn.execute(
            select(func.sum(brand_sentiment.c.volume)).where(brand_sentiment.c.bucket == "day")
        ).scalar_one()
        assert volumes == 1_234
