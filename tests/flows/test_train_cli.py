"""`sentimon train` (the train-model flow) and `sentimon evaluate` end to end on small data."""

import json

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.evaluation import evaluate_flow
from flows.training import train_flow

pytestmark = pytest.mark.slow


def test_train_registers_a_new_version_and_activate_makes_it_the_scorer(
    prefect_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    config = tmp_path / "tiny.toml"
    config.write_text("[train]\nepochs = 1\nembed_dim = 16\nhidden_size = 8\nmin_freq = 1\n")
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--limit", "600", "--config", str(config)])
    assert result.exit_code == 0, result.output
    versions = [p.name for p in (tmp_path / "data" / "models").iterdir()]
    assert len(versions) == 1
    # A smoke run on a sample is registered, not activated: reports keep the model they had.
    assert "(active)" not in result.stdout
    assert f"`sentimon models activate {versions[0]}`" in " ".join(result.stdout.split())
    assert f"* {versions[0]}" not in runner.invoke(app, ["models", "list"]).stdout
    activated = runner.invoke(app, ["models", "activate", versions[0]])
    assert activated.exit_code == 0, activated.output
    listed = runner.invoke(app, ["models", "list"]).stdout
    assert f"* {versions[0]}" in listed
    scored = runner.invoke(app, ["score", "fine"])
    assert json.loads(scored.stdout)["model_version"] == versions[0]

    # evaluate by version name: the model's test split, with the baselines beside it.
    evaluated = runner.invoke(app, ["evaluate", "--model", versions[0], "--format", "json"])
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout)
    assert report["version"] == versions[0]
    tools = report["test"]["tools"]
    assert set(tools) == {"model", "vader", "textblob"}
    # The same texts, the same model: the numbers stored at training are reproduced.
    stored = json.loads((tmp_path / "data" / "models" / versions[0] / "metrics.json").read_text())
    assert tools["model"]["macro_f1"] == pytest.approx(stored["test"]["macro_f1"])
    assert tools["vader"]["n"] == stored["test"]["n"]
    table = runner.invoke(app, ["evaluate"])
    assert table.exit_code == 0, table.output
    assert "VADER" in table.stdout and "by length" in table.stdout


def test_train_flow_on_a_team_csv_with_star_ratings(prefect_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    words = {1: "awful", 2: "bad", 3: "okay", 4: "good", 5: "excellent"}
    rows = ["body,rating"] + [f"review {n} was {words[n % 5 + 1]},{n % 5 + 1}" for n in range(400)]
    data = tmp_path / "reviews.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = tmp_path / "tiny.toml"
    config.write_text("[train]\nepochs = 2\nembed_dim = 16\nhidden_size = 8\nmin_freq = 1\n")
    # The flow as a deployment runs it: no progress bar, epochs logged; not activated.
    summary = train_flow(
        data=str(data),
        column_map={"text": "body", "label": "rating"},
        config_path=str(config),
        activate=False,
    )
    assert summary["active"] is False and summary["test_macro_f1"] > 0.5
    (version,) = (tmp_path / "data" / "models").iterdir()
    corpus = json.loads((version / "metrics.json").read_text())["corpus"]
    assert corpus["train_labels"].keys() == {"negative", "neutral", "positive"}
    evaluated = CliRunner().invoke(app, ["evaluate", "--model", str(version), "--format", "json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["corpus"] == str(data)
    report = evaluate_flow(model=summary["version"])  # a registered version, by name
    assert report["version"] == summary["version"] == version.name


def test_bad_label_mapping_and_unknown_model_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", "--model", "lstm-nope"])
    assert result.exit_code == 2
    assert "neither a model directory nor a registered version" in " ".join(result.output.split())
    result = runner.invoke(app, ["evaluate", "--format", "xml"])
    assert result.exit_code != 0
    result = runner.invoke(app, ["train", "--labels", "1=good"])
    assert result.exit_code == 2
    assert "label mapping '1=good'" in " ".join(result.output.split())
