import dataclasses
from pathlib import Path

import pytest
import torch

from pipeline.errors import ConfigError
from pipeline.training.train import TrainConfig, class_weights, fit_temperature, train_model

REPO = Path(__file__).resolve().parents[3]


def test_committed_config_reads():
    config = TrainConfig.from_toml(REPO / "configs" / "lstm.toml")
    assert config.seed == 13
    assert config.max_tokens > 0 and config.threads >= 1


def test_config_dict_round_trip():
    config = TrainConfig(epochs=3, lr=1e-3)
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_toml_keeps_defaults_for_keys_left_out(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nepochs = 3\n")
    assert TrainConfig.from_toml(path) == TrainConfig(epochs=3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[train]\nepoch = 3\n", "unknown training settings \\['epoch'\\]"),
        ("epochs = 3\n", "no \\[train\\] table"),
        ("[train\n", "not valid TOML"),
        ('[train]\nschedule = "cosine"\n', "unknown schedule 'cosine'"),
        ("[train]\nepochs = 0\n", "out of range: \\['epochs'\\]"),
        ("[train]\ndropout = 1.0\n", "out of range: \\['dropout'\\]"),
        ("[train]\nword_dropout = 1.0\n", "out of range: \\['word_dropout'\\]"),
        ('[train]\npooling = "attention"\n', "unknown pooling 'attention'"),
        ('[train]\nconfidence = "square"\n', "unknown confidence 'square'"),
        ("[train]\nlexicon_head = true\n", "lexicon_head and lexicon_prior need lexicon = true"),
        ("[train]\nlexicon_prior = 1.0\n", "lexicon_head and lexicon_prior need lexicon = true"),
        (
            "[train]\nlexicon_prior_negative = 2.0\n",
            "lexicon_head and lexicon_prior need lexicon = true",
        ),
        ("[train]\nlexicon = true\nlexicon_prior = -1.0\n", "cannot be negative"),
    ],
)
def test_bad_toml_is_a_config_error(tmp_path, content, message):
    path = tmp_path / "c.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_toml(path)


def test_class_weights_are_inverse_frequency():
    weights = class_weights([0, 0, 0, 1, 2, 2])
    torch.testing.assert_close(weights, torch.tensor([6 / 9, 6 / 3, 6 / 6]))
    assert class_weights([0, 0, 2])[1] == 0.0  # an absent class neither crashes nor counts


def test_fit_temperature_recovers_overconfidence():
    generator = torch.Generator().manual_seed(0)
    true_logits = torch.randn(4000, 3, generator=generator)  # [N, 3]
    labels = torch.multinomial(torch.softmax(true_logits, -1), 1, generator=generator)[:, 0]
    # Logits scaled up 3x are overconfident by exactly a temperature of 3.
    assert fit_temperature(3 * true_logits, labels) == pytest.approx(3.0, abs=0.3)


def test_history_and_callback(tiny_data, tiny_config):
    reports = []
    result = train_model(
        **tiny_data, config=dataclasses.replace(tiny_config, epochs=3), on_epoch=reports.append
    )
    assert [r.epoch for r in reports] == [1, 2, 3]
    assert result.history == reports
    best = max(reports, key=lambda r: r.val_macro_f1)
    assert result.best_epoch == min(r.epoch for r in reports if r.val_macro_f1 == best.val_macro_f1)
    assert not result.model.training


def test_early_stopping_restores_the_best_epoch(tiny_data, tiny_config):
    # lr 0 makes no epoch better than the first, so patience 1 stops after the second.
    config = dataclasses.replace(tiny_config, lr=0.0, epochs=5, patience=1, dropout=0.0)
    result = train_model(**tiny_data, config=config)
    assert [r.epoch for r in result.history] == [1, 2]
    assert result.best_epoch == 1


def test_linear_schedule_trains_and_differs_from_constant(tiny_data, tiny_config):
    config = dataclasses.replace(tiny_config, epochs=2)
    linear = train_model(**tiny_data, config=dataclasses.replace(config, schedule="linear"))
    constant = train_model(**tiny_data, config=config)
    assert not torch.equal(linear.model.head.weight, constant.model.head.weight)


def test_mismatched_inputs_are_refused(tiny_data, tiny_config):
    data = dict(tiny_data, train_weights=tiny_data["train_weights"][:-1])
    with pytest.raises(ValueError, match="equally long"):
        train_model(**data, config=tiny_config)


def test_lexicon_model_with_rules_trains_reproducibly(tiny_data, tiny_config):
    from pipeline.model.vocab import BRAND, TokenRules

    config = dataclasses.replace(
        tiny_config,
        epochs=2,
        lexicon=True,
        lexicon_head=True,
        word_dropout=0.2,
        mask_brands=True,
        drop_exclamations=True,
        label_smoothing=0.1,
    )
    rules = TokenRules(brands=(("phone",),))
    first = train_model(**tiny_data, config=config, rules=rules)
    second = train_model(**tiny_data, config=config, rules=rules)
    assert first.model.config.lexicon_features == 4 and first.vocab.lexicon is not None
    assert BRAND in first.vocab.tokens and "phone" not in first.vocab.tokens
    assert "!" in first.vocab.rules.drop
    one, two = first.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(one[k], two[k]) for k in one)


def test_mask_brands_needs_brand_phrases(tiny_data, tiny_config):
    with pytest.raises(ConfigError, match="needs brand phrases"):
        train_model(**tiny_data, config=dataclasses.replace(tiny_config, mask_brands=True))


def test_rules_without_mask_brands_keep_brand_words(tiny_data, tiny_config):
    from pipeline.model.vocab import TokenRules

    config = dataclasses.replace(tiny_config, epochs=1)
    result = train_model(**tiny_data, config=config, rules=TokenRules(brands=(("phone",),)))
    assert "phone" in result.vocab.tokens and result.vocab.rules == TokenRules()
