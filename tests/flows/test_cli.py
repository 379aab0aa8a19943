"""The `sentimon` commands, called in-process with Typer's runner on real files."""

import json

import pytest
from typer.testing import CliRunner

from flows.cli import app, parse_map, parse_when

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def test_score_prints_one_json_line_per_text_in_order(tmp_path):
    texts = ["I love this, best flight ever!", "worst service, lost my bag, never again", ""]
    result = runner.invoke(app, ["score", *texts])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    for line in lines:
        assert set(line) == {
            "label",
            "p_negative",
            "p_neutral",
            "p_positive",
            "score",
            "model_version",
        }
        assert abs(line["p_negative"] + line["p_neutral"] + line["p_positive"] - 1) < 1e-4
        assert abs(line["score"] - (line["p_positive"] - line["p_negative"])) < 1e-5
    assert lines[0]["label"] == "positive"
    assert lines[1]["label"] == "negative"
    # scoring never creates a database
    assert not (tmp_path / "data").exists()


def test_score_reads_jsonl_and_stdin(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"text": "great"}\n{"text": "awful"}\n')
    from_file = runner.invoke(app, ["score", "--input", "in.jsonl"])
    from_stdin = runner.invoke(app, ["score", "--input", "-"], input="great\nawful\n")
    assert from_file.exit_code == from_stdin.exit_code == 0
    assert from_file.stdout == from_stdin.stdout
    assert len(from_file.stdout.splitlines()) == 2


def test_score_without_input_is_a_usage_error():
    result = runner.invoke(app, ["score"])
    assert result.exit_code == 2


def test_init_is_idempotent(data_dir):
    first = runner.invoke(app, ["init"])
    second = runner.invoke(app, ["init"])
    assert first.exit_code == second.exit_code == 0, first.output + second.output
    assert (data_dir / "sentimon.db").exists()
    listed = runner.invoke(app, ["models", "list"])
    assert listed.stdout.count("*") == 1


def test_report_before_any_database_says_what_to_do():
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 1
    assert "sentimon init" in result.output


def test_parse_helpers():
    assert parse_map("text=review, id=uid") == {"text": "review", "id": "uid"}
    assert parse_map(None) is None
    assert parse_when("2026-11-01").isoformat() == "2026-11-01T00:00:00+00:00"
    with pytest.raises(Exception, match="use 7d"):
        parse_when("last tuesday")


def test_activating_an_unknown_model_version_is_a_clear_error():
    result = runner.invoke(app, ["models", "activate", "lstm-nope"])
    assert result.exit_code == 1
    assert "not registered" in result.output
