"""brand_sentiment refreshes, checked against sums done by hand."""

import threading
from datetime import date

import pytest
from sqlalchemy import select

from db import repository
from db.buckets import bucket_start, floor_to_bucket
from db.tables import brand_sentiment, posts
from pipeline.records import Batch


@pytest.fixture
def two_sources(db, scored, day):
    """Reviews and tweets about Apple and Google on 1 and 2 January, committed."""
    reviews = Batch(
        "reviews",
        None,
        "r:4",
        [
            scored("r1", "positive", (0.1, 0.2, 0.7), day(1, 10), brands=("Apple", "Google")),
            scored("r2", "negative", (0.8, 0.1, 0.1), day(1, 15), brands=("Apple",)),
            scored("r3", "neutral", (0.2, 0.6, 0.2), day(1, 16)),  # mentions no brand
            scored("r4", "neutral", (0.3, 0.5, 0.2), day(2, 9), brands=("Apple",)),
        ],
    )
    tweets = Batch(
        "tweets",
        None,
        "t:2",
        [
            scored(
                "t1",
                "positive",
                (0.0, 0.1, 0.9),
                day(1, 23, 59),
                source="tweets",
                brands=("Apple",),
            ),
            scored(
                "t2", "negative", (0.6, 0.3, 0.1), day(1, 0), source="tweets", brands=("Google",)
            ),
        ],
    )
    with db.begin() as conn:
        repository.commit_batch(conn, reviews)
        repository.commit_batch(conn, tweets)
    return db


def aggregates(conn, model_version="v1", bucket="day"):
    bs = brand_sentiment.c
    query = select(brand_sentiment).where(bs.model_version == model_version, bs.bucket == bucket)
    return {
        (r.brand, r.bucket_start, r.source): (
            r.volume,
            r.n_negative,
            r.n_neutral,
            r.n_positive,
            pytest.approx(r.mean_score),
            pytest.approx(r.net_sentiment),
        )
        for r in conn.execute(query)
    }


def extra_columns(conn, bucket="day"):
    """(n_unique, n_amplification, nss) per (brand, bucket_start, source)."""
    bs = brand_sentiment.c
    query = select(brand_sentiment).where(bs.model_version == "v1", bs.bucket == bucket)
    return {
        (r.brand, r.bucket_start, r.source): (r.n_unique, r.n_amplification, r.nss)
        for r in conn.execute(query)
    }


def test_aggregates_equal_a_hand_computation(two_sources, day):
    d1, d2 = floor_to_bucket(day(1), "day"), floor_to_bucket(day(2), "day")
    with two_sources.connect() as conn:
        got = aggregates(conn)
    # (volume, negative, neutral, positive, mean score, net sentiment)
    assert got == {
        ("Apple", d1, "reviews"): (2, 1, 0, 1, (0.6 - 0.7) / 2, 0.0),
        ("Google", d1, "reviews"): (1, 0, 0, 1, 0.6, 1.0),
        ("Apple", d2, "reviews"): (1, 0, 1, 0, -0.1, 0.0),
        ("Apple", d1, "tweets"): (1, 0, 0, 1, 0.9, 1.0),
        ("Google", d1, "tweets"): (1, 1, 0, 0, -0.5, -1.0),
    }


def test_a_late_post_updates_its_old_day_bucket(two_sources, scored, day):
    d1, d2 = floor_to_bucket(day(1), "day"), floor_to_bucket(day(2), "day")
    with two_sources.connect() as conn:
        day2_before = conn.execute(
            select(brand_sentiment).where(brand_sentiment.c.bucket_start == d2)
        ).all()
    late = Batch(
        "reviews",
        "r:4",
        "r:5",
        [scored("r5", "positive", (0.0, 0.2, 0.8), day(1, 8), brands=("Apple",))],
    )
    with two_sources.begin() as conn:
        counts = repository.commit_batch(conn, late)
        got = aggregates(conn)
        day2_after = conn.execute(
            select(brand_sentiment).where(brand_sentiment.c.bucket_start == d2)
        ).all()
    assert counts.touched == 1
    assert got[("Apple", d1, "reviews")] == (3, 1, 0, 2, (0.6 - 0.7 + 0.8) / 3, 1 / 3)
    assert day2_after == day2_before  # untouched, updated_at included


def test_a_new_model_version_gets_its_own_aggregates(two_sources, scored, day):
    rescored = Batch(
        "reviews",
        "r:4",
        "r:4",
        [
            scored(
                "r2", "positive", (0.1, 0.1, 0.8), day(1, 15), brands=("Apple",), model_version="v2"
            )
        ],
    )
    with two_sources.begin() as conn:
        before_v1 = aggregates(conn, "v1")
        counts = repository.commit_batch(conn, rescored)
        assert counts.n_new_posts == 0 and counts.n_new_predictions == 1
        assert aggregates(conn, "v1") == before_v1
        assert aggregates(conn, "v2") == {
            ("Apple", floor_to_bucket(day(1), "day"), "reviews"): (1, 0, 0, 1, 0.7, 1.0)
        }


