import numpy as np
import pytest

from pipeline.training.metrics import (
    classification_metrics,
    expected_calibration_error,
    sign_metrics,
)

Y_TRUE = [0, 0, 1, 2, 2, 2]
Y_PRED = [0, 1, 1, 2, 2, 0]


def probs_for(pred, confidence):
    """Rows whose top label is ``pred`` with the given confidence, the rest split evenly."""
    rows = np.full((len(pred), 3), 0.0)
    for i, (p, c) in enumerate(zip(pred, confidence, strict=True)):
        rows[i] = (1 - c) / 2
        rows[i, p] = c
    return rows


PROBS = probs_for(Y_PRED, [0.9, 0.9, 0.9, 0.6, 0.6, 0.6])


def test_hand_computed_example():
    m = classification_metrics(Y_TRUE, Y_PRED, PROBS)
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    # negative: TP 1, FP 1, FN 1; neutral: TP 1, FP 1, FN 0; positive: TP 2, FP 0, FN 1.
    assert m["per_class"]["negative"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    )
    assert m["per_class"]["neutral"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1}
    )
    assert m["per_class"]["positive"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)
    assert m["confusion"] == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    # Bin of 0.9: 2 of 3 right (gap 0.9 - 2/3); bin of 0.6: 2 of 3 right (gap 0.6 - 2/3).
    assert m["ece"] == pytest.approx(0.5 * (0.9 - 2 / 3) + 0.5 * (2 / 3 - 0.6))


def test_ece_is_zero_when_confidence_matches_accuracy():
    probs = probs_for([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5])
    assert expected_calibration_error([0, 1, 1, 2], probs) == pytest.approx(0.0)


def test_ece_of_certain_and_right_is_zero_and_certain_and_wrong_is_one():
    certain = probs_for([0, 1], [1.0, 1.0])
    assert expected_calibration_error([0, 1], certain) == pytest.approx(0.0)
    assert expected_calibration_error([2, 2], certain) == pytest.approx(1.0)


def test_absent_label_scores_zero_without_error():
    m = classification_metrics([0, 0, 1], [0, 0, 1], probs_for([0, 0, 1], [0.8] * 3))
    assert m["per_class"]["positive"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["accuracy"] == 1.0
    assert m["macro_f1"] == pytest.approx(2 / 3)


def test_empty_input_is_refused():
    with pytest.raises(ValueError, match="at least"):
        classification_metrics([], [], np.zeros((0, 3)))


def test_score_correlation_reads_labels_as_minus_one_zero_one():
    from pipeline.training.metrics import score_correlation

    assert score_correlation([0, 1, 2], [-0.9, 0.1, 0.8]) == pytest.approx(1.0)
    assert score_correlation([0, 1, 2], [0.9, 0.1, -0.8]) == pytest.approx(-1.0)
    assert score_correlation([0, 1, 2, 2], [0.0, 0.0, 0.0, 0.0]) is None  # a constant score
    assert score_correlation([1, 1], [0.1, 0.2]) is None  # a constant label
    with pytest.raises(ValueError, match="labels but"):
        score_correlation([0, 1], [0.1])


def test_summary_metrics_and_metrics_without_probabilities():
    from pipeline.training.metrics import summary_metrics

    summary = summary_metrics(Y_TRUE, Y_PRED, [-1, 0, 0, 1, 1, -1])
    full = classification_metrics(Y_TRUE, Y_PRED, None, [-1, 0, 0, 1, 1, -1])
    assert summary["macro_f1"] == pytest.approx(full["macro_f1"])
    assert summary["accuracy"] == pytest.approx(4 / 6)
    assert summary["spearman"] == pytest.approx(full["spearman"])
    assert full["ece"] is None
    assert classification_metrics(Y_TRUE, Y_PRED, PROBS)["spearman"] is None


def test_sign_metrics_by_hand():
    # Predicted positive iff score > 0: [1, 0, 0, 1] against [1, 1, 0, 0] -> half right.
    # AUC: of the 4 (positive, negative) pairs, 0.5 > -0.2, 0.5 > 0.1, 0.0 > -0.2 rank right.
    assert sign_metrics([1, 1, 0, 0], [0.5, 0.0, -0.2, 0.1]) == {
        "n": 4,
        "accuracy": 0.5,
        "auc": 0.75,
    }
    # A score of 0 reads as negative; a tie between the classes counts half.
    assert sign_metrics([1, 0], [0.0, 0.0]) == {"n": 2, "accuracy": 0.5, "auc": 0.5}
    assert sign_metrics([1, 1], [0.3, -0.1])["auc"] is None  # one class: no AUC


def test_sign_metrics_bad_input():
    with pytest.raises(ValueError, match="equally many"):
        sign_metrics([1, 0], [0.5])
    with pytest.raises(ValueError, match="equally many"):
        sign_metrics([], [])
    with pytest.raises(ValueError, match="1 \\(positive\\) or 0"):
        sign_metrics([2, 0], [0.5, 0.1])
