"""Migration 0003 rebuilds brand_sentiment from the stored rows, and downgrades cleanly."""

from datetime import datetime

import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from db import migrate, repository
from db.tables import brand_sentiment

POSTS = [
    # id, source, created_at, duplicate_of, brand, label, score
    (1, "reviews", datetime(2024, 1, 1, 10, 5), None, "Apple", "positive", 0.6),
    (2, "reviews", datetime(2024, 1, 1, 10, 50), 1, "Apple", "positive", 0.5),
    (3, "tweets", datetime(2024, 1, 1, 23, 59), None, "Apple", "negative", -0.8),
    (4, "tweets", datetime(2024, 1, 2, 0, 0), None, "Google", "neutral", 0.0),
]


def run_alembic(engine, fn, revision):
    config = migrate._config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        fn(config, revision)


def snapshot(conn):
    bs = brand_sentiment.c
    rows = conn.execute(
        select(brand_sentiment).order_by(bs.bucket, bs.brand, bs.bucket_start, bs.source)
    )
    return [
        (
            r.brand,
            r.bucket,
            r.bucket_start,
            r.source,
            r.model_version,
            r.volume,
            r.n_unique,
            r.n_amplification,
            r.n_negative,
            r.n_neutral,
            r.n_positive,
            pytest.approx(r.mean_score),
            pytest.approx(r.net_sentiment),
            None if r.nss is None else pytest.approx(r.nss),
        )
        for r in rows
    ]


def test_upgrade_from_0002_rebuilds_day_and_hour_aggregates(engine):
    run_alembic(engine, command.upgrade, "0002")
    with engine.begin() as conn:
        for pid, source, created, dup, brand, label, score in POSTS:
            conn.execute(
                text(
                    "INSERT INTO posts (id, source, external_id, text, created_at, ingested_at, "
                    "duplicate_of) VALUES (:id, :s, :e, 't', :c, :c, :d)"
                ),
                {"id": pid, "s": source, "e": str(pid), "c": created, "d": dup},
            )
            conn.execute(text("INSERT INTO post_brands VALUES (:p, :b)"), {"p": pid, "b": brand})
            conn.execute(
                text(
                    "INSERT INTO predictions (post_id, model_version, label, p_negative, "
                    "p_neutral, p_positive, score, scored_at) "
                    "VALUES (:p, 'v1', :l, 0, 0, 0, :sc, :c)"
                ),
                {"p": pid, "l": label, "sc": score, "c": created},
            )
    migrate.upgrade(engine)
    with engine.begin() as conn:
        migrated = snapshot(conn)
        conn.execute(brand_sentiment.delete())
        repository.refresh_aggregates(
            conn, "v1", ["Apple", "Google"], [datetime(2024, 1, 1), datetime(2024, 1, 2)]
        )
        refreshed = snapshot(conn)
    assert migrated == refreshed
    assert len([r for r in migrated if r[1] == "hour"]) == 3  # posts 1 and 2 share an hour
    apple_reviews_day = next(r for r in migrated if r[:2] == ("Apple", "day") and r[3] == "reviews")
    assert apple_reviews_day[5:8] == (2, 1, 1)  # volume, unique, amplification


def test_downgrade_to_0002_and_back(db):
    run_alembic(db, command.downgrade, "0002")
    columns = {c["name"] for c in inspect(db).get_columns("brand_sentiment")}
    assert "n_unique" not in columns and "nss" not in columns
    assert "v_brand_daily" in inspect(db).get_view_names()
    assert "v_alerts" not in inspect(db).get_view_names()
    migrate.upgrade(db)
    assert {"v_brand_daily", "v_brand_hourly", "v_alerts"} <= set(inspect(db).get_view_names())
