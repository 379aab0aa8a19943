"""The lexicon tools a brand team already knows, scored on the same texts as the model.

- VADER: ``compound`` in [-1, 1]; the standard thresholds of its authors: >= 0.05 positive,
  <= -0.05 negative, else neutral.
- TextBlob (pattern analyser): ``polarity`` in [-1, 1]. It returns exactly 0.0 for a text
  without a rated word, so we read its sign: > 0 positive, < 0 negative, 0 neutral. Chosen on
  our validation split, where the strict sign gave TextBlob macro-F1 0.410, a +-0.05 band 0.408
  and +-0.1 0.401 (VADER: 0.442 at 0, 0.440 at its standard +-0.05).

Both read the text after `pipeline.text.normalize.normalize_text` (mojibake and HTML entities
repaired), the same clean-up the model gets, so neither is penalised for the export's damage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import numpy as np

from pipeline.text.normalize import normalize_text

VADER_THRESHOLD = 0.05
TEXTBLOB_THRESHOLD = 0.0
BASELINES = ("vader", "textblob")


@cache
def _vader() -> Callable[[str], float]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return lambda text: float(analyzer.polarity_scores(text)["compound"])


def vader_scores(texts: Sequence[str]) -> np.ndarray:
    """VADER's compound score of each text: float64[N] in [-1, 1]."""
    score = _vader()
    return np.array([score(normalize_text(t)) for t in texts], dtype=float)


def textblob_scores(texts: Sequence[str]) -> np.ndarray:
    """TextBlob's polarity of each text: float64[N] in [-1, 1]."""
    from textblob import TextBlob

    return np.array([TextBlob(normalize_text(t)).sentiment.polarity for t in texts], dtype=float)


def scores_to_labels(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Label ids (0 negative, 1 neutral, 2 positive): int64[N].

    Positive when the score is >= ``threshold`` and above 0, negative when <= -``threshold``
    and below 0, neutral otherwise (so a threshold of 0 reads the strict sign).
    """
    scores = np.asarray(scores, dtype=float)
    labels = np.ones(len(scores), dtype=np.int64)
    labels[(scores >= threshold) & (scores > 0)] = 2
    labels[(scores <= -threshold) & (scores < 0)] = 0
    return labels


def baseline_scores(name: str, texts: Sequence[str]) -> np.ndarray:
    """Scores of the baseline called ``name`` (one of ``BASELINES``)."""
    if name == "vader":
        return vader_scores(texts)
    if name == "textblob":
        return textblob_scores(texts)
    raise ValueError(f"unknown baseline {name!r}: use one of {BASELINES}")


def baseline_labels(name: str, scores: np.ndarray) -> np.ndarray:
    """Three-class labels from a baseline's scores, with that baseline's thresholds."""
    threshold = VADER_THRESHOLD if name == "vader" else TEXTBLOB_THRESHOLD
    return scores_to_labels(scores, threshold)
