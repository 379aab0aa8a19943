"""The analyst views return one-line answers for the active model version; README's queries run."""

import re
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from db import repository
from db.tables import alerts
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


def test_v_brand_daily_has_unique_amplification_nss_and_share_of_voice(scored_db):
    with scored_db.begin() as conn:
        ids = dict(conn.execute(text("SELECT external_id, id FROM posts")).all())
        # t1 becomes a retweet of r1 (same day): amplification, not a unique post.
        conn.execute(
            text("UPDATE posts SET duplicate_of = :o WHERE id = :p"),
            {"o": ids["r1"], "p": ids["t1"]},
        )
        repository.refresh_aggregates(conn, "v1", ["Apple", "Google"], [datetime(2024, 1, 1)])
        rows = conn.execute(
            text(
                "SELECT brand, n_unique, n_amplification, nss, share_of_voice FROM v_brand_daily "
                "ORDER BY brand"
            )
        ).all()
    # Apple on 1 January: r1 +, r2 -, t1 + (retweet); Google: r1 +. 4 mentions in all.
    assert [tuple(r) for r in rows] == [
        ("Apple", 2, 1, pytest.approx(1 / 3), pytest.approx(3 / 4)),
        ("Google", 1, 0, pytest.approx(1.0), pytest.approx(1 / 4)),
    ]


def test_v_brand_hourly_and_v_alerts(scored_db):
    with scored_db.begin() as conn:
        hours = conn.execute(
            text("SELECT brand, hour, volume, nss FROM v_brand_hourly ORDER BY brand, hour")
        ).all()
        conn.execute(
            alerts.insert(),
            {
                "brand": "Apple",
                "kind": "sentiment-drop",
                "bucket": "day",
                "bucket_start": datetime(2024, 1, 1),
                "observed": -0.5,
                "baseline": 0.25,
                "threshold": 0.0,
                "volume": 30,
                "summary": "Apple dropped",
                "details": {"top_terms": []},
                "created_at": datetime(2024, 1, 2),
            },
        )
        alert_rows = conn.execute(text("SELECT brand, kind, change, summary FROM v_alerts")).all()
    assert [(r[0], as_day(r[1]), r[2]) for r in hours] == [
        ("Apple", datetime(2024, 1, 1, 10), 1),
        ("Apple", datetime(2024, 1, 1, 15), 1),
        ("Apple", datetime(2024, 1, 1, 20), 1),
        ("Google", datetime(2024, 1, 1, 10), 1),
    ]
    assert [tuple(r) for r in alert_rows] == [
        ("Apple", "sentiment-drop", pytest.approx(-0.75), "Apple dropped")
    ]


def readme_queries():
    """The SQL blocks of README's "Example queries" section."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Example queries", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)


def test_readme_has_three_example_queries():
    assert len(readme_queries()) == 3


@pytest.mark.parametrize("n", range(3))
def test_readme_example_query_runs_as_written(scored_db, n):
    query = readme_queries()[n].replace("United Airlines", "Apple").rstrip().rstrip(";")
    with scored_db.begin() as conn:
        conn.execute(
            alerts.insert(),
            {
                "brand": "Apple",
                "kind": "volume-spike",
                "bucket": "day",
                "bucket_start": datetime(2024, 1, 1),
                "observed": 40.0,
                "baseline": 5.0,
                "created_at": datetime(2024, 1, 2),
            },
        )
        rows = conn.execute(text(query)).all()
    assert rows, f"README query {n + 1} returned nothing"
    if n == 0:
        assert [r.volume for r in rows] == [3]
    if n == 1:
        assert [r.score for r in rows] == [pytest.approx(-0.7)]
    if n == 2:
        assert [(r.brand, r.kind, r.n_alerts) for r in rows] == [("Apple", "volume-spike", 1)]
