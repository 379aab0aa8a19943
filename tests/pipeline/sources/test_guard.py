"""The first-batch guard: more than half rejected for one reason refuses the batch."""

from datetime import UTC, datetime

import pytest

from pipeline.errors import FirstBatchRejectedError, UsageError
from pipeline.records import Post, RawRecord, Reject
from pipeline.sources.guard import (
    check_first_batch,
    check_mapped_fields,
    check_repeated_ids,
    first_batch_refusal,
    reason_kind,
    unmapped_field_refusal,
)


def rejects(*reasons):
    return [Reject("s", f"a.csv@{n}", reason, "raw") for n, reason in enumerate(reasons)]


@pytest.mark.parametrize(
    "reason, kind",
    [
        ("missing text", "missing text"),
        ("unparsable created_at: '3' is a bare number", "unparsable created_at"),
        ("not UTF-8 (looks like cp1252): rerun with --encoding cp1252", "not UTF-8"),
        ("record over the size limit (2,000,000 bytes > 1,048,576)", "record over the size limit"),
    ],
)
def test_reason_kinds_drop_the_details(reason, kind):
    assert reason_kind(reason) == kind


def test_more_than_half_for_one_reason_is_refused():
    why = first_batch_refusal("s", 4, rejects(*["missing text"] * 3))
    assert why is not None
    assert why.startswith(
        "source 's': 3 of its first 4 records would be rejected as \"missing text\""
    )
    assert "(the first at a.csv@0); nothing was stored" in why and "--accept-rejects" in why


def test_half_or_mixed_reasons_pass():
    assert first_batch_refusal("s", 4, rejects("missing text", "missing text")) is None
    mixed = rejects("missing text", "empty text", "unparsable created_at: 'x'")
    assert first_batch_refusal("s", 4, mixed) is None
    assert first_batch_refusal("s", 4, []) is None


def test_details_of_one_reason_group_together_and_the_first_is_quoted():
    dates = rejects("unparsable created_at: '3'", "unparsable created_at: '12'", "missing text")
    why = first_batch_refusal("s", 3, dates)
    assert why is not None and "2 of its first 3 records" in why
    assert "unparsable created_at: '3'" in why


def test_the_refusal_is_a_usage_error():
    with pytest.raises(FirstBatchRejectedError) as err:
        check_first_batch("s", 1, rejects("missing text"))
    assert isinstance(err.value, UsageError)


def records(*fields):
    return [RawRecord(f"a.jsonl@{n}", f, str(f)) for n, f in enumerate(fields)]


def test_a_mapped_field_in_no_record_of_the_first_batch_is_refused():
    # A missing id or time rejects nothing: each post would be stored under a content hash or
    # the time it was read, and the corrected map would store them all again.
    batch = records({"review_id": "r1", "body": "x"}, {"review_id": "r2", "body": "y"})
    why = unmapped_field_refusal("s", batch, {"text": "body", "id": "reviewid"})
    assert why == (
        "source 's': --map id=reviewid: none of its first 2 records has that field (the first "
        "has 'review_id', 'body'); nothing was stored. Fix --map, or rerun with "
        "--accept-rejects to store the records without it"
    )
    with pytest.raises(FirstBatchRejectedError) as raised:
        check_mapped_fields("s", batch, {"text": "body", "id": "reviewid", "created_at": "when"})
    assert "--map id=reviewid, created_at=when: none of its first 2 records has those" in str(
        raised.value
    )


def test_a_mapped_field_in_some_record_or_the_text_alone_passes():
    batch = records({"body": "x"}, {"body": "y", "link": "https://x.test"}, None)
    assert unmapped_field_refusal("s", batch, {"text": "body", "url": "link"}) is None
    # The text's absence rejects the records: first_batch_refusal's case, not this one.
    assert unmapped_field_refusal("s", batch, {"text": "review"}) is None
    assert unmapped_field_refusal("s", batch, None) is None
    assert unmapped_field_refusal("s", records(None), {"id": "uid"}) is None  # unreadable only


def _posts(pairs):
    when = datetime(2026, 11, 1, tzinfo=UTC)
    return [Post("rv", pid, text, when) for pid, text in pairs]


def test_many_records_sharing_an_id_with_another_text_are_refused():
    # --map id=who: 30 reviews by 5 authors, 25 of them would be dropped.
    posts = _posts((f"user{i % 5}", f"review {i}") for i in range(30))
    with pytest.raises(FirstBatchRejectedError) as refused:
        check_repeated_ids("rv", posts, {"id": "who", "text": "body"})
    assert str(refused.value).startswith(
        "source 'rv': 25 of its first 30 records share their id (who) with a record of another "
        "text: 5 distinct ids"
    )


def test_records_sent_twice_and_a_few_edits_pass():
    resent = _posts((f"r{i % 10}", f"review {i % 10}") for i in range(30))  # same id, same text
    check_repeated_ids("rv", resent, None)
    edited = _posts([*((f"r{i}", f"review {i}") for i in range(30)), ("r0", "review 0, edited")])
    check_repeated_ids("rv", edited, None)  # 1 of 31: below a tenth
