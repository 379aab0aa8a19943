"""Out-of-domain signals on the ``batches`` rows: written by commit_batch, read back per source by
the report, and added to existing databases by migration 0004."""

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from db import migrate, repository
from db.report_queries import source_signals
from db.tables import batches
from pipeline.model.domain_shift import DomainSignals
from pipeline.records import Batch

SIGNAL_COLUMNS = ("n_scored", "n_model_tokens", "unknown_token_share", "mean_top_probability")


def commit(db, scored, day, source, n, signals, version="v1", first_id=0):
    posts = [
        scored(str(first_id + i), "neutral", (0.2, 0.6, 0.2), day(1), model_version=version)
        for i in range(n)
    ]
    batch = Batch(source, None, f"c{first_id + n}", scored=posts, signals=signals)
    with db.begin() as conn:
        return repository.commit_batch(conn, batch).batch_id


def row(db, batch_id):
    with db.connect() as conn:
        return conn.execute(select(batches).where(batches.c.id == batch_id)).one()


def test_commit_batch_records_the_signals(db, scored, day):
    signals = DomainSignals(n_scored=3, n_tokens=40, n_unknown=6, top_probability_sum=2.1)
    stored = row(db, commit(db, scored, day, "reviews", 3, signals))
    assert (stored.n_scored, stored.n_model_tokens) == (3, 40)
    assert stored.unknown_token_share == pytest.approx(0.15)
    assert stored.mean_top_probability == pytest.approx(0.7)


def test_a_batch_without_signals_or_tokens_stores_nulls(db, scored, day):
    unmeasured = row(db, commit(db, scored, day, "reviews", 1, None))
    assert all(getattr(unmeasured, c) is None for c in SIGNAL_COLUMNS)
    empty = row(db, commit(db, scored, day, "reviews", 0, DomainSignals(), first_id=10))
    assert (empty.n_scored, empty.n_model_tokens) == (0, 0)
    assert empty.unknown_token_share is None and empty.mean_top_probability is None


def test_source_signals_add_up_batches_per_source(db, scored, day):
    commit(db, scored, day, "reviews", 2, DomainSignals(2, 10, 1, 1.6))
    commit(db, scored, day, "reviews", 2, DomainSignals(2, 30, 9, 1.0), first_id=2)
    # a landing folder read per file: its batches count for the source
    commit(db, scored, day, "shop/a.jsonl", 1, DomainSignals(1, 5, 5, 0.4), first_id=4)
    commit(db, scored, day, "shop/b.jsonl", 1, DomainSignals(1, 5, 0, 0.8), first_id=5)
    # another model version's batches and unmeasured ones are left out
    commit(db, scored, day, "reviews", 1, DomainSignals(1, 100, 100, 0.1), "v2", first_id=6)
    commit(db, scored, day, "reviews", 1, None, first_id=7)
    with db.connect() as conn:
        found = source_signals(conn, "v1")
        only_shop = source_signals(conn, "v1", "shop")
    assert set(found) == {"reviews", "shop"}
    assert (found["reviews"].n_scored, found["reviews"].n_tokens) == (4, 40)
    assert found["reviews"].unknown_token_share == pytest.approx(10 / 40)
    assert found["reviews"].mean_top_probability == pytest.approx(2.6 / 4)
    assert found["shop"].unknown_token_share == pytest.approx(0.5)
    assert found["shop"].mean_top_probability == pytest.approx(0.6)
    assert set(only_shop) == {"shop"}


def test_source_signals_read_the_latest_batches_only(db, scored, day):
    commit(db, scored, day, "reviews", 1, DomainSignals(1, 10, 10, 0.3))  # oldest
    commit(db, scored, day, "reviews", 1, DomainSignals(1, 10, 0, 0.9), first_id=1)
    commit(db, scored, day, "reviews", 1, DomainSignals(1, 10, 1, 0.8), first_id=2)
    with db.connect() as conn:
        recent = source_signals(conn, "v1", last_batches=2)["reviews"]
    assert (recent.n_scored, recent.n_unknown) == (2, 1)


def run_alembic(engine, fn, revision):
    config = migrate._config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        fn(config, revision)


def columns(engine):
    return {c["name"] for c in inspect(engine).get_columns("batches")}


def test_upgrade_from_0003_keeps_old_batches_unmeasured(engine):
    run_alembic(engine, command.upgrade, "0003")
    assert not set(SIGNAL_COLUMNS) & columns(engine)
    now = datetime(2026, 11, 1, tzinfo=UTC).isoformat()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO batches (source, n_read, n_posts, n_new_posts, n_rejects, "
                "started_at, finished_at) VALUES ('old', 5, 5, 5, 0, :t, :t)"
            ),
            {"t": now},
        )
    migrate.upgrade(engine)
    assert set(SIGNAL_COLUMNS) <= columns(engine)
    with engine.connect() as conn:
        old = conn.execute(select(batches).where(batches.c.source == "old")).one()
        assert all(getattr(old, c) is None for c in SIGNAL_COLUMNS)
        assert source_signals(conn, "v1") == {}


def test_downgrade_to_0003_and_back(db):
    run_alembic(db, command.downgrade, "0003")
    assert not set(SIGNAL_COLUMNS) & columns(db)
    migrate.upgrade(db)
    assert set(SIGNAL_COLUMNS) <= columns(db)
