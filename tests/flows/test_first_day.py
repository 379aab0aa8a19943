"""First-day mistakes (issue 15), through the real CLI on real files and SQLite."""

import sqlite3
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def _rows(data_dir, sql):
    with sqlite3.connect(data_dir / "sentimon.db") as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.slow
def test_epoch_strings_in_a_csv_are_stored_and_bare_small_numbers_rejected(
    prefect_server, data_dir, tmp_path
):
    (tmp_path / "reviews.csv").write_text(
        "uid,review_body,date\n"
        "r1,great sound and comfy,1795545240\n"
        "r2,the hinge broke in a week,1795545240.5\n"
        "r3,fine for the price,2026-11-25T12:00:00Z\n"
        "r4,battery dies fast,3\n"
        "r5,too tight on my head,12\n"
    )
    result = runner.invoke(
        app,
        [
            "run",
            "--input",
            "reviews.csv",
            "--map",
            "id=uid,text=review_body,created_at=date",
        ],
    )
    assert result.exit_code == 0, result.output
    stored = dict(_rows(data_dir, "SELECT external_id, created_at FROM posts"))
    assert set(stored) == {"r1", "r2", "r3"}
    want = datetime.fromtimestamp(1795545240, UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert stored["r1"].startswith(want)
    assert stored["r2"].startswith(want + ".5")
    rejects = dict(_rows(data_dir, "SELECT external_id, reason FROM rejects"))
    assert set(rejects) == {"r4", "r5"}
    assert all(reason.startswith("unparsable created_at") for reason in rejects.values())
    assert "bare number" in rejects["r4"]


def test_run_help_lists_the_created_at_forms():
    result = runner.invoke(app, ["run", "--help"], terminal_width=200)
    assert result.exit_code == 0
    flat = " ".join(result.stdout.split())
    assert "created_at accepts" in flat
    for form in ("ISO 8601", "RFC 2822", "1795545240.5", "bare small number"):
        assert form in flat
