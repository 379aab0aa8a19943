"""Evaluation metrics of a 3-class sentiment model, as saved in each version's metrics.json."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from pipeline.records import LABELS

Labels = Sequence[int] | np.ndarray  # ints indexing LABELS
Scores = Sequence[float] | np.ndarray


def expected_calibration_error(y_true: Labels, probs: np.ndarray, bins: int = 15) -> float:
    """Top-label ECE: sum over equal-width confidence bins of |accuracy - confidence| * share.

    probs float[N, C]; bin i holds confidences in (i/bins, (i+1)/bins].
    """
    probs = np.asarray(probs, dtype=float)
    if len(probs) == 0:
        return 0.0
    confidence = probs.max(axis=1)  # [N]
    correct = probs.argmax(axis=1) == np.asarray(y_true)  # [N]
    # ceil(conf * bins) - 1 puts a confidence exactly on an edge into the lower bin.
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)  # [N]
    ece = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def score_correlation(y_true: Labels, scores: Scores) -> float | None:
    """Spearman correlation of a score in [-1, 1] with the labels read as -1/0/1.

    None when it is undefined (fewer than two texts, or a constant score or label): a score
    that never varies says nothing about the ranking.
    """
    labels = np.asarray(y_true, dtype=float) - 1.0  # 0/1/2 -> -1/0/1
    values = np.asarray(scores, dtype=float)
    if len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels but {len(values)} scores")
    if len(labels) < 2 or np.ptp(labels) == 0 or np.ptp(values) == 0:
        return None
    return float(spearmanr(values, labels).statistic)


def summary_metrics(y_true: Labels, y_pred: Labels, scores: Scores) -> dict[str, Any]:
    """The short form used for slices and out-of-domain tests: n, accuracy, macro-F1, and
    the Spearman correlation of the score with the labels."""
    if len(y_true) == 0 or len(y_true) != len(y_pred):
        raise ValueError(f"need equally many labels and predictions: {len(y_true)}, {len(y_pred)}")
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            f1_score(
                y_true, y_pred, labels=list(range(len(LABELS))), average="macro", zero_division=0
            )
        ),
        "spearman": score_correlation(y_true, scores),
    }


def classification_metrics(
    y_true: Labels,
    y_pred: Labels,
    probs: np.ndarray | None,
    scores: Scores | None = None,
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-label precision/recall/F1/support, confusion matrix, ECE.

    Labels are ints indexing ``LABELS``; confusion rows are true labels, columns predicted.
    A label absent from both y_true and y_pred scores 0 (and still counts in the macro mean).
    ``probs`` float[N, C] gives the ECE (None for a tool without probabilities: ECE None);
    ``scores`` (e.g. p_positive - p_negative) adds their Spearman correlation with the labels.
    """
    n_probs = len(y_true) if probs is None else len(probs)
    if len(y_true) == 0 or len(y_true) != len(y_pred) or len(y_true) != n_probs:
        raise ValueError(
            f"metrics need equally many true labels, predictions and probability rows, at least "
            f"one: got {len(y_true)}, {len(y_pred)}, {n_probs}"
        )
    ids = list(range(len(LABELS)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, zero_division=0
    )
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(np.mean(f1)),
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(LABELS)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
        "ece": None if probs is None else expected_calibration_error(y_true, probs, bins=15),
        "spearman": None if scores is None else score_correlation(y_true, scores),
    }


def sign_metrics(y_true: Sequence[int] | np.ndarray, scores: Scores) -> dict[str, Any]:
    """Two-class view of a score on texts labelled 1 positive / 0 negative.

    ``accuracy``: share of texts where (score > 0) equals the label, so a score of exactly 0
    (nothing rated) counts as negative; ``auc``: ROC AUC of the score (ties count half), None
    when only one class is present.
    """
    y = np.asarray(y_true, dtype=int)
    values = np.asarray(scores, dtype=float)
    if len(y) == 0 or len(y) != len(values):
        raise ValueError(
            f"need equally many labels and scores, at least one: {len(y)}, {len(values)}"
        )
    if not set(y.tolist()) <= {0, 1}:
        raise ValueError("labels must be 1 (positive) or 0 (negative)")
    auc = float(roc_auc_score(y, values)) if len(set(y.tolist())) == 2 else None
    return {"n": len(y), "accuracy": float(np.mean((values > 0) == (y == 1))), "auc": auc}
