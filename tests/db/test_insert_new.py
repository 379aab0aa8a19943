"""db.sql.insert_new: the bulk upsert behind every batch commit (a load table filled by COPY on
PostgreSQL, by executemany on SQLite)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from db.sql import insert_fresh, insert_new
from db.tables import batches, posts


def _post(n, when):
    return {
        "source": "s",
        "external_id": str(n),
        "text": f'text {n}, with a tab\there and a quote " and \\ backslash',
        "created_at": when,
        "ingested_at": when,
        "author": None,
        "url": None,
        "lang": "en",
        "content_hash": f"h{n}",
    }


def test_only_new_rows_come_back_and_values_round_trip(db):
    paris = timezone(timedelta(hours=1))
    when = datetime(2026, 1, 2, 13, 30, tzinfo=paris)  # stored as 12:30 UTC
    key, returning = [posts.c.source, posts.c.external_id], [posts.c.id, posts.c.external_id]
    with db.begin() as conn:
        first = insert_new(conn, posts, [_post(n, when) for n in range(3)], key, returning)
        # Again in the same transaction: two old rows, one new.
        again = insert_new(conn, posts, [_post(n, when) for n in (1, 2, 3)], key, returning)
    assert sorted(r.external_id for r in first) == ["0", "1", "2"]
    assert [r.external_id for r in again] == ["3"]
    with db.connect() as conn:
        stored = conn.execute(select(posts).order_by(posts.c.id)).mappings().all()
    assert [r["external_id"] for r in stored] == ["0", "1", "2", "3"]
    assert stored[0]["text"] == _post(0, when)["text"]
    assert stored[0]["created_at"] == datetime(2026, 1, 2, 12, 30, tzinfo=UTC)
    assert stored[0]["author"] is None


@pytest.mark.parametrize("microsecond", [0, 123456])
def test_rows_are_stored_exactly_as_sqlalchemys_own_insert_stores_them(db, microsecond):
    # The load table bypasses SQLAlchemy's statement execution, not its types: a timestamp must
    # keep its stored form (SQLite compares the ISO text, ".000000" included).
    when = datetime(2026, 1, 2, 12, 30, 5, microsecond, tzinfo=UTC)
    key = [posts.c.source, posts.c.external_id]
    with db.begin() as conn:
        insert_new(conn, posts, [_post(1, when)], key, [posts.c.id])
        conn.execute(insert(posts), [_post(2, when)])
        raw = conn.exec_driver_sql(
            "SELECT created_at, ingested_at, text FROM posts ORDER BY external_id"
        ).all()
    assert raw[0][:2] == raw[1][:2]
    assert raw[0][2] == _post(1, when)["text"]
    with db.connect() as conn:
        assert conn.execute(select(posts.c.created_at)).scalars().all() == [when, when]


def test_json_columns_are_stored_as_their_type_stores_them(db):
    now = datetime(2026, 1, 2, tzinfo=UTC)
    row = {
        "source": "s",
        "cursor_from": None,
        "cursor_to": "c",
        "n_read": 1,
        "n_posts": 1,
        "n_new_posts": 1,
        "n_rejects": 0,
        "model_version": "v1",
        "started_at": now,
        "finished_at": now,
        "timings": {"read": 0.5},
        "flow_run_id": None,
    }
    with db.begin() as conn:
        new = insert_new(conn, batches, [row], [batches.c.id], [batches.c.id])
        assert len(new) == 1
        assert conn.execute(select(batches.c.timings)).scalar_one() == {"read": 0.5}


def test_nothing_to_insert(db):
    with db.begin() as conn:
        assert insert_new(conn, posts, [], [posts.c.id], [posts.c.id]) == []


def test_insert_fresh_stores_rows_as_insert_new_does(db):
    when = datetime(2026, 1, 2, 12, 30, 5, 123456, tzinfo=UTC)
    key = [posts.c.source, posts.c.external_id]
    with db.begin() as conn:
        insert_new(conn, posts, [_post(1, when)], key, [posts.c.id])
        insert_fresh(conn, posts, [_post(2, when), _post(3, when)])
        raw = conn.exec_driver_sql(
            "SELECT created_at, ingested_at, text FROM posts ORDER BY external_id"
        ).all()
    assert raw[0][:2] == raw[1][:2] == raw[2][:2]
    assert [r[2] for r in raw] == [_post(n, when)["text"] for n in (1, 2, 3)]


def test_insert_fresh_never_drops_a_conflicting_row_silently(db):
    # It is for rows that cannot conflict; one that does is a bug, and fails loudly.
    when = datetime(2026, 1, 2, tzinfo=UTC)
    with db.begin() as conn:
        insert_fresh(conn, posts, [_post(1, when)])
    # SQLAlchemy's IntegrityError on SQLite; psycopg's own UniqueViolation from COPY.
    with pytest.raises(Exception, match=r"(?i)unique"), db.begin() as conn:
        insert_fresh(conn, posts, [_post(2, when), _post(1, when)])
    with db.connect() as conn:
        assert conn.execute(select(posts.c.external_id)).scalars().all() == ["1"]
