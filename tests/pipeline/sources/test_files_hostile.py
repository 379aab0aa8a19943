"""Reader-level hostile input: bounded memory per record, vanished files, record boundaries
after an over-long CSV record, Markdown that cannot be broken out of (issue 18)."""

import csv
import gzip
import io
import json
import tracemalloc

from pipeline.report.markdown import md_code, md_text
from pipeline.sources import FileSource
from pipeline.sources.lines import MAX_RECORD_BYTES, CsvFeed, _csv_scan


def test_a_huge_line_with_no_newline_keeps_memory_flat(tmp_path):
    path = tmp_path / "one-line.jsonl.gz"
    size = 64 * 2**20
    with gzip.open(path, "wb", compresslevel=1) as fh:
        chunk = b"a" * 2**20
        for _ in range(size // len(chunk)):
            fh.write(chunk)
    source = FileSource(path, "t", settle_seconds=0)
    tracemalloc.start()
    batch = source.read_batch(None, 10)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    (record,) = batch.records
    assert record.error == f"record over the size limit ({size:,} bytes > {MAX_RECORD_BYTES:,})"
    assert batch.cursor_to is not None
    cursor = json.loads(batch.cursor_to)
    assert (cursor["file"], cursor["offset"]) == (path.name, size)
    assert peak < 4 * MAX_RECORD_BYTES  # a 64 MiB line, a few MiB held at most


def test_a_file_that_vanishes_after_the_listing_is_skipped(tmp_path, monkeypatch):
    (tmp_path / "a.jsonl").write_text('{"text": "first"}\n')
    (tmp_path / "c.jsonl").write_text('{"text": "last"}\n')
    source = FileSource(tmp_path, "t", settle_seconds=0)
    listed = [tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"]  # b is gone
    monkeypatch.setattr(FileSource, "files", lambda self: listed)
    batch = source.read_batch(None, 10)
    assert [r.fields["text"] for r in batch.records if r.fields] == ["first", "last"]


def test_after_an_over_long_csv_record_the_next_one_is_read_whole(tmp_path):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "text"])
    writer.writerow(["big", 'quoted "and" multi\nline,' * 60_000])  # over the limit
    writer.writerow(["next", "a, quoted\nmulti-line text"])
    (tmp_path / "t.csv").write_text(out.getvalue())
    records = FileSource(tmp_path / "t.csv", "t", settle_seconds=0).read_batch(None, 10).records
    assert [r.error is not None and "size limit" in r.error for r in records] == [True, False]
    assert records[1].fields == {"id": "next", "text": "a, quoted\nmulti-line text"}


def test_csv_scan_finds_the_record_end_as_csv_does():
    for data, end in [
        (b'a,"b\n', -1),  # newline inside quotes
        (b'a,"b""\n', -1),  # an escaped quote, still inside
        (b'a,"b"\n', 6),
        (b'a,b"c\n', 6),  # a quote inside an unquoted field is a character
        (b",,\n", 3),
    ]:
        assert _csv_scan(data, 0)[1] == end, data
    state, end = _csv_scan(b'x,"multi\n', 0)
    assert end == -1 and _csv_scan(b'line"\n', state)[1] == 6


def test_csv_feed_counts_bytes():
    feed = CsvFeed(io.BytesIO(b"a,b\nc,d\n"), 0)
    assert next(feed) == "a,b\n" and feed.pos == 4


def test_markdown_code_spans_cannot_be_closed():
    name = "rt`<img src=x onerror=alert(1)>`.jsonl"
    span = md_code(name)
    assert span == "``" + name + "``" and span.count("``") == 2
    assert md_code("`edge`") == "`` `edge` ``" and md_code("plain") == "`plain`"
    assert "\n" not in md_code("a\n# heading\n<script>")
    assert md_text("[x](javascript:1) <b>") == r"\[x\]\(javascript:1\) \<b\>"


def test_a_file_landing_behind_the_cursor_sends_it_back_once(tmp_path):
    for name in ("b.jsonl", "c.jsonl"):
        (tmp_path / name).write_text(json.dumps({"id": name, "text": "x"}) + "\n")
    source = FileSource(tmp_path, "t", settle_seconds=0)
    first = source.read_batch(None, 10)
    assert [r.fields["id"] for r in first.records] == ["b.jsonl", "c.jsonl"]
    assert source.read_batch(first.cursor_to, 10).records == []
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "a.jsonl", "text": "late"}) + "\n")
    again = source.read_batch(first.cursor_to, 10)
    assert [r.fields["id"] for r in again.records] == ["a.jsonl", "b.jsonl", "c.jsonl"]
    assert source.late == {"a.jsonl"}
    assert source.read_batch(again.cursor_to, 10).records == []
    # A cursor stored before cursors kept a ctime sends nobody back.
    old = json.dumps({"file": "c.jsonl", "offset": (tmp_path / "c.jsonl").stat().st_size})
    assert source.read_batch(old, 10).records == []
