"""A files cursor moved back to a file's start, and what a reject keeps for its replay."""

import json
from datetime import UTC, datetime

import pytest

from pipeline.errors import SourceError, UsageError
from pipeline.records import RawRecord
from pipeline.sources.rewind import cursor_file, rewound_cursor
from pipeline.sources.validate import MAX_TEXT_CHARS, Validator, replayable_fields


def test_rewound_cursor_keeps_the_newest_change_time_and_never_skips_ahead():
    cursor = json.dumps({"file": "b.csv", "offset": 120, "ctime": 7, "fingerprint": "ab"})
    assert json.loads(rewound_cursor("s", cursor, "a.csv")) == {
        "file": "a.csv",
        "offset": 0,
        "ctime": 7,
    }
    assert json.loads(rewound_cursor("s", cursor, "a.parquet")) == {
        "file": "a.parquet",
        "row": 0,
        "ctime": 7,
    }
    with pytest.raises(UsageError, match="has not been read yet"):
        rewound_cursor("s", cursor, "c.csv")
    with pytest.raises(SourceError, match="no file cursor"):
        rewound_cursor("s", '["2026-11-01", 3]', "a.csv")
    assert cursor_file(None) is None and cursor_file("1700000000000-0") is None


def test_a_reject_keeps_fields_that_decide_a_replay_as_the_first_read():
    long = "y" * (MAX_TEXT_CHARS + 500)
    fields = {"body": long, "when": datetime(2026, 11, 2, tzinfo=UTC), "n": 3, "": ""}
    kept = replayable_fields(fields, MAX_TEXT_CHARS + 1)
    assert kept is not None and len(kept["body"]) == MAX_TEXT_CHARS + 1
    assert kept["when"].startswith("2026-11-02") and kept["n"] == 3
    validator = Validator("s", {"text": "body"})
    now = datetime.now(UTC)
    first = validator.validate(RawRecord("f@0", fields, "raw"), now)
    again = validator.validate(RawRecord("f@0", kept, ""), now)
    assert first.reason.split("(")[0] == again.reason.split("(")[0]  # over the size limit
    empty = Validator("s").validate(RawRecord("f@1", {"text": ""}, "raw"), now)
    assert empty.fields == {"text": ""}
    unreadable = Validator("s").validate(RawRecord("f@2", None, "\ufffd", "invalid UTF-8"), now)
    assert unreadable.fields is None
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    assert replayable_fields({"text": nested}, 10) is None
