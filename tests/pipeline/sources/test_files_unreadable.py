"""A landing folder's file this user cannot read is passed over with a notice, not raised: one
file of mode 000 must not stop a feed for ever. Real files; each read is made by a process
that file modes bind (tests/support/unreadable.py), since the tests may run as root."""

import json
import subprocess
import sys

import pytest
from support.unreadable import as_a_user

from pipeline.sources import FileSource

# Reads one batch of FOLDER after CURSOR; prints what it read and noticed, or what it raised.
READ = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from pipeline.sources import FileSource\n"
    "source = FileSource(Path(sys.argv[1]), 's', settle_seconds=0)\n"
    "try:\n"
    "    batch = source.read_batch(sys.argv[2] or None, 100)\n"
    "except OSError as err:\n"
    "    print(json.dumps({'raised': type(err).__name__}))\n"
    "    sys.exit()\n"
    "print(json.dumps({\n"
    "    'ids': [r.fields['id'] for r in batch.records],\n"
    "    'cursor': batch.cursor_to,\n"
    "    'notices': source.notices,\n"
    "}))\n"
)


def notice(name):
    return (
        f"{name} not read: this user cannot read it (permission denied); fix its permissions "
        "and the next run reads it"
    )


def read_as_a_user(path, cursor=None):
    done = subprocess.run(
        as_a_user([sys.executable, "-c", READ, str(path), cursor or ""]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def write_jsonl(path, *ids):
    path.write_text("".join(json.dumps({"id": i, "text": f"post {i}"}) + "\n" for i in ids))


@pytest.mark.parametrize("unreadable", ["a.jsonl", "b.jsonl"])
def test_the_other_files_are_read_and_the_unreadable_one_once_its_mode_is_fixed(
    tmp_path, unreadable
):
    for name in ("a", "b", "c"):
        write_jsonl(tmp_path / f"{name}.jsonl", f"{name}1")
    (tmp_path / unreadable).chmod(0)
    first = read_as_a_user(tmp_path)
    assert first["notices"] == [notice(unreadable)]
    kept = unreadable.removesuffix(".jsonl") + "1"
    assert first["ids"] == [i for i in ("a1", "b1", "c1") if i != kept]
    assert json.loads(first["cursor"])["file"] == "c.jsonl"  # the files after it were read

    (tmp_path / unreadable).chmod(0o644)  # sets its ctime: the cursor goes back to it
    second = read_as_a_user(tmp_path, first["cursor"])
    assert second["ids"][0] == kept
    assert json.loads(second["cursor"])["file"] == "c.jsonl"
    assert second["notices"] == [
        f"{unreadable} landed (or changed) after files named later were read: read again "
        "from it (records already stored are kept once)"
    ]


def test_a_file_made_unreadable_where_the_cursor_stands_does_not_stop_the_folder(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", "a1")
    cursor = FileSource(tmp_path, "s", settle_seconds=0).read_batch(None, 100).cursor_to
    (tmp_path / "a.jsonl").chmod(0)
    write_jsonl(tmp_path / "b.jsonl", "b1")
    later = read_as_a_user(tmp_path, cursor)
    assert later["ids"] == ["b1"]
    assert later["notices"] == [notice("a.jsonl")]


def test_a_single_unreadable_file_raises(tmp_path):
    """Nothing else to read: the run's check before Prefect says it in one line."""
    write_jsonl(tmp_path / "a.jsonl", "a1")
    (tmp_path / "a.jsonl").chmod(0)
    assert read_as_a_user(tmp_path / "a.jsonl") == {"raised": "PermissionError"}
