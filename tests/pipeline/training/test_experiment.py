import itertools

import pytest

from pipeline.errors import CorpusError
from pipeline.model.artifacts import load_scorer
from pipeline.model.manifest import read_manifest
from pipeline.records import LABELS
from pipeline.training.experiment import run_training


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


@pytest.mark.slow  # ~14 s: trains the baselines and held-out topic runs
def test_metrics_hold_the_baselines_slices_and_held_out_topic_runs(
    tmp_path, tiny_examples, tiny_config
):
    path = tmp_path / "team.csv"
    rows = ["review,stars_label"] + [
        f'"{text} #{n}",{label}' for n, (text, label) in enumerate(tiny_examples * 4)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    stages = []
    model_dir = run_training(
        tmp_path / "models",
        tiny_config,
        data_path=path,
        column_map={"text": "review", "label": "stars_label"},
        generalisation=True,
        on_stage=stages.append,
    )
    metrics = read_manifest(model_dir).metrics
    assert stages == ["training", "generalisation: without airline", "generalisation: airline only"]
    comparison = metrics["comparison"]
    assert comparison["n"] == metrics["test"]["n"]
    assert comparison["tools"]["model"]["macro_f1"] == metrics["test"]["macro_f1"]
    assert set(comparison["tools"]) == {"model", "vader", "textblob"}
    assert "airline" in comparison["slices"]["topic"]
    runs = metrics["generalisation"]
    assert runs["topic"] == "airline"
    airline = sum(1 for text, _ in tiny_examples * 4 if "flight" in text or "@united" in text)
    assert runs["without_airline"]["test_texts"] == airline
    assert runs["airline_only"]["test_texts"] == len(tiny_examples) * 4 - airline
    for run in ("without_airline", "airline_only"):
        tools = runs[run]["tools"]
        assert set(tools) == {"model", "vader", "textblob"}
        assert tools["model"]["n"] == runs[run]["test_texts"]
    assert metrics["corpus"]["path"] == str(path.resolve())


def test_held_out_runs_are_skipped_without_enough_texts(tmp_path, team_csv, tiny_config):
    model_dir = run_training(
        tmp_path / "models",
        tiny_config,
        team_csv,
        {"text": "review", "label": "stars_label"},
        limit=120,
        generalisation=True,
    )
    runs = read_manifest(model_dir).metrics["generalisation"]
    assert "too few texts" in runs["airline_only"]["skipped"]


def test_a_saved_lexicon_model_scores_as_it_did_in_training(tmp_path, team_csv, tiny_config):
    import dataclasses

    from pipeline.text.brand_file import Brand, BrandCatalog

    config = dataclasses.replace(
        tiny_config, lexicon=True, lexicon_head=True, mask_brands=True, drop_exclamations=True
    )
    brands = BrandCatalog((Brand("United Airlines", ("united",), ("@united",)),))
    model_dir = run_training(
        tmp_path / "models",
        config,
        team_csv,
        {"text": "review", "label": "stars_label"},
        brands=brands,
    )
    scorer = load_scorer(model_dir)
    assert scorer.vocab.lexicon is not None and "!" in scorer.vocab.rules.drop
    assert ("united",) in scorer.vocab.rules.brands
    stored = read_manifest(model_dir).metrics["test"]
    # The loaded version reproduces the test metrics computed at training time.
    from pipeline.training.evaluation import evaluate_version

    again = evaluate_version(model_dir)["test"]["tools"]["model"]
    assert again["macro_f1"] == pytest.approx(stored["macro_f1"])
    assert again["confusion"] == stored["confusion"]


def test_mask_brands_without_a_brands_file_is_a_config_error(tmp_path, team_csv, tiny_config):
    import dataclasses

    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="brands file"):
        run_training(tmp_path, dataclasses.replace(tiny_config, mask_brands=True), team_csv)
