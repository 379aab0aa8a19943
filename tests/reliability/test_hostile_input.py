"""Hostile input through the real `sentimon run` / `report` / `score` commands (issue 18).

No record can stop a source, nothing outside a landing folder is read, a file being written is
not read half, same-named inputs never share a cursor, outputs carry input as inert text, a
tampered model is refused. On SQLite and PostgreSQL where the database matters.
"""

import csv
import io
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from db import repository
from db.engine import make_engine
from db.tables import posts, rejects, source_cursors
from flows.cli import app
from flows.runtime.settings import BUNDLED_MODEL
from flows.runtime.sources import source_name_for

pytestmark = pytest.mark.slow
runner = CliRunner()
DEEP = '{"text":' + "[" * 100_000 + "]" * 100_000 + "}"


def _line(**fields):
    return json.dumps(fields) + "\n"


def _good(i):
    return {"id": f"g{i}", "text": f"@united flight {i} was great", "created_at": "2026-11-02"}


def _run(*args):
    result = runner.invoke(app, ["run", *args])
    return result.exit_code, result.output


def _summary(output):
    # raw_decode: Prefect's console log handler may write after it (CliRunner's closed stream).
    return json.JSONDecoder().raw_decode(output[output.index('{\n  "source"') :])[0]


def _stored(url):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ids = set(conn.execute(select(posts.c.external_id)).scalars())
            refused = {
                row.locator: (row.reason, row.raw)
                for row in conn.execute(select(rejects.c.locator, rejects.c.reason, rejects.c.raw))
            }
            cursors = dict(
                conn.execute(select(source_cursors.c.source, source_cursors.c.position)).all()
            )
    finally:
        engine.dispose()
    return ids, refused, cursors


