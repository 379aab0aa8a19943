"""The analyst views return one-line answers for the active model version."""

from datetime import datetime

import pytest
from sqlalchemy import text

from db import repository
from pipeline.records import Batch


@pytest.fixture
def scored_db(db, scored, day):
    batch = Batch(
        "reviews",
        None,
        "r:3",
        [
            scored("r1", "positive", (0.1, 0.2, 0.7), day(1, 10), brands=("Apple", "Google")),
            scored("r2", "negative", (0.8, 0.1, 0.1), day(1, 15), brands=("Apple",)),
            scored("r3", "neutral", (0.2, 0.6, 0.2), day(2, 9)),
        ],
    )
    tweets = Batch(
        "tweets",
        None,
        "t:1",
        [scored("t1", "positive", (0.0, 0.1, 0.9), day(1, 20), source="tweets", brands=("Apple",))],
    )
    rescored = Batch(
        "reviews",
        "r:3",
        "r:3",
        [scored("r1", "negative", (0.9, 0.1, 0.0), day(1, 10), ("Apple",), model_version="v2")],
    )
    with db.begin() as conn:
        repository.register_model_version(conn, "v1", "m/v1", "a" * 64, {}, activate=True)
        repository.register_model_version(conn, "v2", "m/v2", "b" * 64, {})
        for b in (batch, tweets, rescored):
            repository.commit_batch(conn, b)
    return db


def as_day(value):
    """A view's ``day``: a datetime on PostgreSQL, SQLAlchemy's ISO text on SQLite."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def test_v_scored_posts_has_one_line_per_post_of_the_active_model(scored_db):
    query = text(
        "SELECT external_id, source, model_version, label, score, n_brands "
        "FROM v_scored_posts ORDER BY external_id"
    )
    with scored_db.connect() as conn:
        rows = [tuple(r) for r in conn.execute(query)]
    assert rows == [
        ("r1", "reviews", "v1", "positive", pytest.approx(0.6), 2),
        ("r2", "reviews", "v1", "negative", pytest.approx(-0.7), 1),
        ("r3", "reviews", "v1", "neutral", pytest.approx(0.0), 0),  # brand-less, still there
        ("t1", "tweets", "v1", "positive", pytest.approx(0.9), 1),
    ]
    with scored_db.begin() as conn:
        repository.activate_model_version(conn, "v2")
        rows = [tuple(r) for r in conn.execute(query)]
    assert rows == [("r1", "reviews", "v2", "negative", pytest.approx(-0.9), 2)]


def test_v_brand_daily_sums_sources_for_the_active_model(scored_db):
    query = text(
        "SELECT brand, day, model_version, volume, n_negative, n_neutral, n_positive, "
        "mean_score, net_sentiment FROM v_brand_daily ORDER BY brand, day"
    )
    with scored_db.connect() as conn:
        rows = [(r[0], as_day(r[1]), *r[2:]) for r in conn.execute(query)]
    assert rows == [
        (
            "Apple",
            datetime(2024, 1, 1),
            "v1",
            3,
            1,
            0,
            2,
            pytest.approx(0.8 / 3),
            pytest.approx(1 / 3),
        ),
        ("Google", datetime(2024, 1, 1), "v1", 1, 0, 0, 1, pytest.approx(0.6), pytest.approx(1.0)),
    ]
    with scored_db.begin() as conn:
        repository.activate_model_version(conn, "v2")
        rows = [(r[0], as_day(r[1]), *r[2:]) for r in conn.execute(query)]
    # r1 mentions Google too: its new prediction counts there as well.
    assert rows == [
        ("Apple", datetime(2024, 1, 1), "v2", 1, 1, 0, 0, pytest.approx(-0.9), pytest.approx(-1.0)),
        (
            "Google",
            datetime(2024, 1, 1),
            "v2",
            1,
            1,
            0,
            0,
            pytest.approx(-0.9),
            pytest.approx(-1.0),
        ),
    ]
