import dataclasses

import pytest
import torch

from pipeline.model.lstm import LSTMClassifier, ModelConfig
from pipeline.model.vocab import pad_batch
from pipeline.training.train import train_model


@pytest.fixture
def model():
    torch.manual_seed(0)
    return LSTMClassifier(ModelConfig(vocab_size=30, embed_dim=8, hidden_size=6, dropout=0.0))


def test_output_shape_for_varied_lengths(model):
    ids, lengths = pad_batch([[2, 3, 4, 5], [6], [7, 8]])
    logits = model(ids, lengths)
    assert logits.shape == (3, 3)
    assert logits.dtype == torch.float32


def test_extra_padding_changes_nothing(model):
    model.eval()
    ids, lengths = pad_batch([[2, 3, 4], [5, 6]])  # [2, 3]
    wider = torch.cat([ids, torch.zeros(2, 5, dtype=torch.long)], dim=1)  # [2, 8]
    torch.testing.assert_close(model(wider, lengths), model(ids, lengths))


def test_a_sequence_is_scored_the_same_alone_or_in_a_batch(model):
    model.eval()
    ids, lengths = pad_batch([[2, 3, 4, 9, 9], [5, 6]])
    alone = model(*pad_batch([[5, 6]]))
    torch.testing.assert_close(model(ids, lengths)[1:], alone)


def test_zero_length_does_not_crash(model):
    logits = model(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 3]))
    assert torch.isfinite(logits).all()


def test_config_dict_round_trip():
    config = ModelConfig(vocab_size=10, hidden_size=7)
    assert ModelConfig.from_dict(config.to_dict()) == config


@pytest.mark.slow  # ~6 s of training steps
def test_overfits_one_tiny_batch():
    torch.manual_seed(1)
    model = LSTMClassifier(ModelConfig(vocab_size=40, embed_dim=16, hidden_size=16, dropout=0.0))
    generator = torch.Generator().manual_seed(1)
    id_lists = [torch.randint(2, 40, (n,), generator=generator).tolist() for n in range(3, 15)]
    ids, lengths = pad_batch(id_lists)  # [12, 14], [12]
    labels = torch.arange(12) % 3  # random ids: only memorising can fit these labels
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(ids, lengths), labels).backward()
        optimizer.step()
    model.eval()
    assert (model(ids, lengths).argmax(dim=-1) == labels).all()


def test_tiny_model_learns_its_data(tiny_result, tiny_data):
    model = tiny_result.model
    assert not model.training
    ids, lengths = pad_batch([tiny_result.vocab.encode(t) for t in tiny_data["val_tokens"]])
    accuracy = (model(ids, lengths).argmax(-1) == torch.tensor(tiny_data["val_labels"])).float()
    assert accuracy.mean() >= 0.9


def _state(result):
    return {k: v.clone() for k, v in result.model.state_dict().items()}


def test_same_seed_gives_identical_weights(tiny_data, tiny_config):
    config = dataclasses.replace(tiny_config, epochs=2)
    first = _state(train_model(**tiny_data, config=config))
    second = _state(train_model(**tiny_data, config=config))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_different_seed_gives_different_weights(tiny_data, tiny_config):
    config = dataclasses.replace(tiny_config, epochs=2)
    first = _state(train_model(**tiny_data, config=config))
    other = _state(train_model(**tiny_data, config=dataclasses.replace(config, seed=8)))
    assert not torch.equal(first["head.weight"], other["head.weight"])


def test_a_lexicon_prior_is_attached_after_training_and_leaves_the_weights_alone(
    tiny_data, tiny_config
):
    config = dataclasses.replace(tiny_config, epochs=2, lexicon=True)
    # "but" is in the vocabulary only if training saw it (min_freq 2).
    but_texts = [["ok", "but", "slow"]] * 2
    with_but = {**tiny_data, "train_tokens": [*tiny_data["train_tokens"][:-2], *but_texts]}
    plain = train_model(**with_but, config=config)
    prior = train_model(
        **with_but,
        config=dataclasses.replace(
            config, lexicon_prior=1.5, lexicon_prior_negative=2.5, prior_but_rule=True
        ),
    )
    assert plain.model.config.lexicon_prior == 0.0
    assert prior.model.config.lexicon_prior == prior.model_config.lexicon_prior == 1.5
    assert prior.model_config.prior_weights() == (1.5, 2.5)
    contrast = prior.model_config.prior_contrast_id
    assert contrast is not None and prior.vocab.tokens[contrast] == "but"
    first, second = _state(plain), _state(prior)
    assert all(torch.equal(first[k], second[k]) for k in first)
