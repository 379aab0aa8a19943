import csv
import gzip
import io
import json
import os
import time

import pytest

from pipeline.errors import SourceError
from pipeline.sources import FileSource


def files(path):
    """A file source that does not wait for files to settle (tests write them just now)."""
    return FileSource(path, "s", settle_seconds=0)


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
    batches, _ = read_all(files(tmp_path / "a.jsonl"), batch_size=3)
    assert [len(b) for b in batches] == [3, 3, 1]
    ids = [r.fields["id"] for b in batches for r in b]
    assert ids == list(range(7))


def test_folder_is_read_in_name_order_and_new_files_are_picked_up(tmp_path):
    write_jsonl(tmp_path / "2026-01-02.jsonl", [{"id": "b", "text": "x"}])
    write_jsonl(tmp_path / "2026-01-01.jsonl", [{"id": "a", "text": "x"}])
    (tmp_path / "notes.txt").write_text("ignored")
    source = files(tmp_path)
    batches, cursor = read_all(source, 10)
    assert [r.fields["id"] for r in batches[0]] == ["a", "b"]
    write_jsonl(tmp_path / "2026-01-03.jsonl", [{"id": "c", "text": "x"}])
    later = source.read_batch(cursor, 10)
    assert [r.fields["id"] for r in later.records] == ["c"]


def test_appended_lines_are_read_from_the_stored_offset(tmp_path):
    path = tmp_path / "a.jsonl"
    write_jsonl(path, [{"id": 1, "text": "x"}])
    source = files(path)
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
    records = files(path).read_batch(None, 10).records
    latin = "not UTF-8 (looks like cp1252): rerun with --encoding cp1252"
    assert [r.error for r in records] == [None, latin, "too many columns: 5 > 3", None]
    assert records[1].raw == "2,caf\xe9 latin-1,2026-01-01"  # its bytes, one character each
    assert records[0].fields["text"] == "line one\nline two"
    # Resuming after the multi-line record lands exactly on the next record.
    cursor = files(path).read_batch(None, 1).cursor_to
    rest = files(path).read_batch(cursor, 10).records
    assert [r.locator for r in rest] == [r.locator for r in records[1:]]


