"""The flow's first-batch refusals answered before Prefect starts (flows/runtime/first_read.py,
issue 15): a new source's first batch mostly rejected, a single input rewritten, truncated or
in another file than its cursor. Through the real CLI, in a process of its own (so that what
it imported can be seen), on real files and a real database (SQLite; PostgreSQL too when
SENTIMON_TEST_POSTGRES_URL is set): exit code, the one line, no traceback, the database."""

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from flows.cli import app
from flows.runtime.first_read import check_first_read
from flows.runtime.sources import adhoc_source
from pipeline.errors import FirstBatchRejectedError

runner = CliRunner()
pytestmark = pytest.mark.slow

# Runs `sentimon` and says, after its output, which heavy modules it imported.
CLI = (
    "import sys\n"
    "from flows.cli import app\n"
    "try:\n"
    "    app(sys.argv[1:], prog_name='sentimon')\n"
    "except SystemExit as done:\n"
    "    code = done.code\n"
    "print('imported:', sorted(m for m in ('prefect', 'torch', 'spacy') if m in sys.modules))\n"
    "sys.exit(code)\n"
)


def _contents(url):
    """What runs left: posts (id -> text), rejects' reasons, cursors, batches; None before
    the database or its tables exist."""
    if url.startswith("sqlite:///") and not os.path.exists(url.removeprefix("sqlite:///")):
        return None
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("posts"):
                return None

            def rows(sql):
                return conn.execute(text(sql)).all()

            return (
                dict(rows("SELECT external_id, text FROM posts")),
                sorted(r for (r,) in rows("SELECT reason FROM rejects")),
                dict(rows("SELECT source, position FROM source_cursors")),
                rows("SELECT count(*) FROM batches")[0][0],
            )
    finally:
        engine.dispose()


