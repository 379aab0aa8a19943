"""One training run end to end: corpus -> dedupe -> split -> tokens -> train -> evaluate -> save.

Everything the run measured goes into the version's metrics.json: the model on the validation
and test splits, the model beside VADER and TextBlob on the test split (with topic and length
slices), and, when asked, the held-out-topic runs that measure generalisation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from spacy.language import Language

from pipeline.errors import ConfigError
from pipeline.model.artifacts import save_model
from pipeline.model.lstm import LSTMClassifier
from pipeline.model.predict import batch_logits, encode_all
from pipeline.model.vocab import TokenRules, Vocabulary
from pipeline.records import LABELS
from pipeline.text.brand_file import BrandCatalog
from pipeline.text.tokenize import EMAIL, NUM, URL, USER, TextConfig, make_nlp, preprocess
from pipeline.training.corpus import load_splits
from pipeline.training.evaluation import compare_tools, summarise_tools
from pipeline.training.metrics import classification_metrics
from pipeline.training.train import EpochReport, TrainConfig, TrainResult, train_model

HELD_OUT_TOPIC = "airline"  # ~40% of the default corpus: the one topic big enough both ways
# Texts (train, validation, test) below which a held-out-topic run means nothing.
_MIN_HELD_OUT = (50, 10, 50)


def model_probs(
    model: LSTMClassifier,
    vocab: Vocabulary,
    token_lists: list[list[str]],
    temperature: float = 1.0,
    max_tokens: int | None = None,
) -> np.ndarray:
    """Calibrated probabilities float64[N, 3], exactly as the Scorer computes them."""
    model.eval()
    ids, features = encode_all(vocab, token_lists, max_tokens)
    logits = batch_logits(model, ids, features).double()  # [N, C]
    return torch.softmax(logits / temperature, dim=-1).numpy()


def brand_rules(catalog: BrandCatalog, nlp: Language, text_config: TextConfig) -> TokenRules:
    """TokenRules reading every brand phrase of the catalog (names, aliases, handles, hashtags)
    as ``<brand>``, and leaving its exclude phrases alone; tokenised as the model's input is.

    A phrase the tokenizer turns into masks only (a handle masked as <user>) is left out, or
    every handle would become a brand.
    """
    masks = {URL, EMAIL, USER, NUM}

    def phrases(texts: list[str]) -> tuple[tuple[str, ...], ...]:
        tokens = preprocess(nlp, texts, text_config)
        unique = {tuple(t.lower() for t in ts) for ts in tokens if set(ts) - masks}
        return tuple(sorted(unique))

    brands = phrases([p for brand in catalog.brands for p in brand.phrases()])
    keep = phrases([p for brand in catalog.brands for p in brand.exclude])
    return TokenRules(brands=brands, keep=keep)


def run_training(
    out_root: Path,
    config: TrainConfig,
    data_path: Path | None = None,
    column_map: dict[str, str] | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    limit: int | None = None,
    label_map: dict[str, str] | None = None,
    generalisation: bool = False,
    on_stage: Callable[[str], None] | None = None,
    brands: BrandCatalog | None = None,
) -> Path:
    """Train on a labelled CSV (default: the bundled corpus) and save a version; return its dir.

    ``limit`` keeps a fixed random sample of that many deduplicated rows (smoke runs).
    ``generalisation`` also trains two held-out-topic models with the same config (about as
    long again as the main run) and records how they do, beside VADER and TextBlob, on the
    topic they never saw. ``on_stage`` is told when each training run starts. ``brands`` (the
    brands file) is needed with ``config.mask_brands``.
    """
    if config.mask_brands and brands is None:
        raise ConfigError("mask_brands = true needs the brands file (SENTIMON_BRANDS)")
    splits, corpus_info = load_splits(data_path, column_map, label_map, limit, config.split_seed)
    nlp, text_config = make_nlp(), TextConfig()
    rules = brand_rules(brands, nlp, text_config) if brands is not None else None
    tokens = {
        name: preprocess(nlp, part["text"].tolist(), text_config) for name, part in splits.items()
    }
    labels = {name: _label_ids(part) for name, part in splits.items()}

    if on_stage is not None:
        on_stage("training")
    started = time.perf_counter()
    result = train_model(
        tokens["train"],
        labels["train"],
        splits["train"]["weight"].tolist(),
        tokens["validation"],
        labels["validation"],
        config,
        on_epoch=on_epoch,
        rules=rules,
    )
    train_seconds = time.perf_counter() - started

    metrics: dict[str, Any] = {}
    for name in ("validation", "test"):
        probs = _probs(result, tokens[name], config)
        metrics[name] = classification_metrics(
            labels[name], probs.argmax(axis=1).tolist(), probs, _score(probs)
        )
        if name == "test":
            test = splits["test"]
            metrics["comparison"] = compare_tools(
                test["text"].tolist(), labels["test"], probs, test["topic"].tolist()
            )
    metrics["corpus"] = corpus_info
    metrics["training"] = {
        "seconds": round(train_seconds, 1),
        "best_epoch": result.best_epoch,
        "temperature": result.temperature,
        "vocab_size": len(result.vocab),
        "history": [asdict(report) for report in result.history],
    }
    if generalisation:
        metrics["generalisation"] = held_out_topic_runs(splits, tokens, config, on_stage, rules)
    # A fresh pipeline tokenises exactly like the one used above, without the ~2 MB of corpus
    # strings that its StringStore cached along the way.
    return save_model(out_root, result, make_nlp(), text_config, config, metrics)


def held_out_topic_runs(
    splits: dict[str, pd.DataFrame],
    tokens: dict[str, list[list[str]]],
    config: TrainConfig,
    on_stage: Callable[[str], None] | None = None,
    rules: TokenRules | None = None,
    topic: str = HELD_OUT_TOPIC,
) -> dict[str, Any]:
    """Train without ``topic`` and test on all of its texts (any split), then the reverse.

    Each direction trains on the train split's texts of its side, stops early on the
    validation split's texts of that side, and is tested on every text of the other side, with
    VADER and TextBlob on the same texts. A side with too few texts is skipped with a note.
    """
    runs: dict[str, Any] = {"topic": topic}
    for name, keep_inside in ((f"without_{topic}", False), (f"{topic}_only", True)):
        sides = {
            split: (part["topic"] == topic).to_numpy() == keep_inside
            for split, part in splits.items()
        }
        train_rows, val_rows = sides["train"], sides["validation"]
        test_parts = [(split, ~inside) for split, inside in sides.items()]
        n_test = sum(int(rows.sum()) for _, rows in test_parts)
        sizes = (int(train_rows.sum()), int(val_rows.sum()), n_test)
        if any(n < least for n, least in zip(sizes, _MIN_HELD_OUT, strict=True)):
            runs[name] = {
                "skipped": f"too few texts (train, validation, test): {sizes}, need {_MIN_HELD_OUT}"
            }
            continue
        if on_stage is not None:
            on_stage(f"generalisation: {name.replace('_', ' ')}")
        started = time.perf_counter()
        train, val = splits["train"][train_rows], splits["validation"][val_rows]
        result = train_model(
            _pick(tokens["train"], train_rows),
            _label_ids(train),
            train["weight"].tolist(),
            _pick(tokens["validation"], val_rows),
            _label_ids(val),
            config,
            rules=rules,
        )
        test_tokens = [t for split, rows in test_parts for t in _pick(tokens[split], rows)]
        test = pd.concat([splits[split][rows] for split, rows in test_parts])
        probs = _probs(result, test_tokens, config)
        runs[name] = {
            "train_texts": int(train_rows.sum()),
            "test_texts": n_test,
            "seconds": round(time.perf_counter() - started, 1),
            "tools": summarise_tools(test["text"].tolist(), _label_ids(test), probs),
        }
    return runs


def _probs(result: TrainResult, token_lists: list[list[str]], config: TrainConfig) -> np.ndarray:
    return model_probs(
        result.model, result.vocab, token_lists, result.temperature, config.max_tokens
    )


def _score(probs: np.ndarray) -> np.ndarray:
    return probs[:, 2] - probs[:, 0]


def _pick(items: list[list[str]], rows: np.ndarray) -> list[list[str]]:
    return [item for item, keep in zip(items, rows, strict=True) if keep]


def _label_ids(part: pd.DataFrame) -> list[int]:
    return [LABELS.index(label) for label in part["label"]]
