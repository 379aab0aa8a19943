import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.errors import SourceError
from pipeline.sources import FileSource
from pipeline.sources.parquet import read_parquet
from pipeline.sources.validate import Validator


def files(path):
    return FileSource(path, "s", settle_seconds=0)


def write_parquet(path, rows, row_group_size=None, schema=None):
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, row_group_size=row_group_size)


def read_all(source, batch_size, fresh=False):
    cursor, batches = None, []
    while True:
        batch = (files(source.path) if fresh else source).read_batch(cursor, batch_size)
        if not batch.records:
            return batches, cursor
        batches.append(batch)
        cursor = batch.cursor_to


@pytest.mark.parametrize("fresh", [False, True], ids=["continued", "restarted"])
def test_parquet_rows_are_read_across_row_groups_and_resumed_by_row(tmp_path, fresh):
    rows = [{"id": i, "text": f"post {i}"} for i in range(25)]
    write_parquet(tmp_path / "a.parquet", rows, row_group_size=7)
    batches, cursor = read_all(files(tmp_path / "a.parquet"), 4, fresh=fresh)
    assert [len(b.records) for b in batches] == [4, 4, 4, 4, 4, 4, 1]
    assert [r.fields["id"] for b in batches for r in b.records] == list(range(25))
    assert [r.locator for r in batches[1].records] == [f"a.parquet#{i}" for i in range(4, 8)]
    position = ("file", "row")
    assert {k: json.loads(batches[1].cursor_to)[k] for k in position} == {
        "file": "a.parquet",
        "row": 8,
    }
    assert {k: json.loads(cursor)[k] for k in position} == {"file": "a.parquet", "row": 25}


def test_resume_in_the_middle_of_a_row_group_skips_exactly_to_the_row(tmp_path):
    path = tmp_path / "a.parquet"
    write_parquet(path, [{"id": i, "text": "x"} for i in range(30)], row_group_size=10)
    for row in (0, 9, 10, 11, 29, 30):
        got = [r.fields["id"] for r, _ in read_parquet(path, row, slice_rows=3)]
        assert got == list(range(row, 30))


def test_parquet_values_become_what_validation_parses(tmp_path):
    when = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    schema = pa.schema(
        [
            ("uniqueID", pa.int64()),
            ("review", pa.string()),
            ("date", pa.timestamp("us", tz="UTC")),
            ("brand", pa.list_(pa.string())),
        ]
    )
    rows = [{"uniqueID": 7, "review": "great phone", "date": when, "brand": ["Acme", "Zed"]}]
    write_parquet(tmp_path / "a.parquet", rows, schema=schema)
    (record,) = files(tmp_path).read_batch(None, 10).records
    assert record.fields["date"] == "2024-03-01T09:30:00+00:00"
    assert json.loads(record.raw)["review"] == "great phone"
    post = Validator("s", {"id": "uniqueID", "text": "review", "created_at": "date"}).validate(
        record, datetime.now(UTC)
    )
    assert (post.external_id, post.text, post.created_at) == ("7", "great phone", when)
    assert post.brand_hints == ("Acme", "Zed")


def test_binary_text_that_is_not_utf8_is_an_error_record(tmp_path):
    schema = pa.schema([("id", pa.int64()), ("text", pa.binary())])
    write_parquet(
        tmp_path / "a.parquet",
        [{"id": 1, "text": b"ok"}, {"id": 2, "text": b"\xff"}],
        schema=schema,
    )
    records = files(tmp_path).read_batch(None, 10).records
    assert [r.error for r in records] == [None, "invalid UTF-8"]
    assert records[0].fields["text"] == "ok"


def test_an_unreadable_parquet_file_is_quarantined_once_and_the_folder_goes_on(tmp_path):
    (tmp_path / "a.parquet").write_bytes(b"PAR1 this is not parquet")
    write_parquet(tmp_path / "b.parquet", [{"id": 1, "text": "fine"}])
    source = files(tmp_path)
    first = source.read_batch(None, 1)
    assert [r.locator for r in first.records] == ["a.parquet#0"]
    assert first.records[0].error.startswith("unreadable Parquet file")
    rest = files(tmp_path).read_batch(first.cursor_to, 10).records
    assert [(r.locator, r.error) for r in rest] == [("b.parquet#0", None)]


def test_mixed_landing_folder_in_name_order(tmp_path):
    (tmp_path / "1.jsonl").write_text('{"id": "j", "text": "x"}\n')
    (tmp_path / "2.csv").write_text("id,text\nc,x\n")
    write_parquet(tmp_path / "3.parquet", [{"id": "p", "text": "x"}])
    batches, _ = read_all(files(tmp_path), 2)
    assert [r.fields["id"] for b in batches for r in b.records] == ["j", "c", "p"]


def test_a_parquet_cursor_is_checked(tmp_path):
    write_parquet(tmp_path / "a.parquet", [{"id": 1, "text": "x"}])
    with pytest.raises(SourceError, match="not a file cursor"):
        files(tmp_path).read_batch('{"file": "a.parquet"}', 10)
