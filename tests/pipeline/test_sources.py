import gzip
import json

import pytest

from pipeline.errors import SourceError
from pipeline.sources import FileSource


def write_jsonl(path, rows, tail=b""):
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in rows) + tail)


def read_all(source, batch_size):
    cursor, batches = None, []
    while True:
        batch = source.read_batch(cursor, batch_size)
        if not batch.records:
            return batches, cursor
        batches.append(batch.records)
        cursor = batch.cursor_to


def test_jsonl_batches_resume_after_cursor_without_gaps_or_repeats(tmp_path):
    rows = [{"id": i, "text": f"post {i}"} for i in range(7)]
    write_jsonl(tmp_path / "a.jsonl", rows)
    batches, _ = read_all(FileSource(tmp_path / "a.jsonl", "s"), batch_size=3)
    assert [len(b) for b in batches] == [3, 3, 1]
    ids = [r.fields["id"] for b in batches for r in b]
    assert ids == list(range(7))


def test_folder_is_read_in_name_order_and_new_files_are_picked_up(tmp_path):
    write_jsonl(tmp_path / "2026-01-02.jsonl", [{"id": "b", "text": "x"}])
    write_jsonl(tmp_path / "2026-01-01.jsonl", [{"id": "a", "text": "x"}])
    (tmp_path / "notes.txt").write_text("ignored")
    source = FileSource(tmp_path, "s")
    batches, cursor = read_all(source, 10)
    assert [r.fields["id"] for r in batches[0]] == ["a", "b"]
    write_jsonl(tmp_path / "2026-01-03.jsonl", [{"id": "c", "text": "x"}])
    later = source.read_batch(cursor, 10)
    assert [r.fields["id"] for r in later.records] == ["c"]


def test_appended_lines_are_read_from_the_stored_offset(tmp_path):
    path = tmp_path / "a.jsonl"
    write_jsonl(path, [{"id": 1, "text": "x"}])
    source = FileSource(path, "s")
    first = source.read_batch(None, 10)
    with path.open("ab") as fh:
        fh.write(json.dumps({"id": 2, "text": "y"}).encode() + b"\n")
    second = source.read_batch(first.cursor_to, 10)
    assert [r.fields["id"] for r in second.records] == [2]


def test_csv_with_quoted_newlines_bad_utf8_and_extra_columns(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(
        b"id,text,created_at\n"
        b'1,"line one\nline two",2026-01-01\n'
        b"2,caf\xe9 latin-1,2026-01-01\n"
        b"3,too,many,columns,here\n"
        b"4,fine,2026-01-02\n"
    )
    records = FileSource(path, "s").read_batch(None, 10).records
    assert [r.error for r in records] == [None, "invalid UTF-8", "too many columns: 5 > 3", None]
    assert records[0].fields["text"] == "line one\nline two"
    # Resuming after the multi-line record lands exactly on the next record.
    cursor = FileSource(path, "s").read_batch(None, 1).cursor_to
    rest = FileSource(path, "s").read_batch(cursor, 10).records
    assert [r.locator for r in rest] == [r.locator for r in records[1:]]


def test_jsonl_bad_lines_become_error_records_not_exceptions(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"id": 1, "text": "ok"}\n[1, 2]\n{not json}\n\xff\xfe\n\n{"id": 2, "te')
    records = FileSource(path, "s").read_batch(None, 10).records
    assert [r.error for r in records] == [
        None,
        "not a JSON object",
        "invalid JSON: Expecting property name enclosed in double quotes",
        "invalid UTF-8",
        "truncated last line",
    ]


def test_gzip_jsonl(tmp_path):
    with gzip.open(tmp_path / "a.jsonl.gz", "wb") as fh:
        fh.write(b'{"id": 1, "text": "zipped"}\n')
    records = FileSource(tmp_path, "s").read_batch(None, 10).records
    assert records[0].fields["text"] == "zipped"


def test_empty_folder_and_missing_input(tmp_path):
    assert FileSource(tmp_path, "s").read_batch(None, 10).records == []
    with pytest.raises(SourceError, match="does not exist"):
        FileSource(tmp_path / "nope", "s").read_batch(None, 10)
    with pytest.raises(SourceError, match="not a file cursor"):
        FileSource(tmp_path, "s").read_batch("garbage", 10)