def _poison_folder(folder: Path) -> int:
    """The issue's repro plus every other poison record; returns the size of the last file."""
    folder.mkdir()
    (folder / "a.jsonl").write_text(
        _line(**_good(1))
        + DEEP
        + "\n"
        + '{"id": "huge", "text": "x", "n": 1'
        + "1" * 5000
        + "}\n"
        + _line(id="nul-author", text="fine text", author="a\x00b")
        + _line(id="nul-url", text="fine text", url="http://x/\x00")
        + _line(id="a\x00b", text="nul in the id")
        + _line(id="nul-brand", text="fine text", brand="Ap\x00ple")
        + '{"id": "surrogate", "text": "lone \\ud800 surrogate"}\n'
        + _line(id="long-id-" + "x" * 3000, text="an id PostgreSQL could not index")
        + _line(id="long-brand", text="fine text", brand="B" * 3000)
        + "x" * 3_000_000
        + "\n"
        + _line(**_good(2))
    )
    with (folder / "b.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "author"])
        writer.writerow(["g3", "@united good csv row", "me"])
        writer.writerow(["csv-huge-field", "y" * 200_000, "me"])  # over csv's 131,072 limit
        writer.writerow(["csv-multiline-huge", "z\n" * 600_000, "me"])  # over the record limit
        writer.writerow(["g4", "@united after the huge ones", "me"])
    (folder / "b_dir.jsonl").mkdir()
    os.mkfifo(folder / "b_fifo.jsonl")
    (folder / "c_passwd.csv").symlink_to("/etc/passwd")
    (folder / "c_inside.jsonl").symlink_to(folder / "z_target.jsonl.part")  # inside: read
    (folder / "z_target.jsonl.part").write_text(_line(**_good(5)))
    last = folder / "d.jsonl"
    last.write_text(_line(**_good(6)))
    return last.stat().st_size


def test_a_poison_folder_is_read_in_one_run(db_url, tmp_path, prefect_server):
    size = _poison_folder(tmp_path / "landing")
    code, output = _run("--input", str(tmp_path / "landing"), "--settle-seconds", "0")
    assert code == 0, output
    summary = _summary(output)
    assert summary["refused_entries"] == 3  # the folder, the FIFO, the link to /etc/passwd
    ids, refused, cursors = _stored(db_url)
    assert ids == {"g1", "g2", "g3", "g4", "g5", "g6"}
    reasons = sorted(reason for reason, _ in refused.values())
    assert len(reasons) == 12, reasons
    joined = "\n".join(reasons)
    for expected in (
        "nested too deeply",
        "4300 digits",
        "author contains a NUL",
        "url contains a NUL",
        "id contains a NUL",
        "brand contains a NUL",
        "invalid surrogate",
        "id over the size limit",
        "brand over the size limit",
        "record over the size limit (3,000,001 bytes",
        "text over the size limit (200000 > 20000",
    ):
        assert expected in joined, expected
    assert joined.count("record over the size limit") == 2  # the JSONL line, the CSV record
    assert not any("root:" in raw for _, raw in refused.values())  # /etc/passwd never read
    name = source_name_for(str(tmp_path / "landing"))
    stored = json.loads(cursors[name])
    assert (stored["file"], stored["offset"]) == ("d.jsonl", size)
    # Nothing is left to block the next run.
    code, output = _run("--input", str(tmp_path / "landing"), "--settle-seconds", "0")
    assert code == 0 and _summary(output)["read"] == 0


def test_a_file_vanishing_or_a_corrupt_gzip_does_not_stop_a_folder(
    db_url, tmp_path, prefect_server
):
    import gzip

    folder = tmp_path / "landing"
    folder.mkdir()
    with gzip.open(folder / "a.jsonl.gz", "wb") as fh:
        fh.write(_line(**_good(1)).encode() * 50)
    (folder / "a.jsonl.gz").write_bytes((folder / "a.jsonl.gz").read_bytes()[:-12])  # truncated
    (folder / "b.jsonl").write_text(_line(**_good(2)))
    code, output = _run("--input", str(folder), "--settle-seconds", "0")
    assert code == 0, output
    ids, refused, _ = _stored(db_url)
    assert ids == {"g1", "g2"}
    assert any("corrupt or truncated compressed data" in r for r, _ in refused.values())
    code, output = _run("--input", str(folder), "--settle-seconds", "0")
    assert code == 0 and _summary(output)["read"] == 0


def test_same_named_inputs_never_share_a_cursor(tmp_path, monkeypatch, prefect_server):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    for folder, n in (("d1", 3), ("d2", 5)):
        (tmp_path / folder).mkdir()
        lines = [_line(id=f"{folder}-{i}", text=f"post {i} from {folder}") for i in range(n)]
        (tmp_path / folder / "posts.jsonl").write_text("".join(lines))
    (tmp_path / "feed.jsonl").write_text(_line(id="j1", text="from the jsonl feed"))
    (tmp_path / "feed.csv").write_text("id,text\nc1,from the csv feed\n")
    for path in ("d1/posts.jsonl", "d2/posts.jsonl", "feed.jsonl", "feed.csv"):
        code, output = _run("--input", path, "--settle-seconds", "0")
        assert code == 0, output
    ids, _, cursors = _stored(f"sqlite:///{tmp_path / 'data' / 'sentimon.db'}")
    assert len(ids) == 3 + 5 + 2 and {"j1", "c1"} <= ids
    assert len(cursors) == 4


def test_a_file_landing_behind_the_cursor_is_read_and_nothing_twice(
    db_url, tmp_path, prefect_server
):
    landing = tmp_path / "landing"
    landing.mkdir()
    for name in ("b.jsonl", "c.jsonl"):
        (landing / name).write_text(_line(id=f"{name}-1", text=f"@united from {name}"))
    assert _run("--input", str(landing), "--settle-seconds", "0")[0] == 0
    # A producer's late delivery whose name sorts before the files already read.
    (landing / "a.jsonl").write_text(_line(id="a-1", text="@united late but here"))
    code, output = _run("--input", str(landing), "--settle-seconds", "0")
    assert code == 0, output
    summary = _summary(output)
    ids, refused, cursors = _stored(db_url)
    assert ids == {"a-1", "b.jsonl-1", "c.jsonl-1"}
    assert (summary["read"], summary["new_posts"]) == (3, 1)  # b and c again, stored once
    assert refused == {}
    assert json.loads(cursors[source_name_for(str(landing))])["file"] == "c.jsonl"
    # Once read, it sends the cursor back no more.
    code, output = _run("--input", str(landing), "--settle-seconds", "0")
    assert code == 0 and _summary(output)["read"] == 0, output


def test_a_file_being_written_is_never_read_half(tmp_path, monkeypatch, prefect_server):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    jsonl, table = tmp_path / "live.jsonl", tmp_path / "live.csv"
    jsonl.write_text(_line(**_good(1)) + '{"id": "g2", "text": "@united half wri')
    table.write_text('id,text\ng3,"@united complete row"\ng4,"@united half wri')
    for path in (jsonl, table):  # just written: the settle time (5 s) has not passed
        assert _run("--input", str(path))[0] == 0
    ids, refused, _ = _stored(f"sqlite:///{tmp_path / 'data' / 'sentimon.db'}")
    assert (ids, refused) == ({"g1", "g3"}, {})  # the half-written records wait
    with jsonl.open("a") as fh:
        fh.write('tten"}\n')
    with table.open("a") as fh:
        fh.write('tten row"\n')
    past = time.time() - 60
    for path in (jsonl, table):
        os.utime(path, (past, past))
        assert _run("--input", str(path))[0] == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'sentimon.db'}")
    with engine.connect() as conn:
        texts = dict(conn.execute(select(posts.c.external_id, posts.c.text)).all())
        n_rejects = conn.execute(select(func.count()).select_from(rejects)).scalar_one()
    engine.dispose()
    assert texts["g2"] == "@united half written" and texts["g4"] == "@united half written row"
    assert n_rejects == 0


HOSTILE_BRANDS = [
    '=HYPERLINK("http://127.0.0.1/x","click")',
    "@SUM(1+1)",
    "+cmd",
    "-1+1",
    r"$\frac{$",
]