def test_jsonl_bad_lines_become_error_records_not_exceptions(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"id": 1, "text": "ok"}\n[1, 2]\n{not json}\n\xff\xfe\n\n{"id": 2, "te')
    records = files(path).read_batch(None, 10).records
    assert [r.error for r in records] == [
        None,
        "not a JSON object",
        "invalid JSON: Expecting property name enclosed in double quotes at column 2",
        "not UTF-8 (looks like cp1252): rerun with --encoding cp1252",
        "truncated last line",
    ]


def test_gzip_jsonl(tmp_path):
    with gzip.open(tmp_path / "a.jsonl.gz", "wb") as fh:
        fh.write(b'{"id": 1, "text": "zipped"}\n')
    records = files(tmp_path).read_batch(None, 10).records
    assert records[0].fields["text"] == "zipped"


def test_empty_folder_and_missing_input(tmp_path):
    assert files(tmp_path).read_batch(None, 10).records == []
    with pytest.raises(SourceError, match="does not exist"):
        files(tmp_path / "nope").read_batch(None, 10)
    with pytest.raises(SourceError, match="not a file cursor"):
        files(tmp_path).read_batch("garbage", 10)


def test_files_being_written_wait_and_stop_the_folder_until_settled(tmp_path):
    write_jsonl(tmp_path / "1.jsonl", [{"id": "a", "text": "x"}])
    write_jsonl(tmp_path / "2.jsonl", [{"id": "b", "text": "x"}])
    write_jsonl(tmp_path / "3.jsonl", [{"id": "c", "text": "x"}])
    write_jsonl(tmp_path / "0.jsonl.part", [{"id": "part", "text": "x"}])
    write_jsonl(tmp_path / "0.jsonl.tmp", [{"id": "tmp", "text": "x"}])
    write_jsonl(tmp_path / ".0.jsonl", [{"id": "hidden", "text": "x"}])
    old = time.time() - 60
    for name in ("1.jsonl", "3.jsonl", "0.jsonl.part", "0.jsonl.tmp", ".0.jsonl"):
        os.utime(tmp_path / name, (old, old))
    source = FileSource(tmp_path, "s", settle_seconds=5)
    # 2.jsonl was modified just now: reading stops there, and 3.jsonl must not be read past it.
    batches, cursor = read_all(source, 10)
    assert [r.fields["id"] for b in batches for r in b] == ["a"]
    assert source.notices == [  # said: a run right after a file landed must not look empty
        "2.jsonl was modified less than 5 s ago: it and the files after it wait until it is "
        "left alone that long (--settle-seconds 0 reads it now)"
    ]
    os.utime(tmp_path / "2.jsonl", (old, old))
    later, _ = read_all_from(source, cursor, 10)
    assert [r.fields["id"] for b in later for r in b] == ["b", "c"]


def read_all_from(source, cursor, batch_size):
    batches = []
    while True:
        batch = source.read_batch(cursor, batch_size)
        if not batch.records:
            return batches, cursor
        batches.append(batch.records)
        cursor = batch.cursor_to


@pytest.mark.parametrize("name", ["a.jsonl", "a.jsonl.gz", "a.csv", "a.csv.gz"])
def test_continuing_and_fresh_readers_agree_and_old_cursors_replay(tmp_path, name):
    rows = [{"id": str(i), "text": f"post {i}\nwith a newline"} for i in range(23)]
    path = tmp_path / name
    if ".csv" in name:
        out = io.StringIO()
        writer = csv.DictWriter(out, ["id", "text"])
        writer.writeheader()
        writer.writerows(rows)
        data = out.getvalue().encode()
    else:
        data = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    # One source object continues its open reader from batch to batch ...
    continued, _ = read_all(files(path), 5)
    # ... a new object per batch (a restarted process) seeks to the stored cursor.
    fresh, cursor = [], None
    while (batch := files(path).read_batch(cursor, 5)).records:
        fresh.append(batch.records)
        cursor = batch.cursor_to
    assert [[r.locator for r in b] for b in continued] == [[r.locator for r in b] for b in fresh]
    assert [r.fields["id"] for b in continued for r in b] == [r["id"] for r in rows]
    # A batch whose commit failed is read again from the older cursor by the same object.
    source = files(path)
    first = source.read_batch(None, 5)
    second = source.read_batch(first.cursor_to, 5)
    source.read_batch(second.cursor_to, 5)
    again = source.read_batch(first.cursor_to, 5)
    assert [r.locator for r in again.records] == [r.locator for r in second.records]
    source.close()


def test_a_file_named_directly_is_read_at_once_even_if_just_written(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n')
    assert FileSource(path, "s", settle_seconds=60).read_batch(None, 10).records
    # The same file inside a landing folder waits, and so does a single .gz file (read whole).
    assert not FileSource(tmp_path, "s", settle_seconds=60).read_batch(None, 10).records
    packed = tmp_path / "export.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"id": "a", "text": "x"}\n'))
    waiting = FileSource(packed, "s", settle_seconds=60)
    assert not waiting.read_batch(None, 10).records
    assert waiting.notices == [
        "export.jsonl.gz was modified less than 60 s ago: it waits until it is left alone that "
        "long (--settle-seconds 0 reads it now)"
    ]


@pytest.mark.parametrize(
    ("name", "complete", "last"),
    [
        ("export.jsonl", '{"id": "a", "text": "x"}\n', '{"id": "b", "text": "y"}'),
        ("export.csv", "id,text\na,x\n", "b,y"),
    ],
)
def test_a_file_being_written_says_that_its_last_record_waits(tmp_path, name, complete, last):
    path = tmp_path / name
    path.write_text(complete + last)
    source = FileSource(path, "s", settle_seconds=60)
    assert [r.fields["id"] for r in source.read_batch(None, 10).records] == ["a"]
    assert source.notices == [
        f"{name} was modified less than 60 s ago and its last line has no newline yet: that "
        "record waits until the file is left alone that long or the line is ended "
        "(--settle-seconds 0 reads it now)"
    ]
    # A CSV header alone, ended: no record waits, nothing is said.
    if name.endswith(".csv"):
        path.write_text("id,text\n")
        header = FileSource(path, "s", settle_seconds=60)
        assert not header.read_batch(None, 10).records and header.notices == []
    # Ended, or only whitespace after the last newline: nothing waits, nothing is said.
    for ending in ("\n", "  "):
        path.write_text(complete + (last + ending if ending == "\n" else ending))
        ended = FileSource(path, "s", settle_seconds=60)
        assert ended.read_batch(None, 10).records and ended.notices == []


def test_an_invalid_json_reason_says_where_the_line_goes_wrong(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"id": 1, "text": "a\tb"}\n{"id": 2 "text": "x"}\n')
    assert [r.error for r in files(path).read_batch(None, 10).records] == [
        "invalid JSON: Invalid control character at column 21",
        "invalid JSON: Expecting ',' delimiter at column 10",
    ]
