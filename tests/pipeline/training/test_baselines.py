import numpy as np
import pytest

from pipeline.training.baselines import (
    baseline_labels,
    baseline_scores,
    scores_to_labels,
    textblob_scores,
    vader_scores,
)


def test_thresholds_band_and_strict_sign():
    scores = np.array([-0.5, -0.05, -0.01, 0.0, 0.01, 0.05, 0.7])
    assert scores_to_labels(scores, 0.05).tolist() == [0, 0, 1, 1, 1, 2, 2]
    assert scores_to_labels(scores, 0.0).tolist() == [0, 0, 0, 1, 2, 2, 2]


def test_vader_and_textblob_read_clear_texts():
    texts = ["I love this, it is wonderful!", "This is terrible and I hate it.", "", "A table."]
    for name in ("vader", "textblob"):
        labels = baseline_labels(name, baseline_scores(name, texts))
        assert labels.tolist() == [2, 0, 1, 1], name


def test_mojibake_is_repaired_before_scoring():
    # "don’t" exported as latin-1 mojibake: VADER must still see the negation.
    assert vader_scores(["I donâ€™t like it"])[0] == pytest.approx(
        vader_scores(["I don't like it"])[0]
    )
    assert len(textblob_scores([])) == 0


def test_unknown_baseline():
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline_scores("afinn", ["x"])
