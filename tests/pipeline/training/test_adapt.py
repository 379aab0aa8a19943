"""Fine-tuning a saved version (pipeline.training.adapt) and the team lexicon, on a tiny model."""

import json
from dataclasses import replace

import pytest
import torch
from sklearn.model_selection import StratifiedKFold

from pipeline.errors import ConfigError, CorpusError
from pipeline.model.artifacts import save_model
from pipeline.model.team_lexicon import apply_team_lexicon, load_team_lexicon
from pipeline.records import LABELS
from pipeline.text.tokenize import TextConfig, make_nlp
from pipeline.training.adapt import (
    AdaptConfig,
    fine_tune,
    fine_tune_folds,
    load_base,
    run_adaptation,
    selection_score,
    stratified_split,
)
from pipeline.training.train import train_model

NEG, NEU, POS = (LABELS.index(x) for x in LABELS)


@pytest.fixture(scope="session")
def lexicon_model_dir(tiny_data, tiny_config, tmp_path_factory):
    """A tiny saved version with lexicon features and a lexicon prior (as the default has)."""
    config = replace(tiny_config, epochs=2, lexicon=True, lexicon_prior=1.0)
    result = train_model(**tiny_data, config=config)
    root = tmp_path_factory.mktemp("models")
    return save_model(root, result, make_nlp(), TextConfig(), config, {"test": {}})


@pytest.fixture(scope="session")
def base(lexicon_model_dir):
    return load_base(lexicon_model_dir)


def _texts(base, examples):
    return base.scorer.tokenize([t for t, _ in examples]), [LABELS.index(y) for _, y in examples]


def test_one_step_changes_weights_keeps_vocab_and_leaves_the_base_alone(base, tiny_examples):
    tokens, labels = _texts(base, tiny_examples[::3])
    before = {k: v.clone() for k, v in base.scorer.model.state_dict().items()}
    config = AdaptConfig(epochs=1, batch_size=len(tokens), lr=1e-2)
    result = fine_tune(base, tokens, labels, tokens[:10], labels[:10], config)
    assert result.vocab is base.scorer.vocab
    after = result.model.state_dict()
    assert not torch.equal(after["head.weight"], before["head.weight"])
    # no-embeddings (the default recipe): embedding rows stay where they were
    assert torch.equal(after["embedding.weight"], before["embedding.weight"])
    for key, value in base.scorer.model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert result.model_config.lexicon_prior == base.scorer.model.config.lexicon_prior == 1.0


def test_same_seed_same_weights(base, tiny_examples):
    tokens, labels = _texts(base, tiny_examples[::2])
    config = AdaptConfig(epochs=2, batch_size=8)
    first = fine_tune(base, tokens, labels, tokens[::5], labels[::5], config)
    second = fine_tune(base, tokens, labels, tokens[::5], labels[::5], config)
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key
    assert first.temperature == second.temperature


def test_binary_labels_train_the_classes_present_only(base, tiny_examples):
    polar = [(t, y) for t, y in tiny_examples if y != "neutral"][::2]
    tokens, labels = _texts(base, polar)
    result = fine_tune(
        base, tokens, labels, tokens[::4], labels[::4], AdaptConfig(epochs=2, layers="head")
    )
    head, old = result.model.head.weight, base.scorer.model.head.weight
    assert torch.equal(head[NEU], old[NEU])  # the neutral logit got no gradient
    assert not torch.equal(head[POS], old[POS])
    assert 0.0 <= selection_score(labels, torch.rand(len(labels), 3).numpy()) <= 1.0


def test_folds_average_the_weights_of_one_fine_tune_per_fold(base, tiny_examples):
    tokens, labels = _texts(base, tiny_examples[::2])
    config = AdaptConfig(epochs=2, batch_size=8, folds=3)
    soup, epochs = fine_tune_folds(base, tokens, labels, config)
    assert len(epochs) == 3 and soup.best_epoch in epochs
    # The first fold by hand: trained on the other two thirds, stopping early on its own.
    fit, val = next(
        StratifiedKFold(n_splits=3, shuffle=True, random_state=config.seed).split(tokens, labels)
    )
    first = fine_tune(
        base,
        [tokens[i] for i in fit],
        [labels[i] for i in fit],
        [tokens[i] for i in val],
        [labels[i] for i in val],
        config,
    )
    mixed = soup.model.state_dict()["head.weight"]
    assert not torch.equal(mixed, first.model.state_dict()["head.weight"])  # an average, not one
    again, _ = fine_tune_folds(base, tokens, labels, config)  # seeded: the same weights
    for key, value in soup.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[key]), key
    for key, value in base.scorer.model.state_dict().items():  # the base is left alone
        assert not key.startswith("head.") or not torch.equal(value, mixed)