def _sentimon(*args):
    """`sentimon run --settle-seconds 0 ARGS` in a new process: (exit code, stderr, imported)."""
    done = subprocess.run(
        [sys.executable, "-c", CLI, "run", "--settle-seconds", "0", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    imported = [line for line in done.stdout.splitlines() if line.startswith("imported:")]
    return done.returncode, done.stderr, imported[-1] if imported else None


def _one_line(stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def _lines(*records):
    return "".join(json.dumps(r) + "\n" for r in records)


def _run(*args):
    return runner.invoke(app, ["run", "--settle-seconds", "0", *args])


# --- the first-batch guard -------------------------------------------------------------------


def test_a_map_typo_on_a_new_source_is_refused_before_prefect_starts(db_url, tmp_path):
    (tmp_path / "reviews.jsonl").write_text(
        _lines(*({"uid": f"r{i}", "review_body": f"review number {i}"} for i in range(5)))
    )
    code, stderr, imported = _sentimon(
        "--input", "reviews.jsonl", "--source", "reviews", "--map", "id=uid,text=review_bdy"
    )
    assert code == 2
    assert _one_line(stderr) == (
        "error: source 'reviews': 5 of its first 5 records would be rejected as "
        "\"missing text (no field 'review_bdy'; the record has 'uid', 'review_body'; "
        '--map text=FIELD picks one)" (the first at reviews.jsonl@0); nothing was stored. Fix '
        "the command or the input, or rerun with --accept-rejects to store the records that "
        "pass and quarantine the rest"
    )
    assert imported == "imported: []"
    assert _contents(db_url) is None  # no table created, let alone a cursor
    assert not (tmp_path / "data").exists()


def test_a_named_landing_folder_is_guarded_with_its_own_map_and_batch_size(db_url, tmp_path):
    """sentimon.toml's map and batch_size, as the flow uses them: the first batch of 2 is all
    rejected, although half the folder would pass."""
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "a.jsonl").write_text(_lines({"id": "a1", "body": "x"}, {"id": "a2", "body": "y"}))
    (landing / "b.jsonl").write_text(
        _lines({"id": "b1", "review": "fine"}, {"id": "b2", "review": "good"})
    )
    (tmp_path / "sentimon.toml").write_text(
        '[sources.shop]\nkind = "files"\npath = "landing"\nbatch_size = 2\n'
        'map = { text = "review" }\n'
    )
    code, stderr, imported = _sentimon("--source", "shop")
    assert code == 2
    line = _one_line(stderr)
    assert line.startswith(
        "error: source 'shop': 2 of its first 2 records would be rejected as \"missing text "
        "(no field 'review'; the record has "
    )
    assert imported == "imported: []"
    assert _contents(db_url) is None


def test_the_guard_reads_as_the_flow_would(tmp_path):
    """Plain function: --accept-rejects and a per-file (Dask) first read of a folder are not
    guarded, as in the flow; a majority that passes is not refused; nothing is created."""
    (tmp_path / "reviews.jsonl").write_text(
        _lines({"id": "1", "text": "good"}, {"id": "2", "text": "fine"}, {"id": "3"})
    )
    url = f"sqlite:///{tmp_path / 'data' / 'sentimon.db'}"
    single = adhoc_source(str(tmp_path / "reviews.jsonl"), "reviews")
    folder = adhoc_source(str(tmp_path), "folder")
    typo = {"text": "body"}
    with pytest.raises(FirstBatchRejectedError, match="3 of its first 3 records"):
        check_first_read(url, single, None, typo)
    with pytest.raises(FirstBatchRejectedError, match="2 of its first 2 records"):
        check_first_read(url, single, 2, typo)
    check_first_read(url, single, None, typo, accept_rejects=True)
    check_first_read(url, folder, None, typo, partition_files=True)
    check_first_read(url, single, None, None)  # 1 of 3 rejected: stored as usual
    assert not (tmp_path / "data").exists()


# --- a single file changed under its cursor -------------------------------------------------


def test_a_rewritten_truncated_or_other_file_is_refused_before_prefect_starts(
    prefect_server, db_url, tmp_path
):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(_lines({"id": "j1", "text": "first post"}, {"id": "j2", "text": "second"}))
    assert _run("--input", "feed.jsonl", "--source", "feed").exit_code == 0
    before, read = _contents(db_url), feed.stat().st_size
    assert set(before[0]) == {"j1", "j2"} and before[3] == 1

    feed.write_text(_lines(*({"id": f"k{i}", "text": f"new export, post {i}"} for i in (1, 2))))
    code, stderr, imported = _sentimon("--input", "feed.jsonl", "--source", "feed")
    assert code == 1
    assert _one_line(stderr) == (
        "error: feed.jsonl was rewritten since it was read (its first bytes or those before the "
        f"cursor changed); reading on from byte {read} of source 'feed' would start mid-record. "
        "Read it again from its start with --reread-changed (posts already stored keep their "
        "stored version), or start the source over: sentimon sources reset feed --to-start"
    )
    assert imported == "imported: []"
    assert _contents(db_url) == before

    feed.write_text(_lines({"id": "j1", "text": "first post"}))
    code, stderr, imported = _sentimon("--input", "feed.jsonl", "--source", "feed")
    assert code == 1
    assert _one_line(stderr).startswith(
        f"error: feed.jsonl is shorter than when it was read ({feed.stat().st_size} bytes now, "
        f"the cursor is at byte {read}): it was truncated or rewritten;"
    )
    assert imported == "imported: []"

    (tmp_path / "other.jsonl").write_text(_lines({"id": "o1", "text": "another file"}))
    code, stderr, imported = _sentimon("--input", "other.jsonl", "--source", "feed")
    assert code == 1
    assert _one_line(stderr) == (
        "error: source 'feed' has a cursor in 'feed.jsonl', not in 'other.jsonl': give this "
        "input a --source name of its own"
    )
    assert imported == "imported: []"
    assert _contents(db_url) == before  # nothing read, the cursor where it was


def test_a_refusal_from_inside_the_flow_prints_no_traceback(prefect_server, tmp_path, monkeypatch):
    """A case the checks leave to the flow (a SQLite URI with its own options): Prefect's
    own lines, the one error line, no traceback."""
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "data" / "sentimon.db"
    database.parent.mkdir()  # a URI is opened as given: its folder is not created
    monkeypatch.setenv("SENTIMON_DATABASE_URL", f"sqlite:///file:{database}?uri=true")
    feed = tmp_path / "feed.jsonl"
    feed.write_text(_lines({"id": "j1", "text": "first post"}, {"id": "j2", "text": "second"}))
    assert _run("--input", "feed.jsonl", "--source", "feed").exit_code == 0
    before = _contents(f"sqlite:///{database}")
    feed.write_text(_lines({"id": "j1", "text": "first post"}))

    code, stderr, imported = _sentimon("--input", "feed.jsonl", "--source", "feed")
    assert code == 1
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "feed.jsonl is shorter than when it was read" in errors[0]
    assert "prefect" in imported  # it was the flow that refused
    assert _contents(f"sqlite:///{database}") == before