def test_commits_keep_hour_buckets_too(two_sources, day):
    with two_sources.connect() as conn:
        got = aggregates(conn, bucket="hour")
    # (volume, negative, neutral, positive, mean score, net sentiment)
    assert got == {
        ("Apple", day(1, 10), "reviews"): (1, 0, 0, 1, 0.6, 1.0),
        ("Google", day(1, 10), "reviews"): (1, 0, 0, 1, 0.6, 1.0),
        ("Apple", day(1, 15), "reviews"): (1, 1, 0, 0, -0.7, -1.0),
        ("Apple", day(2, 9), "reviews"): (1, 0, 1, 0, -0.1, 0.0),
        ("Apple", day(1, 23), "tweets"): (1, 0, 0, 1, 0.9, 1.0),
        ("Google", day(1, 0), "tweets"): (1, 1, 0, 0, -0.5, -1.0),
    }


def test_one_bucket_kind_on_request_rebuilds_the_whole_day(two_sources, day):
    with two_sources.begin() as conn:
        conn.execute(brand_sentiment.delete())
        written = repository.refresh_aggregates(conn, "v1", {"Apple"}, {day(1, 15, 30)}, "hour")
        hours = aggregates(conn, bucket="hour")
        days = aggregates(conn, bucket="day")
    assert written == 3
    assert set(hours) == {
        ("Apple", day(1, 10), "reviews"),
        ("Apple", day(1, 15), "reviews"),
        ("Apple", day(1, 23), "tweets"),
    }
    assert days == {}


def test_unique_amplification_and_nss(two_sources, day):
    d1 = floor_to_bucket(day(1), "day")
    with two_sources.begin() as conn:
        before = extra_columns(conn)
        ids = dict(conn.execute(select(posts.c.external_id, posts.c.id)).all())
        # t1 becomes a retweet of r1: one more amplification, one fewer unique post.
        conn.execute(
            posts.update().where(posts.c.external_id == "t1").values(duplicate_of=ids["r1"])
        )
        repository.refresh_aggregates(conn, "v1", {"Apple"}, {d1})
        after = extra_columns(conn)
        hours = extra_columns(conn, "hour")
    assert before[("Apple", d1, "reviews")] == (2, 0, pytest.approx(0.0))
    assert before[("Apple", d1, "tweets")] == (1, 0, pytest.approx(1.0))
    assert after[("Apple", d1, "tweets")] == (0, 1, pytest.approx(1.0))
    assert after[("Apple", d1, "reviews")] == before[("Apple", d1, "reviews")]
    assert hours[("Apple", day(1, 23), "tweets")] == (0, 1, pytest.approx(1.0))
    # A bucket of neutral posts only has no NSS (0 / 0), but a net sentiment of 0.
    assert after[("Apple", floor_to_bucket(day(2), "day"), "reviews")] == (1, 0, None)


def test_refresh_takes_dates_and_clears_emptied_buckets(two_sources, day):
    with two_sources.begin() as conn:
        conn.execute(posts.delete().where(posts.c.external_id == "r4"))
        written = repository.refresh_aggregates(conn, "v1", {"Apple", "Nobody"}, {date(2024, 1, 2)})
        got = aggregates(conn)
    assert written == 0
    assert ("Apple", floor_to_bucket(day(2), "day"), "reviews") not in got
    assert len(got) == 4


def test_sql_and_python_buckets_agree(two_sources):
    with two_sources.connect() as conn:
        for bucket in ("day", "hour"):
            query = select(posts.c.created_at, bucket_start(posts.c.created_at, bucket))
            for created_at, start in conn.execute(query):
                assert start == floor_to_bucket(created_at, bucket)


def test_unknown_bucket_is_refused(db):
    with db.begin() as conn, pytest.raises(ValueError, match="use one of day, hour"):
        repository.refresh_aggregates(conn, "v1", {"Apple"}, {date(2024, 1, 1)}, "week")


def test_concurrent_commits_to_the_same_bucket_wait_for_each_other(db, scored, day):
    # Two workers, two sources, one (brand, day): the second must wait for the first to commit
    # and then count both, instead of colliding on brand_sentiment's primary key.
    first_written, release, second_done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def worker(source: str, wait_for_release: bool) -> None:
        post = scored(f"{source}-1", "positive", (0.1, 0.2, 0.7), day(1), ("Apple",), source)
        try:
            with db.begin() as conn:
                repository.commit_batch(conn, Batch(source, None, "1", [post]))
                if wait_for_release:
                    first_written.set()
                    release.wait(timeout=10)
            if not wait_for_release:
                second_done.set()
        except BaseException as err:
            errors.append(err)
            first_written.set()

    first = threading.Thread(target=worker, args=("reviews", True))
    second = threading.Thread(target=worker, args=("tweets", False))
    first.start()
    assert first_written.wait(timeout=10)
    second.start()
    assert not second_done.wait(timeout=0.5)  # blocked behind the first transaction
    release.set()
    first.join()
    second.join()
    assert errors == []
    with db.connect() as conn:
        got = aggregates(conn)
    d1 = floor_to_bucket(day(1), "day")
    assert set(got) == {("Apple", d1, "reviews"), ("Apple", d1, "tweets")}
