"""Late data: a post that arrives days after its event time updates its own old bucket."""

from sqlalchemy import select

from db import repository
from db.tables import brand_sentiment
from pipeline.records import Batch


def _commit(db, items):
    with db.begin() as conn:
        repository.commit_batch(
            conn, Batch(source="reviews", cursor_from=None, cursor_to=None, scored=items)
        )


def _day_rows(db):
    query = select(
        brand_sentiment.c.bucket_start, brand_sentiment.c.volume, brand_sentiment.c.n_negative
    ).where(
        brand_sentiment.c.bucket == "day",
        brand_sentiment.c.source == "reviews",
        brand_sentiment.c.brand == "Acme",
    )
    with db.connect() as conn:
        return {row.bucket_start.day: (row.volume, row.n_negative) for row in conn.execute(query)}


def test_a_late_post_updates_its_old_bucket_only(db, scored, day):
    _commit(
        db,
        [
            scored("1", "positive", (0.1, 0.1, 0.8), day(1), brands=("Acme",)),
            scored("2", "positive", (0.1, 0.1, 0.8), day(3), brands=("Acme",)),
        ],
    )
    assert _day_rows(db) == {1: (1, 0), 3: (1, 0)}
    # Arrives with the day-3 traffic, but happened on day 1.
    _commit(
        db,
        [
            scored("3", "negative", (0.8, 0.1, 0.1), day(1, 23), brands=("Acme",)),
            scored("4", "positive", (0.1, 0.1, 0.8), day(3, 9), brands=("Acme",)),
        ],
    )
    assert _day_rows(db) == {1: (2, 1), 3: (2, 0)}
