from datetime import UTC, datetime

import pytest

from pipeline.records import Post, RawRecord, Reject
from pipeline.sources.guard import reason_kind
from pipeline.sources.validate import Validator, content_id

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def check(fields, **kw):
    return Validator("s", **kw).validate(RawRecord("f@0", fields, str(fields)), NOW)


def test_valid_record_becomes_a_post():
    post = check({"id": 7, "text": "hi", "created_at": "2026-11-01T10:00:00+02:00", "brand": "X"})
    assert isinstance(post, Post)
    assert post.external_id == "7"
    assert post.created_at == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert post.brand_hints == ("X",)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"id": 1}, "missing text"),
        ({"id": 1, "text": ""}, "missing text"),
        ({"id": 1, "text": "   "}, "empty text"),
        ({"id": 1, "text": 5}, "text is a int, not a string"),
        ({"id": 1, "text": "x" * 20_001}, "text over the size limit"),
        ({"id": 1, "text": "a\x00b"}, "text contains a NUL character"),
        ({"id": 1, "text": "x", "created_at": "not a date"}, "unparsable created_at"),
        ({"id": 1, "text": "x", "created_at": [1]}, "unparsable created_at"),
        ({"id": 1, "text": "x", "author": {"a": 1}}, "author is not a string"),
    ],
)
def test_bad_records_are_rejected_with_their_reason(fields, reason):
    result = check(fields)
    assert isinstance(result, Reject)
    assert result.reason.startswith(reason)
    assert result.locator == "f@0"


def test_a_missing_text_field_is_named_with_the_fields_the_record_has():
    # A wrong --map (or none) is fixed from the reason: it names the field looked for and
    # those there are, a bounded number of them, each cut short.
    fields = {"id": 1, "review": "great", "x" * 100: 1, **{f"f{i}": i for i in range(10)}}
    reason = check(fields, column_map={"text": "body"}).reason
    assert reason.startswith("missing text (no field 'body'; the record has 'id', 'review', ")
    assert reason.endswith(", ...; --map text=FIELD picks one)")
    assert reason_kind(reason) == "missing text"  # grouped as one kind by the first-batch guard
    assert "x" * 41 not in reason and "'f9'" not in reason
    assert check({"id": 1}).reason == (
        "missing text (no field 'text'; the record has 'id'; --map text=FIELD picks one)"
    )
    assert check({"id": 1, "text": None}).reason == "missing text"  # there, but empty


def test_reader_errors_pass_through_as_rejects():
    result = Validator("s").validate(RawRecord("f@9", None, "{bad", "invalid JSON: x"), NOW)
    assert isinstance(result, Reject) and result.reason == "invalid JSON: x"


def test_missing_id_gets_a_content_hash_and_missing_time_the_ingest_time():
    post = check({"text": "same text"})
    assert post.external_id == content_id("same text") == check({"text": "same text"}).external_id
    assert post.created_at == NOW


def test_column_map_reads_foreign_layouts():
    post = check(
        {"review": "great", "date": "2026-01-01", "uniqueID": "u1"},
        column_map={"text": "review", "created_at": "date", "id": "uniqueID"},
    )
    assert (post.text, post.external_id, post.created_at.year) == ("great", "u1", 2026)


def test_split_keeps_order_and_loses_nothing():
    records = [RawRecord(f"f@{i}", {"id": i, "text": "t" if i % 2 else ""}, "") for i in range(6)]
    posts, rejects = Validator("s").split(records, NOW)
    assert len(posts) + len(rejects) == 6
    assert [p.external_id for p in posts] == ["1", "3", "5"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1795545240", datetime.fromtimestamp(1795545240, UTC)),
        (" 1795545240.5 ", datetime.fromtimestamp(1795545240.5, UTC)),
        (1795545240, datetime.fromtimestamp(1795545240, UTC)),
        (1795545240.5, datetime.fromtimestamp(1795545240.5, UTC)),
        ("20261125", datetime(2026, 11, 25, tzinfo=UTC)),
        (20261125, datetime(2026, 11, 25, tzinfo=UTC)),  # a JSON number: the same date
    ],
)
def test_epoch_seconds_as_strings_are_utc(value, expected):
    post = check({"id": 1, "text": "x", "created_at": value})
    assert post.created_at == expected


@pytest.mark.parametrize(
    "value", ["3", "12", "-5", "1234.5", "99999999999999999999", 3, 12, -5, 1234.5, 10**20, 1e300]
)
def test_a_bare_small_or_huge_number_is_not_a_time(value):
    reject = check({"id": 1, "text": "x", "created_at": value})
    assert reject.reason.startswith("unparsable created_at")
