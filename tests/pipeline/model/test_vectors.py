"""Pretrained embeddings: rows copied from GloVe, extra rows beyond the corpus, frozen rows."""

import dataclasses

import numpy as np
import pytest
import torch

from pipeline.errors import ConfigError
from pipeline.model.vectors import GLOVE_6B_50D, load_vectors
from pipeline.model.vocab import PAD_ID
from pipeline.training.train import train_model


@pytest.fixture(scope="module")
def glove():
    return load_vectors(GLOVE_6B_50D)


@pytest.fixture
def glove_config(tiny_config):
    return dataclasses.replace(tiny_config, epochs=2, vectors=GLOVE_6B_50D, extra_vectors=200)


def test_glove_is_the_vetted_set(glove):
    assert glove.matrix.shape == (400_000, 50) and glove.dim == 50
    assert glove.words[:3] == ["the", ",", "."]
    index = glove.index()
    assert "headphones" in index and "n't" in index


def test_unknown_vector_set_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown word vectors 'word2vec'"):
        load_vectors("word2vec")


def test_rows_start_from_the_vectors_and_extras_follow_the_corpus(tiny_data, glove_config, glove):
    config = dataclasses.replace(glove_config, lr=0.0, dropout=0.0, epochs=1)
    result = train_model(**tiny_data, config=config)
    vocab, weight = result.vocab, result.model.embedding.weight
    assert result.model_config.embed_dim == 50
    assert len(vocab) - vocab.corpus_size == 200
    corpus, extras = vocab.tokens[: vocab.corpus_size], vocab.tokens[vocab.corpus_size :]
    assert not set(corpus) & set(extras)
    assert extras[0] == "the" or "the" in corpus  # the most frequent GloVe words come first
    index = glove.index()
    for token in ("love", "hate", extras[-1]):
        row = vocab.tokens.index(token)
        np.testing.assert_allclose(weight[row].detach().numpy(), glove.matrix[index[token]])
    assert torch.all(weight[PAD_ID] == 0)


@pytest.mark.parametrize("freeze", ["pretrained", "extra", "none"])
def test_frozen_rows_do_not_move(tiny_data, glove_config, glove, freeze):
    result = train_model(
        **tiny_data, config=dataclasses.replace(glove_config, freeze_embeddings=freeze)
    )
    vocab, weight = result.vocab, result.model.embedding.weight.detach()
    index = glove.index()
    start = {t: torch.from_numpy(np.array(glove.matrix[index[t]])) for t in ("love", "the")}
    love_moved = not torch.allclose(weight[vocab.tokens.index("love")], start["love"])
    extra = next(t for t in vocab.tokens[vocab.corpus_size :] if t in index)
    extra_row = weight[vocab.tokens.index(extra)]
    assert love_moved == (freeze == "none" or freeze == "extra")
    # Extras never appear in training text, so only weight decay could move them, and the
    # embedding matrix is left out of it when rows are frozen.
    if freeze != "none":
        torch.testing.assert_close(
            extra_row, torch.from_numpy(np.array(glove.matrix[index[extra]]))
        )


def test_unknown_freeze_mode_is_a_config_error(tiny_config):
    with pytest.raises(ConfigError, match="unknown freeze_embeddings 'half'"):
        dataclasses.replace(tiny_config, freeze_embeddings="half")
