"""Files identified, encodings and the first-batch guard (issue 15), through the real CLI on
real files and a real database (SQLite; PostgreSQL too when SENTIMON_TEST_POSTGRES_URL is set)."""

import json
import os

import pytest
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()
pytestmark = pytest.mark.slow

LATIN_CSV = (
    "id,text,created_at\n"
    "r1,Great headphones,2026-11-01\n"
    "r2,Le son est très bon,2026-11-02\n"
    "r3,Schöne Kopfhörer für den Preis,2026-11-03\n"
    "r4,Mañana las compraré otra vez,2026-11-04\n"
).encode("latin-1")


def _db(url, sql):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).all()
    finally:
        engine.dispose()


def _contents(url):
    """What a run left: posts (id -> text), rejects' reasons, cursors, batches; None when no
    run has created the database or its tables yet."""
    if url.startswith("sqlite:///") and not os.path.exists(url.removeprefix("sqlite:///")):
        return None
    if not _has_posts(url):
        return None
    return (
        dict(_db(url, "SELECT external_id, text FROM posts")),
        sorted(r for (r,) in _db(url, "SELECT reason FROM rejects")),
        dict(_db(url, "SELECT source, position FROM source_cursors")),
        _db(url, "SELECT count(*) FROM batches")[0][0],
    )


def _has_posts(url):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("posts")
    finally:
        engine.dispose()


def _run(*args):
    return runner.invoke(app, ["run", "--settle-seconds", "0", *args])


def _error_line(result):
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def _lines(*records):
    return "".join(json.dumps(r) + "\n" for r in records)


def test_a_map_typo_on_a_new_jsonl_source_stores_nothing_until_accepted(
    prefect_server, db_url, tmp_path
):
    (tmp_path / "reviews.jsonl").write_text(
        _lines(*({"uid": f"r{i}", "review_body": f"review number {i}"} for i in range(5)))
    )
    typo = _run("--input", "reviews.jsonl", "--source", "reviews", "--map", "id=uid,text=body")
    assert typo.exit_code == 2
    line = _error_line(typo)
    assert line.startswith(
        "error: source 'reviews': 5 of its first 5 records would be rejected as "
        "\"missing text (no field 'body'; the record has 'uid', 'review_body'; --map text=FIELD "
        'picks one)" (the first at reviews.jsonl@0); nothing was stored.'
    )
    assert "--accept-rejects" in line
    # Refused before the run began: not even the tables were created.
    assert _contents(db_url) is None
    # A typo in the id's column rejects nothing, yet would store every post under a content
    # hash, and the corrected map would store them all again: refused the same way.
    id_typo = _run(
        "--input", "reviews.jsonl", "--source", "reviews", "--map", "id=uidd,text=review_body"
    )
    assert id_typo.exit_code == 2
    assert _error_line(id_typo).startswith(
        "error: source 'reviews': --map id=uidd: none of its first 5 records has that field "
        "(the first has 'uid', 'review_body'); nothing was stored."
    )
    assert _contents(db_url) is None
    right = _run(
        "--input", "reviews.jsonl", "--source", "reviews", "--map", "id=uid,text=review_body"
    )
    assert right.exit_code == 0, right.output
    assert set(_contents(db_url)[0]) == {f"r{i}" for i in range(5)}
    # Asked for, the rejects are stored (another source name: a new source).
    accepted = _run(
        "--input", "reviews.jsonl", "--source", "typo", "--map", "text=body", "--accept-rejects"
    )
    assert accepted.exit_code == 0, accepted.output
    assert (
        _contents(db_url)[1]
        == [
            "missing text (no field 'body'; the record has 'uid', 'review_body'; --map text=FIELD "
            "picks one)"
        ]
        * 5
    )


def test_a_latin_1_csv_names_its_encoding_and_is_stored_whole_with_it(
    prefect_server, db_url, tmp_path
):
    (tmp_path / "reviews.csv").write_bytes(LATIN_CSV)
    plain = _run("--input", "reviews.csv")
    assert plain.exit_code == 2
    line = _error_line(plain)
    assert "3 of its first 4 records would be rejected" in line
    assert '"not UTF-8 (looks like cp1252): rerun with --encoding cp1252"' in line
    assert _contents(db_url) is None
    latin = _run("--input", "reviews.csv", "--encoding", "latin-1")
    assert latin.exit_code == 0, latin.output
    stored, rejects, _, _ = _contents(db_url)
    assert rejects == []
    assert stored == {
        "r1": "Great headphones",
        "r2": "Le son est très bon",
        "r3": "Schöne Kopfhörer für den Preis",
        "r4": "Mañana las compraré otra vez",
    }


def test_an_unusable_encoding_is_a_usage_error_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reviews.csv").write_bytes(LATIN_CSV)
    for name, fragment in (("latin-9x", "unknown encoding 'latin-9x'"), ("utf-16", "iconv")):
        result = _run("--input", "reviews.csv", "--encoding", name)
        assert result.exit_code == 2
        assert fragment in _error_line(result)
    assert not (tmp_path / "sentimon-data").exists()


