"""delete_source: everything a source stored goes, in one transaction; other sources keep theirs,
re-linked and re-aggregated where they repeated its posts."""

from sqlalchemy import func, select

from db import repository
from db.aggregates import refresh_aggregates
from db.partitions import partition_key, set_cursor
from db.source_removal import delete_source, source_contents
from db.tables import (
    batches,
    brand_sentiment,
    post_brands,
    posts,
    predictions,
    rejects,
    source_cursors,
)
from pipeline.records import Batch, Reject

ORIGINAL = "the new phone battery dies before lunch every single day"


def _commit(db, source, items, cursor_to="c", rejected=()):
    with db.begin() as conn:
        repository.commit_batch(
            conn,
            Batch(
                source=source,
                cursor_from=None,
                cursor_to=cursor_to,
                scored=items,
                rejects=list(rejected),
            ),
        )


def _count(conn, table, *where):
    return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def _aggregates(conn):
    c = brand_sentiment.c
    query = select(
        c.brand,
        c.bucket,
        c.bucket_start,
        c.source,
        c.model_version,
        c.volume,
        c.n_unique,
        c.n_amplification,
        c.n_negative,
        c.n_neutral,
        c.n_positive,
        c.mean_score,
    ).order_by(c.brand, c.bucket, c.bucket_start, c.source, c.model_version)
    return [tuple(row) for row in conn.execute(query)]


def _unique_posts(conn, source):
    """The source's unique posts as its day buckets count them."""
    bs = brand_sentiment.c
    query = select(func.sum(bs.n_unique)).where(bs.source == source, bs.bucket == "day")
    return conn.execute(query).scalar_one()


def _rebuilt(conn, day):
    """The aggregates as a full rebuild of every brand and day gives them."""
    refresh_aggregates(conn, "v1", ["Apple", "Google"], [day(d) for d in range(1, 4)])
    return _aggregates(conn)


def test_a_source_is_deleted_whole_and_the_others_keep_theirs(db, scored, day):
    _commit(
        db,
        "wrong",
        [
            scored("1", "negative", (0.8, 0.1, 0.1), day(1), ("Apple",), source="wrong"),
            scored("2", "positive", (0.1, 0.1, 0.8), day(2), ("Google",), source="wrong"),
        ],
        rejected=[Reject("wrong", "in.jsonl:3", "unparsable created_at", "{}", "3")],
    )
    _commit(
        db,
        "reviews",
        [scored("1", "positive", (0.1, 0.2, 0.7), day(1), ("Apple",), source="reviews")],
    )
    with db.begin() as conn:  # a per-file batch record and cursor of the same source
        key = partition_key("wrong", "b.jsonl")
        repository.commit_batch(
            conn, Batch(source=key, cursor_from=None, cursor_to=None, scored=[])
        )
        set_cursor(conn, key, '{"file": "b.jsonl", "offset": 9}')
    with db.connect() as conn:
        before = source_contents(conn, "wrong")
        others = _aggregates(conn)
    assert (before.posts, before.rejects, before.batches) == (2, 1, 2)

    with db.begin() as conn:
        done = delete_source(conn, "wrong")

    assert (done.contents, done.cursors, done.relinked) == (before, 2, 0)
    with db.begin() as conn:
        assert _count(conn, posts, posts.c.source == "wrong") == 0
        assert _count(conn, posts) == 1
        # Their predictions and mentions went with them (ON DELETE CASCADE).
        assert _count(conn, predictions) == 1 and _count(conn, post_brands) == 1
        assert _count(conn, rejects) == 0
        assert conn.execute(select(batches.c.source)).scalars().all() == ["reviews"]
        assert conn.execute(select(source_cursors.c.source)).scalars().all() == ["reviews"]
        left = _aggregates(conn)
        assert left == [row for row in others if row[3] != "wrong"]
        assert {row[3] for row in left} == {"reviews"}
        assert left == _rebuilt(conn, day)
        assert source_contents(conn, "wrong").empty


def test_posts_of_other_sources_that_repeated_its_posts_are_linked_again(db, scored, day):
    _commit(
        db,
        "wrong",
        [
            scored(
                "1", "negative", (0.8, 0.1, 0.1), day(1), ("Apple",), source="wrong", text=ORIGINAL
            )
        ],
    )

    def tweet(external_id, label, p, on_day, text):
        return scored(external_id, label, p, day(on_day), ("Apple",), source="tweets", text=text)

    _commit(
        db,
        "tweets",
        [
            tweet("a", "negative", (0.8, 0.1, 0.1), 2, f"RT @fan: {ORIGINAL}"),
            tweet("b", "negative", (0.7, 0.2, 0.1), 3, f"“@fan: {ORIGINAL}”"),
            tweet(
                "c", "positive", (0.1, 0.1, 0.8), 3, "a different text altogether about the phone"
            ),
        ],
    )
    with db.connect() as conn:
        linked = dict(conn.execute(select(posts.c.external_id, posts.c.duplicate_of)).all())
        unique_before = _unique_posts(conn, "tweets")
    assert linked["a"] is not None and linked["b"] == linked["a"] != linked["c"]
    assert unique_before == 1  # only "c": "a" and "b" repeat the other source's post

    with db.begin() as conn:
        done = delete_source(conn, "wrong")

    assert done.relinked == 2 and done.refreshed_days == 2
    with db.begin() as conn:
        rows = conn.execute(select(posts.c.external_id, posts.c.id, posts.c.duplicate_of))
        by_ext = {ext: (post_id, dup) for ext, post_id, dup in rows}
        # The first repeat is the original now, the second points at it.
        assert by_ext["a"][1] is None and by_ext["b"][1] == by_ext["a"][0]
        assert by_ext["c"][1] is None
        unique_after = _unique_posts(conn, "tweets")
        assert unique_after == 2
        assert _aggregates(conn) == _rebuilt(conn, day)


def test_deleting_a_source_leaves_sources_whose_names_start_alike(db, scored, day):
    for name in ("feed", "feed2", "feed_"):
        _commit(db, name, [scored("1", "neutral", (0.2, 0.6, 0.2), day(1), source=name)])
        with db.begin() as conn:
            repository.commit_batch(
                conn,
                Batch(
                    source=partition_key(name, "x.jsonl"),
                    cursor_from=None,
                    cursor_to=None,
                    scored=[],
                ),
            )
    with db.begin() as conn:
        delete_source(conn, "feed")
    with db.connect() as conn:
        assert sorted(conn.execute(select(posts.c.source)).scalars()) == ["feed2", "feed_"]
        assert sorted(conn.execute(select(batches.c.source)).scalars()) == [
            "feed2",
            "feed2/x.jsonl",
            "feed_",
            "feed_/x.jsonl",
        ]
