"""Evaluation metrics of a 3-class sentiment model, as saved in each version's metrics.json."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from pipeline.records import LABELS


def expected_calibration_error(y_true: Sequence[int], probs: np.ndarray, bins: int = 15) -> float:
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


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], probs: np.ndarray
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-label precision/recall/F1/support, confusion matrix, ECE.

    Labels are ints indexing ``LABELS``; confusion rows are true labels, columns predicted.
    A label absent from both y_true and y_pred scores 0 (and still counts in the macro mean).
    """
    if len(y_true) == 0 or len(y_true) != len(y_pred) or len(y_true) != len(probs):
        raise ValueError(
            f"metrics need equally many true labels, predictions and probability rows, at least "
            f"one: got {len(y_true)}, {len(y_pred)}, {len(probs)}"
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
        "ece": expected_calibration_error(y_true, probs, bins=15),
    }