def test_an_appended_file_is_read_on_and_a_rewritten_one_refused(prefect_server, db_url, tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(_lines({"id": "j1", "text": "first post"}, {"id": "j2", "text": "second"}))
    assert _run("--input", "feed.jsonl", "--source", "feed").exit_code == 0
    with feed.open("a") as fh:
        fh.write(_lines({"id": "j3", "text": "third, appended"}))
    appended = _run("--input", "feed.jsonl", "--source", "feed")
    assert appended.exit_code == 0, appended.output
    assert _contents(db_url)[0] == {"j1": "first post", "j2": "second", "j3": "third, appended"}
    before = _contents(db_url)

    feed.write_text(
        _lines(*({"id": f"k{i}", "text": f"a new export, post {i}"} for i in range(1, 5)))
    )
    rewritten = _run("--input", "feed.jsonl", "--source", "feed")
    assert rewritten.exit_code == 1
    assert _error_line(rewritten) == (
        "error: feed.jsonl was rewritten since it was read (its first bytes or those before the "
        "cursor changed); reading on from byte 106 of source 'feed' would start mid-record. "
        "Read it again from its start with --reread-changed (posts already stored keep their "
        "stored version), or start the source over: sentimon sources reset feed --to-start"
    )
    assert _contents(db_url) == before  # nothing read, the cursor where it was

    anew = _run("--input", "feed.jsonl", "--source", "feed", "--reread-changed")
    assert anew.exit_code == 0, anew.output
    assert "warning: feed.jsonl was rewritten since it was read" in anew.stderr
    stored, rejects, cursors, _ = _contents(db_url)
    assert set(stored) == {"j1", "j2", "j3", "k1", "k2", "k3", "k4"} and rejects == []
    assert json.loads(cursors["feed"])["offset"] == feed.stat().st_size


def test_a_truncated_file_is_refused(prefect_server, db_url, tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(_lines({"id": "j1", "text": "first post"}, {"id": "j2", "text": "second"}))
    assert _run("--input", "feed.jsonl", "--source", "feed").exit_code == 0
    read = feed.stat().st_size
    feed.write_text(_lines({"id": "j1", "text": "first post"}))
    result = _run("--input", "feed.jsonl", "--source", "feed")
    assert result.exit_code == 1
    assert _error_line(result).startswith(
        f"error: feed.jsonl is shorter than when it was read ({feed.stat().st_size} bytes now, "
        f"the cursor is at byte {read}): it was truncated or rewritten; reading on from byte "
        f"{read} of source 'feed' would start mid-record."
    )
    assert set(_contents(db_url)[0]) == {"j1", "j2"}


@pytest.mark.parametrize("name", ["blob.bin", "blob.csv"])
def test_binary_bytes_are_refused_before_anything_starts(tmp_path, monkeypatch, name):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    result = _run("--input", name)
    assert result.exit_code == 1
    assert _error_line(result) == (
        f"error: {name} holds binary data (NUL bytes in its first 8 KiB), not CSV or JSON "
        "lines: nothing was read; give a CSV, JSONL (.jsonl) or Parquet file"
    )
    assert not (tmp_path / "data").exists()  # refused before the database was touched


def test_a_landing_folder_warns_of_late_and_binary_files(prefect_server, db_url, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "b.jsonl").write_text(_lines({"id": "b1", "text": "from b"}))
    assert _run("--input", "landing", "--source", "land").exit_code == 0
    (landing / "a.jsonl").write_text(_lines({"id": "a1", "text": "late, named before b"}))
    (landing / "c.csv").write_bytes(b"\x00\x01binary\x00" * 100)
    (landing / "d.jsonl").write_text(_lines({"id": "d1", "text": "after the binary file"}))
    result = _run("--input", "landing", "--source", "land")
    assert result.exit_code == 0, result.output
    assert (
        "warning: a.jsonl landed (or changed) after files named later were read: read again "
        "from it (records already stored are kept once)"
    ) in result.stderr
    assert "warning: c.csv not read: it holds binary data" in result.stderr
    summary = json.loads(result.stdout)
    assert len(summary["notices"]) == 2
    assert set(_contents(db_url)[0]) == {"a1", "b1", "d1"}


def test_the_encoding_of_a_named_source_comes_from_sentimon_toml(
    prefect_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "reviews.csv").write_bytes(LATIN_CSV)
    (tmp_path / "sentimon.toml").write_text(
        '[sources.shop]\nkind = "files"\npath = "landing"\nencoding = "latin-1"\n'
    )
    result = _run("--source", "shop")
    assert result.exit_code == 0, result.output
    url = f"sqlite:///{tmp_path / 'data' / 'sentimon.db'}"
    stored, rejects, _, _ = _contents(url)
    assert rejects == [] and stored["r4"] == "Mañana las compraré otra vez"


def test_an_encoding_for_a_database_input_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _run("--input", "sqlite:///shop.db?table=t&cursor=id", "--encoding", "cp1252")
    assert result.exit_code == 2
    assert _error_line(result) == (
        "error: --encoding is for files (CSV and JSONL), not for a database or stream"
    )
