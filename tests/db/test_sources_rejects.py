"""db/sources.py and db/rejects.py: where each source stands, and settling replayed rejects."""

import json
from datetime import UTC, datetime

from db import repository
from db.partitions import partition_key, set_cursor
from db.rejects import (
    StillRejected,
    clear_superseded,
    count_unreplayable,
    list_rejects,
    reject_columns,
    replayable_rejects,
    settle_rejects,
)
from db.sources import forget_cursors, source_states
from pipeline.records import Batch, Reject


def _commit(conn, source, cursor_to, rejects=()):
    repository.commit_batch(conn, Batch(source, None, cursor_to, [], list(rejects)))


def test_sources_group_per_file_cursors_and_count_rejects(db):
    big = "x" * 25_000
    with db.begin() as conn:
        _commit(
            conn,
            "reviews",
            json.dumps({"file": "a.csv", "offset": 10}),
            [
                Reject("reviews", "a.csv@0", "missing text", "r1,", "r1", {"id": "r1", "t": big}),
                Reject("reviews", "a.csv@5", "invalid UTF-8", "\ufffd", None, None),
            ],
        )
        for name in ("x.jsonl", "y.jsonl"):
            key = partition_key("landing", name)
            _commit(conn, key, json.dumps({"file": name, "offset": 3}))
        set_cursor(conn, "odd/name", json.dumps({"file": "other", "offset": 1}))
    with db.connect() as conn:
        states = {s.name: s for s in source_states(conn)}
    assert set(states) == {"reviews", "landing", "odd/name"}
    assert states["reviews"].rejects == 2 and states["reviews"].batches == 1
    assert states["reviews"].last_batch_at is not None
    assert states["reviews"].last_batch_at.tzinfo is UTC
    assert set(states["landing"].partitions) == {"x.jsonl", "y.jsonl"}
    assert states["landing"].batches == 2 and states["landing"].position is None

    with db.connect() as conn:
        rows = list_rejects(conn, "reviews", reason="MISSING")
        assert [r.locator for r in rows] == ["a.csv@0"] and rows[0].replayable
        (kept,) = replayable_rejects(conn, "reviews", 0, 10)
        assert kept.fields == {"id": "r1", "t": big}  # kept whole: the cut is the validator's
        assert count_unreplayable(conn, "reviews") == 1

    with db.begin() as conn:
        assert forget_cursors(conn, "landing", ["x.jsonl"]) == 1
        settle_rejects(conn, [], [StillRejected(kept.id, "empty text", "r1")])
    with db.connect() as conn:
        assert set(source_states(conn)[0].partitions) == {"y.jsonl"}
        assert list_rejects(conn, "reviews", limit=1)[0].reason == "empty text"
    with db.begin() as conn:
        assert forget_cursors(conn, "landing") == 1
        settle_rejects(conn, [kept.id], [])
        assert repository.get_cursor(conn, partition_key("landing", "y.jsonl")) is None
    with db.connect() as conn:
        assert [r.locator for r in list_rejects(conn)] == ["a.csv@5"]
        assert datetime.now(UTC) >= list_rejects(conn)[0].created_at


def test_the_sources_a_report_can_filter_on_include_those_without_figures(db):
    from db.report_queries import sources_seen

    # A batch without brand mentions leaves no aggregates: the source is known by its cursor,
    # and a source read per file is known once, by its own name.
    with db.begin() as conn:
        _commit(conn, "shop", "12")
        set_cursor(conn, partition_key("landing", "a.csv"), "1")
        set_cursor(conn, partition_key("landing", "b.csv"), "2")
    with db.connect() as conn:
        assert sources_seen(conn) == ["landing", "shop"]


def test_rejects_read_again_are_cleared_within_the_span_the_batch_read(db):
    """An input fixed and read again: the batch's posts and the span of each file it read
    supersede the rejects stored there before; its own rejects and those elsewhere stay."""
    old = [
        ("a.jsonl@0", "invalid JSON"),
        ("a.jsonl@40", "missing text"),  # a line later fixed: its offset is a post's now
        ("a.jsonl@95", "empty text"),  # moved to @93 by the fix above it
        ("a.jsonl@400", "empty text"),  # after the span read again
        ("a.jsonl@x@50", "empty text"),  # another file whose name starts alike
        ("b.jsonl@50", "empty text"),  # another file
        ("stream/1-0", "invalid JSON"),  # a Redis entry
        ("stream/2-0", "invalid JSON"),
    ]
    with db.begin() as conn:
        _commit(conn, "feed", None, [Reject("feed", at, why, "{") for at, why in old])
        _commit(conn, "other", None, [Reject("other", "a.jsonl@40", "empty text", "{")])
    with db.begin() as conn:
        cleared = clear_superseded(
            conn, "feed", ["a.jsonl@0", "a.jsonl@40", "a.jsonl@130", "stream/1-0"], ["a.jsonl@93"]
        )
        assert clear_superseded(conn, "none", ["a.jsonl@0"], []) == 0  # no rejects at all
    with db.connect() as conn:
        left = {r.locator for r in list_rejects(conn, "feed", limit=100)}
        assert count_unreplayable(conn, "other") == 1
    assert cleared == 4  # @0, @40, @95 and stream/1-0
    assert left == {"a.jsonl@400", "a.jsonl@x@50", "b.jsonl@50", "stream/2-0"}


def test_posts_none_of_which_the_active_version_labelled_are_told_apart(db, scored, day):
    from db.report_queries import unlabelled_by

    with db.connect() as conn:
        assert not unlabelled_by(conn, "v2")  # no posts at all: nothing to backfill
    with db.begin() as conn:
        repository.commit_batch(
            conn, Batch("reviews", None, "r:1", [scored("1", "positive", (0.1, 0.1, 0.8), day(1))])
        )
    with db.connect() as conn:
        assert not unlabelled_by(conn, "v1")
        assert unlabelled_by(conn, "v2")  # activated after the posts were stored


def test_the_columns_a_replay_map_is_checked_against_are_every_reject_s(db):
    # Records of one JSONL file need not share their keys: the oldest reject has no text
    # column, a later one has it under "reviewbody", which a map may name.
    def reject(n, fields):
        return Reject("feed", f"feed.jsonl@{n}", "missing text", json.dumps(fields), None, fields)

    with db.begin() as conn:
        assert reject_columns(conn, "feed") is None
        repository.commit_batch(
            conn,
            Batch(
                source="feed",
                cursor_from=None,
                cursor_to=None,
                scored=[],
                rejects=[
                    reject(10, {"review_id": "a", "headline": "x"}),
                    reject(20, {"review_id": "b", "reviewbody": "y"}),
                    Reject("feed", "feed.jsonl@30", "invalid JSON", "{"),  # no fields kept
                ],
            ),
        )
        assert reject_columns(conn, "feed") == ["review_id", "headline", "reviewbody"]
        assert reject_columns(conn, "other") is None
