"""`sentimon train` end to end on a small sample: a new version is saved, registered, active."""

import json

from typer.testing import CliRunner

from flows.cli import app


def test_train_registers_and_activates_a_new_version(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    config = tmp_path / "tiny.toml"
    config.write_text("[train]\nepochs = 1\nembed_dim = 16\nhidden_size = 8\nmin_freq = 1\n")
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--limit", "600", "--config", str(config)])
    assert result.exit_code == 0, result.output
    versions = [p.name for p in (tmp_path / "data" / "models").iterdir()]
    assert len(versions) == 1
    listed = runner.invoke(app, ["models", "list"]).stdout
    assert f"* {versions[0]}" in listed
    scored = runner.invoke(app, ["score", "fine"])
    assert json.loads(scored.stdout)["model_version"] == versions[0]