def test_reports_carry_hostile_brand_names_as_text(tmp_path, monkeypatch, prefect_server):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "posts.jsonl"
    path.write_text(
        "".join(
            _line(id=f"{i}", text="the service was great", created_at="2026-11-02", brand=b)
            for i, b in enumerate(HOSTILE_BRANDS)
        )
    )
    assert _run("--input", str(path))[0] == 0
    report = runner.invoke(app, ["report", "--since", "2026-11-01", "--format", "csv"])
    assert report.exit_code == 0, report.output
    brands = {row["brand"] for row in csv.DictReader(io.StringIO(report.output))}
    for brand in HOSTILE_BRANDS[:-1]:  # each one a text cell, never a formula
        assert "'" + brand in brands and brand not in brands
    assert HOSTILE_BRANDS[-1] in brands
    chart, html = tmp_path / "c.png", tmp_path / "r.html"
    args = ["report", "--since", "2026-11-01", "--chart", str(chart), "--html", str(html)]
    drawn = runner.invoke(app, args)
    assert drawn.exit_code == 0, drawn.output
    assert chart.read_bytes().startswith(b"\x89PNG") and "\\frac" in html.read_text()


def _tampered_copy(tmp_path: Path) -> tuple[Path, str, str]:
    """A registered copy of the default model, then its head bias set to always-negative and
    its manifest re-hashed: every file matches the manifest, the manifest not the registry."""
    import hashlib

    import torch

    model = tmp_path / "models" / "copy"
    shutil.copytree(BUNDLED_MODEL, model)
    manifest = json.loads((model / "manifest.json").read_text())
    registered = hashlib.sha256((model / "manifest.json").read_bytes()).hexdigest()
    state = torch.load(model / "weights.pt", weights_only=True)
    state["head.bias"] = torch.tensor([50.0, 0.0, -50.0])
    torch.save(state, model / "weights.pt")
    manifest["files"]["weights.pt"] = hashlib.sha256(
        (model / "weights.pt").read_bytes()
    ).hexdigest()
    (model / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return model, manifest["version"], registered


def test_a_tampered_model_with_a_rehashed_manifest_is_refused(db_url, tmp_path, prefect_server):
    assert runner.invoke(app, ["init"]).exit_code == 0
    model, version, registered = _tampered_copy(tmp_path)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        repository.register_model_version(conn, version, str(model), registered, {}, True)
    engine.dispose()
    scored = runner.invoke(app, ["score", "what a great flight"])
    assert scored.exit_code == 1
    assert version in scored.output and "sha256" in scored.output
    assert "Traceback" not in scored.output
    (tmp_path / "p.jsonl").write_text(_line(**_good(1)))
    code, output = _run("--input", str(tmp_path / "p.jsonl"), "--settle-seconds", "0")
    assert code == 1 and version in output
    assert _stored(db_url)[0] == set()  # nothing scored with the tampered weights


def test_a_poison_redis_entry_is_acknowledged_and_quarantined(
    tmp_path, monkeypatch, prefect_server
):
    import redis

    url = os.environ.get("SENTIMON_TEST_REDIS_URL")
    if not url:
        pytest.skip("SENTIMON_TEST_REDIS_URL not set: Redis tests skipped")
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    client = redis.Redis.from_url(url)
    stream = f"hostile-{os.getpid()}-{time.time_ns()}"
    try:
        client.xadd(stream, {"json": json.dumps(_good(1))})
        client.xadd(stream, {"json": DEEP})
        client.xadd(stream, {"json": '{"id": "huge", "text": "x", "n": 1' + "1" * 5000 + "}"})
        client.xadd(stream, {"json": json.dumps({"id": "nul", "text": "ok", "author": "a\x00"})})
        client.xadd(stream, {"json": json.dumps(_good(2))})
        code, output = _run("--input", f"{url}?stream={stream}", "--source", "social")
        assert code == 0, output
        ids, refused, _ = _stored(f"sqlite:///{tmp_path / 'data' / 'sentimon.db'}")
        assert ids == {"g1", "g2"} and len(refused) == 3
        assert client.xpending(stream, "sentimon")["pending"] == 0  # acknowledged, not stuck
        code, output = _run("--input", f"{url}?stream={stream}", "--source", "social")
        assert code == 0 and _summary(output)["read"] == 0
    finally:
        client.delete(stream)
        client.close()


def test_the_ingest_summary_escapes_names_from_the_input():
    from flows.ingest import _summary
    from flows.runtime.totals import RunTotals

    name = "rt`<img src=x onerror=alert(1)>`"
    totals = RunTotals(name, batches=1, read=1, posts=1, new_posts=1, rejects=0, seconds=1.0)
    md = _summary(totals, "lstm-x", {"b`<img src=y>`.jsonl": "a FIFO (named pipe)"})
    assert f"### Source `` {name} ``" in md  # a fence longer than any backtick run inside
    assert "- ``b`<img src=y>`.jsonl``: a FIFO \\(named pipe\\)" in md
