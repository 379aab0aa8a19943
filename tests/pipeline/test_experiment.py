import itertools

import pytest

from pipeline.artifacts import load_scorer, read_manifest
from pipeline.errors import CorpusError
from pipeline.experiment import run_training
from pipeline.records import LABELS


@pytest.fixture
def team_csv(tmp_path, tiny_examples):
    path = tmp_path / "team.csv"
    rows = ["review,stars_label"]
    # Distinct texts (a number each) so that deduplication keeps them all.
    for n, (text, label) in zip(itertools.count(), tiny_examples * 2, strict=False):
        rows.append(f'"{text} #{n}",{label}')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_run_training_end_to_end(tmp_path, team_csv, tiny_config):
    reports = []
    model_dir = run_training(
        tmp_path / "models",
        tiny_config,
        data_path=team_csv,
        column_map={"text": "review", "label": "stars_label"},
        on_epoch=reports.append,
        limit=300,
    )
    info = read_manifest(model_dir)
    corpus = info.metrics["corpus"]
    assert corpus["rows"] == 360 and corpus["deduped_rows"] == 360 and corpus["used_rows"] == 300
    assert sum(corpus["splits"].values()) == 300
    for split in ("validation", "test"):
        assert info.metrics[split]["n"] == corpus["splits"][split]
        assert set(info.metrics[split]["per_class"]) == set(LABELS)
    assert info.metrics["test"]["accuracy"] >= 0.8  # one word decides each label
    assert len(reports) == len(info.metrics["training"]["history"]) >= 1
    assert load_scorer(model_dir).score_texts(["i love it"])[0].model_version == info.version


def test_too_little_data_is_a_clear_error(tmp_path, team_csv, tiny_config):
    with pytest.raises(CorpusError, match="split is empty"):
        run_training(
            tmp_path, tiny_config, team_csv, {"text": "review", "label": "stars_label"}, limit=3
        )
