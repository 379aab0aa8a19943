"""Shared fixtures of the pipeline tests: a spaCy pipeline and a tiny trained model, built once."""

from __future__ import annotations

import itertools

import pytest

from pipeline.model.predict import Scorer
from pipeline.records import LABELS
from pipeline.text.tokenize import TextConfig, make_nlp, preprocess
from pipeline.training.train import TrainConfig, TrainResult, train_model

_WORDS = {
    "negative": ["hate", "awful", "terrible", "worst", "horrible"],
    "neutral": ["booked", "checked", "boarded", "read about", "saw"],
    "positive": ["love", "great", "amazing", "best", "wonderful"],
}
_TEMPLATES = [
    "i {w} this flight",
    "@united you are {w} today",
    "the new phone is {w} http://t.co/x",
    "{w} service at the gate",
]
_SUBJECTS = ["", " again", " honestly"]


def _examples() -> list[tuple[str, str]]:
    return [
        (template.format(w=word) + subject, label)
        for label, words in _WORDS.items()
        for word, template, subject in itertools.product(words, _TEMPLATES, _SUBJECTS)
    ]


@pytest.fixture(scope="session")
def tiny_examples() -> list[tuple[str, str]]:
    """(text, label) pairs whose label one word decides: 60 per label."""
    return _examples()


@pytest.fixture(scope="session")
def tiny_config() -> TrainConfig:
    return TrainConfig(
        seed=7,
        epochs=6,
        batch_size=16,
        lr=1e-2,
        min_freq=1,
        embed_dim=16,
        hidden_size=12,
        dropout=0.1,
        patience=6,
        max_tokens=16,
    )


@pytest.fixture(scope="session")
def pipeline_nlp():
    return make_nlp()


@pytest.fixture(scope="session")
def tiny_data(pipeline_nlp, tiny_examples):
    """Tokens, label ids and weights of the tiny examples; every 5th one is validation."""
    examples = tiny_examples
    tokens = preprocess(pipeline_nlp, [text for text, _ in examples], TextConfig())
    labels = [LABELS.index(label) for _, label in examples]
    train = [i for i in range(len(examples)) if i % 5]
    val = [i for i in range(len(examples)) if not i % 5]
    return {
        "train_tokens": [tokens[i] for i in train],
        "train_labels": [labels[i] for i in train],
        "train_weights": [1.0 if i % 2 else 0.6 for i in train],
        "val_tokens": [tokens[i] for i in val],
        "val_labels": [labels[i] for i in val],
    }


@pytest.fixture(scope="session")
def tiny_result(tiny_data, tiny_config) -> TrainResult:
    return train_model(**tiny_data, config=tiny_config)


@pytest.fixture(scope="session")
def tiny_scorer(tiny_result, pipeline_nlp, tiny_config) -> Scorer:
    return Scorer(
        model=tiny_result.model,
        vocab=tiny_result.vocab,
        nlp=pipeline_nlp,
        text_config=TextConfig(),
        version="lstm-test-0000",
        temperature=tiny_result.temperature,
        max_tokens=tiny_config.max_tokens,
    )