def test_a_class_too_small_for_every_fold_falls_back_to_one_fine_tune(base, tiny_examples):
    polar = [(t, y) for t, y in tiny_examples if y != "neutral"][:30]
    tokens, labels = _texts(base, polar)
    labels = [NEG] + [POS] * (len(labels) - 1)  # one negative text cannot reach every fold
    result, epochs = fine_tune_folds(base, tokens, labels, AdaptConfig(epochs=1, folds=5))
    assert len(epochs) == 1 and result.best_epoch == epochs[0]


def test_one_class_is_a_clear_error(base, tiny_examples):
    tokens, _ = _texts(base, tiny_examples[:10])
    with pytest.raises(CorpusError, match="at least two classes"):
        fine_tune(base, tokens, [POS] * 10, tokens, [POS] * 10, AdaptConfig(epochs=1))
    with pytest.raises(ConfigError, match="layers"):
        AdaptConfig(layers="lstm")


def test_stratified_split_is_seeded_disjoint_and_keeps_every_class():
    labels = [NEG] * 50 + [POS] * 20 + [NEU] * 3
    kept, aside = stratified_split(labels, 0.3, seed=1)
    assert sorted(kept + aside) == list(range(len(labels)))
    assert [labels[i] for i in aside].count(NEG) == 15
    assert {labels[i] for i in aside} == {NEG, NEU, POS}
    assert stratified_split(labels, 0.3, seed=1) == (kept, aside)
    assert stratified_split(labels, 0.3, seed=2) != (kept, aside)


def test_run_adaptation_saves_a_new_version_with_its_holdout(base, tiny_examples, tmp_path):
    rows = ["id,body,stars"] + [
        f"{i},{text},{'5' if y == 'positive' else '1'}"
        for i, (text, y) in enumerate(tiny_examples)
        if y != "neutral"
    ]
    rows.append("999,not labelled yet,")  # empty label: skipped
    data = tmp_path / "labels.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    done = run_adaptation(
        base.path,
        data,
        tmp_path / "out",
        AdaptConfig(epochs=2),
        column_map={"text": "body", "label": "stars"},
    )
    metrics = json.loads((done.path / "metrics.json").read_text())
    assert metrics["adaptation"]["base_version"] == base.version
    assert len(metrics["adaptation"]["data"]["sha256"]) == 64
    held = metrics["holdout"]
    assert held["base"]["n"] == held["adapted"]["n"] == metrics["adaptation"]["split"]["holdout"]
    assert "sign_accuracy" in held["adapted"] and held["adapted"]["classes"] == [
        "negative",
        "positive",
    ]
    assert done.path.name != base.path.name
    new = load_base(done.path)
    assert new.scorer.vocab == base.scorer.vocab
    assert new.scorer.vocab.lexicon == base.scorer.vocab.lexicon
    assert new.train_config == base.train_config


def test_a_team_term_moves_the_score_its_way(base, tmp_path):
    lexicon = tmp_path / "team.toml"
    lexicon.write_text("[terms]\nzorgly = 4.0\nblarp = -4\n", encoding="utf-8")
    team = load_team_lexicon(lexicon)
    scorer = apply_team_lexicon(base.scorer, team)
    texts = ["the gate was zorgly", "the gate was blarp"]
    before = [p.score for p in base.scorer.score_texts(texts)]
    after = [p.score for p in scorer.score_texts(texts)]
    assert after[0] > before[0] and after[1] < before[1]
    assert scorer.team_lexicon == {
        "path": str(lexicon.resolve()),
        "sha256": team.sha256,
        "terms": 2,
    }
    assert base.scorer.vocab.lexicon is not None
    assert "zorgly" not in base.scorer.vocab.lexicon.valence  # the saved version is untouched


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[terms]\nbricked = 'bad'\n", "is not a number"),
        ("[terms]\nbricked = 9\n", "out of range"),
        ("[terms]\nbricked = true\n", "is not a number"),
        ("[term]\nbricked = -3\n", "unknown keys"),
        ("[terms]\n", "no [terms] table"),
        ("[terms]\n'side effects' = -2\n", "not one word"),
        ("[terms\n", "not valid TOML"),
    ],
)
def test_bad_team_lexicon_is_one_clear_line(tmp_path, content, message):
    path = tmp_path / "team.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="team lexicon") as err:
        load_team_lexicon(path)
    assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"missing\.toml not found: fix SENTIMON_LEXICON"):
        load_team_lexicon(tmp_path / "missing.toml")
