"""The committed default model: its artifact verifies and it behaves like a sentiment model."""

from pathlib import Path

import pytest

from pipeline.model.artifacts import load_scorer
from pipeline.model.manifest import read_manifest

DEFAULT = Path(__file__).resolve().parents[3] / "models" / "default"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scorer():
    return load_scorer(DEFAULT)


def test_manifest_and_recorded_metrics():
    info = read_manifest(DEFAULT)
    assert info.version.startswith("lstm-")
    assert info.metrics["test"]["macro_f1"] > 0.65
    assert info.metrics["corpus"]["deduped_rows"] < info.metrics["corpus"]["rows"]


def test_clear_texts(scorer):
    texts = ["I love my new phone, it is amazing!", "worst airline ever, lost my bag again", ""]
    labels = [p.label for p in scorer.score_texts(texts)]
    assert labels[:2] == ["positive", "negative"]
    assert scorer.version == read_manifest(DEFAULT).version
