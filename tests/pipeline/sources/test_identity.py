"""A files cursor identifies its file: appended is read on, rewritten or truncated is not."""

import gzip
import json

import pytest

from pipeline.errors import SourceError
from pipeline.sources import FileSource


def files(path, **options):
    return FileSource(path, "s", settle_seconds=0, **options)


def lines(*ids):
    return "".join(json.dumps({"id": i, "text": f"post {i}"}) + "\n" for i in ids)


def ids(batch):
    return [r.fields["id"] for r in batch.records]


def test_the_cursor_keeps_size_mtime_and_a_fingerprint(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(lines("a1", "a2"))
    cursor = json.loads(files(path).read_batch(None, 10).cursor_to)
    info = path.stat()
    assert cursor["offset"] == cursor["file_size"] == info.st_size
    assert cursor["mtime"] == info.st_mtime_ns
    assert len(cursor["fingerprint"]) == 16


def test_an_appended_file_is_read_on(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(lines("a1", "a2"))
    first = files(path).read_batch(None, 10)
    with path.open("a") as fh:
        fh.write(lines("a3"))
    assert ids(files(path).read_batch(first.cursor_to, 10)) == ["a3"]


def test_a_small_file_that_grows_past_the_fingerprint_window_is_still_appended(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(lines("a1"))
    first = files(path).read_batch(None, 10)
    with path.open("a") as fh:
        fh.write(lines(*(f"b{i}" for i in range(300))))  # ~10 KiB more
    assert len(files(path).read_batch(first.cursor_to, 1000).records) == 300


@pytest.mark.parametrize(
    "rewrite, how",
    [
        (lines("x1", "x2", "x3"), "was rewritten since it was read"),  # longer, other bytes
        (lines("a1"), "is shorter than when it was read"),  # truncated
    ],
    ids=["rewritten", "truncated"],
)
def test_a_rewritten_or_truncated_single_file_is_refused(tmp_path, rewrite, how):
    path = tmp_path / "a.jsonl"
    path.write_text(lines("a1", "a2"))
    first = files(path).read_batch(None, 10)
    path.write_text(rewrite)
    with pytest.raises(SourceError) as err:
        files(path).read_batch(first.cursor_to, 10)
    message = str(err.value)
    assert message.startswith(f"a.jsonl {how}")
    assert "--reread-changed" in message and "sentimon sources reset s --to-start" in message
    assert "\n" not in message
    # On request it is read as a new version, from its start.
    again = files(path, reread_changed=True).read_batch(first.cursor_to, 10)
    assert ids(again) == [json.loads(line)["id"] for line in rewrite.splitlines()]


def test_an_edit_before_the_cursor_that_keeps_the_first_bytes_is_found(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(lines(*(f"a{i}" for i in range(200))))  # > 4 KiB: the head stays the same
    first = files(path).read_batch(None, 1000)
    path.write_text(
        lines(*(f"a{i}" for i in range(150)), "edited", *(f"a{i}" for i in range(151, 200)))
    )
    with pytest.raises(SourceError, match="was rewritten"):
        files(path).read_batch(first.cursor_to, 10)


def test_a_touched_file_is_read_on(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(lines("a1"))
    first = files(path).read_batch(None, 10)
    path.write_text(lines("a1"))  # the same bytes again: a new mtime, nothing new
    assert files(path).read_batch(first.cursor_to, 10).records == []


def test_old_cursors_without_identity_are_read_and_a_truncation_still_found(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(lines("a1", "a2"))
    old = json.dumps({"file": "a.jsonl", "offset": len(lines("a1"))})
    assert ids(files(path).read_batch(old, 10)) == ["a2"]
    past_end = json.dumps({"file": "a.jsonl", "offset": 10_000})
    with pytest.raises(SourceError, match="is shorter than when it was read"):
        files(path).read_batch(past_end, 10)


def test_in_a_folder_a_rewritten_file_is_read_again_with_a_notice(tmp_path):
    (tmp_path / "a.jsonl").write_text(lines("a1", "a2"))
    source = files(tmp_path)
    first = source.read_batch(None, 10)
    (tmp_path / "a.jsonl").write_text(lines("n1", "n2", "n3"))
    assert ids(source.read_batch(first.cursor_to, 10)) == ["n1", "n2", "n3"]
    assert source.notices == [
        "a.jsonl was rewritten since it was read (its first bytes or those before the "
        "cursor changed): read again from its start"
    ]


def test_a_file_landing_behind_the_cursor_is_a_notice(tmp_path):
    (tmp_path / "b.jsonl").write_text(lines("b1"))
    source = files(tmp_path)
    first = source.read_batch(None, 10)
    (tmp_path / "a.jsonl").write_text(lines("a1"))
    assert ids(source.read_batch(first.cursor_to, 10)) == ["a1", "b1"]
    assert len(source.notices) == 1 and source.notices[0].startswith("a.jsonl landed")


def test_an_appended_gzip_member_is_read_on_and_a_new_gzip_refused(tmp_path):
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress(lines("a1").encode()))
    first = files(path).read_batch(None, 10)
    with path.open("ab") as fh:
        fh.write(gzip.compress(lines("a2").encode()))
    second = files(path).read_batch(first.cursor_to, 10)
    assert ids(second) == ["a2"]
    path.write_bytes(gzip.compress(lines("x1", "x2", "x3", "x4").encode(), mtime=1))
    with pytest.raises(SourceError, match="rewritten"):
        files(path).read_batch(second.cursor_to, 10)
