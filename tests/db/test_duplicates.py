"""posts.duplicate_of: retweets and copies point at the first stored post of their content."""

from sqlalchemy import select

from db import repository
from db.tables import posts
from pipeline.records import Batch

ORIGINAL = "the new phone battery dies before lunch every single day"


def _commit(db, items, source="tweets"):
    with db.begin() as conn:
        repository.commit_batch(
            conn, Batch(source=source, cursor_from=None, cursor_to=None, scored=items)
        )


def _links(db):
    with db.connect() as conn:
        rows = conn.execute(select(posts.c.external_id, posts.c.id, posts.c.duplicate_of))
        by_ext = {r.external_id: (r.id, r.duplicate_of) for r in rows}
    return {
        ext: next((e for e, (i, _) in by_ext.items() if i == dup), None)
        for ext, (_, dup) in by_ext.items()
    }


def test_retweets_in_the_same_and_later_batches_link_to_the_original(db, scored, day):
    _commit(
        db,
        [
            scored("1", "negative", (0.8, 0.1, 0.1), day(1), text=ORIGINAL),
            scored("2", "negative", (0.8, 0.1, 0.1), day(1, 13), text=f"RT @fan: {ORIGINAL}"),
            scored("3", "neutral", (0.2, 0.6, 0.2), day(1, 14), text="thanks!"),
        ],
    )
    _commit(
        db,
        [
            scored("4", "negative", (0.8, 0.1, 0.1), day(2), text=f"“@fan: {ORIGINAL}”"),
            scored("5", "neutral", (0.2, 0.6, 0.2), day(2), text="thanks!"),
        ],
        source="other",
    )
    assert _links(db) == {"1": None, "2": "1", "3": None, "4": "1", "5": None}


def test_a_replayed_batch_changes_no_link(db, scored, day):
    items = [
        scored("1", "negative", (0.8, 0.1, 0.1), day(1), text=ORIGINAL),
        scored("2", "negative", (0.8, 0.1, 0.1), day(1), text=f"RT @fan: {ORIGINAL}"),
    ]
    _commit(db, items)
    before = _links(db)
    _commit(db, items)
    assert _links(db) == before == {"1": None, "2": "1"}


def test_a_marked_retweet_of_a_short_text_links_to_its_first_post_whatever_batch(db, scored, day):
    # "thanks!" is too short to link by itself; a retweet marker makes its repeat linkable,
    # to the first post of that content, whether that came in the same batch or earlier.
    neutral = (0.2, 0.6, 0.2)
    _commit(
        db,
        [
            scored("1", "neutral", neutral, day(1), text="thanks!"),
            scored("2", "neutral", neutral, day(1), text="RT @fan: thanks!"),
            scored("3", "neutral", neutral, day(1), text="RT @fan: Thanks"),
        ],
    )
    _commit(
        db,
        [
            scored("4", "neutral", neutral, day(2), text="RT @other: thanks!"),
            scored("5", "neutral", neutral, day(2), text="thanks!"),
            scored("6", "neutral", neutral, day(2), text=f"RT @fan: {ORIGINAL}"),
            scored("7", "neutral", neutral, day(2), text=ORIGINAL),
        ],
    )
    links = _links(db)
    assert links == {"1": None, "2": "1", "3": "1", "4": "1", "5": None, "6": None, "7": "6"}
