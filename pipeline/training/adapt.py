"""Fine-tuning a saved model version on a team's own labels (`sentimon train --base`).

The new version keeps everything of its base but the weights: vocabulary (and so the lexicon
and token rules), tokenizer, text settings, lexicon prior. Training starts from the base's
weights with a small learning rate for a few epochs, stops early on a part of the labels, and
a further part is kept aside so that the new version and its base are measured on the same
texts that neither was chosen on.

A few hundred labels make one fine-tune a gamble: which few dozen texts early stopping reads
decides the epoch, and on the UCI sentences one run in four ended below its base. So the
labels are cut into ``folds``; each fold fine-tunes on the others and stops early on itself,
and the new weights are the mean of the folds' (a "model soup": the runs start from the same
base, so their weights can be averaged). Measured in docs/model-card.md: 12 of 12 runs gained,
where single runs ranged from -2.1 to +3.0 points.

Binary labels (positive/negative only, e.g. star ratings without 3s) train the 3-class head on
the classes present: the loss is taken over those classes' logits only, so the neutral logit
is not pushed down for want of neutral examples. With binary labels the measure that matters
is the sign of the score (p_positive - p_negative), so early stopping and the holdout report
use it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import spacy
import torch
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from pipeline.errors import ConfigError, CorpusError
from pipeline.model.artifacts import load_scorer, save_model
from pipeline.model.lstm import LSTMClassifier
from pipeline.model.manifest import CONFIG, TOKENIZER
from pipeline.model.predict import Scorer, batch_logits, encode_all
from pipeline.records import LABELS
from pipeline.training.corpus import read_labels
from pipeline.training.steps import BestEpoch, EpochInputs, train_epoch
from pipeline.training.train import (
    EpochReport,
    TrainConfig,
    TrainResult,
    class_weights,
    fit_temperature,
)

LAYERS = ("all", "no-embeddings", "head")
NEUTRAL = LABELS.index("neutral")


@dataclass(frozen=True)
class AdaptConfig:
    """The fine-tuning recipe; saved in the new version's metrics.json under ``adaptation``.

    Chosen on the Amazon part of the UCI sentences only (docs/model-card.md, "Adapting the
    model to your domain"), with the previous default model: everything but the embeddings
    moves; 5e-4 and 2e-3 gained 1 point there, 5e-3 3, 1e-2 3-5 points but unsteadily; moving
    the embeddings too, or the head alone, gained less.
    """

    lr: float = 5e-3
    epochs: int = 15
    batch_size: int = 16
    patience: int = 3
    weight_decay: float = 0.0  # decay towards zero would pull the weights away from the base's
    grad_clip: float = 1.0
    seed: int = 13
    # Which weights move: "all" (embedding rows the base froze stay frozen), "no-embeddings"
    # (a few hundred texts would otherwise move the rows of their words only, away from the
    # words they never use), or "head" (the classifier layer alone).
    layers: str = "no-embeddings"
    # Train with the base's lexicon prior in the logits (the network learns what the prior gets
    # wrong in this domain) rather than without it as the base was trained.
    prior_in_training: bool = False
    holdout: float = 0.3  # share of the labels kept aside for the report (`train --base`)
    # Fine-tunes whose weights are averaged, each stopping early on its own fifth of the labels
    # (module docstring); 1: a single fine-tune stopping early on ``validation`` of them.
    folds: int = 5
    validation: float = 0.2  # share of the rest that early stopping reads when folds = 1
    threads: int = 1

    def __post_init__(self) -> None:
        if self.layers not in LAYERS:
            raise ConfigError(f"unknown layers {self.layers!r}: use one of {list(LAYERS)}")
        if not 0 < self.holdout < 1 or not 0 < self.validation < 1:
            raise ConfigError(
                f"holdout ({self.holdout}) and validation ({self.validation}) are shares "
                "strictly between 0 and 1"
            )
        if min(self.epochs, self.batch_size, self.patience, self.threads, self.folds) < 1:
            raise ConfigError("epochs, batch_size, patience, threads and folds must be >= 1")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, not {self.lr}")


@dataclass
class BaseVersion:
    """A saved version loaded to be fine-tuned: its scorer, training config and directory."""

    scorer: Scorer
    train_config: TrainConfig
    path: Path

    @property
    def version(self) -> str:
        return self.scorer.version


def load_base(model_dir: Path) -> BaseVersion:
    """Load (and verify) a version directory to fine-tune."""
    scorer = load_scorer(model_dir)
    config = json.loads((Path(model_dir) / CONFIG).read_text(encoding="utf-8"))
    return BaseVersion(scorer, TrainConfig.from_dict(config["train"]), Path(model_dir).resolve())


def stratified_split(labels: Sequence[int], share: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (kept, set aside): ``share`` of each class aside (at least one of a class with
    two texts or more), drawn with a seeded generator; both lists in index order."""
    rng = np.random.default_rng(seed)
    kept: list[int] = []
    aside: list[int] = []
    for label in sorted(set(labels)):
        rows = [i for i, y in enumerate(labels) if y == label]
        rng.shuffle(rows)
        n_aside = min(max(round(len(rows) * share), 1), len(rows) - 1) if len(rows) > 1 else 0
        aside.extend(rows[:n_aside])
        kept.extend(rows[n_aside:])
    return sorted(kept), sorted(aside)


def selection_score(labels: Sequence[int], probs: np.ndarray) -> float:
    """What early stopping maximises: with neutral among the labels, macro-F1 over the classes
    present; without it (binary labels), the accuracy of the score's sign."""
    y = np.asarray(labels)
    if NEUTRAL not in set(y.tolist()):
        return sign_accuracy(y, probs)
    present = sorted(set(y.tolist()))
    return float(f1_score(y, probs.argmax(axis=1), labels=present, average="macro"))


def sign_accuracy(labels: Sequence[int] | np.ndarray, probs: np.ndarray) -> float:
    """Share of positive/negative texts whose score (p_positive - p_negative) has their sign;
    a score of exactly 0 counts as negative (positive iff > 0)."""
    y = np.asarray(labels)
    polar = y != NEUTRAL
    if not polar.any():
        return float("nan")
    positive = (probs[:, 2] - probs[:, 0]) > 0
    return float(np.mean(positive[polar] == (y[polar] == LABELS.index("positive"))))


def holdout_metrics(labels: Sequence[int], probs: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1 over the classes present, and for binary labels the score's sign
    accuracy and ROC AUC: what `train --base` prints for the base and the new version."""
    y = np.asarray(labels)
    present = sorted(set(y.tolist()))
    predicted = probs.argmax(axis=1)
    metrics: dict[str, Any] = {
        "n": len(y),
        "accuracy": float(np.mean(predicted == y)),
        "macro_f1": float(f1_score(y, predicted, labels=present, average="macro")),
        "classes": [LABELS[c] for c in present],
    }
    if NEUTRAL not in present:
        metrics["sign_accuracy"] = sign_accuracy(y, probs)
        score = probs[:, 2] - probs[:, 0]
        both = len(present) == 2
        metrics["auc"] = (
            float(roc_auc_score(y == LABELS.index("positive"), score)) if both else None
        )
    return metrics


def predict_probs(
    model: LSTMClassifier, scorer: Scorer, token_lists: Sequence[Sequence[str]], temperature: float
) -> np.ndarray:
    """Probabilities float64[N, 3] of ``model`` read through the scorer's vocabulary."""
    model.eval()
    ids, features = encode_all(scorer.vocab, token_lists, scorer.max_tokens)
    logits = batch_logits(model, ids, features).double()  # [N, C]
    return torch.softmax(logits / temperature, dim=-1).numpy()


def fine_tune(
    base: BaseVersion,
    train_tokens: Sequence[Sequence[str]],
    train_labels: Sequence[int],
    val_tokens: Sequence[Sequence[str]],
    val_labels: Sequence[int],
    config: AdaptConfig,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> TrainResult:
    """A copy of the base model trained further on the texts; the base is left untouched.

    Same seed, data and threads -> the same weights. The best epoch on the validation texts
    (`selection_score`) is kept; the temperature is fitted again on them when the base was
    calibrated. Sets torch's process-wide thread count to ``config.threads``.
    """
    if not train_tokens or len(train_tokens) != len(train_labels):
        raise ValueError("train tokens and labels must be non-empty and equally long")
    if not val_tokens or len(val_tokens) != len(val_labels):
        raise ValueError("validation tokens and labels must be non-empty and equally long")
    present = sorted(set(train_labels))
    if len(present) < 2:
        raise CorpusError(
            f"the labels to train on are all {LABELS[present[0]]!r}: fine-tuning needs at "
            "least two classes"
        )
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    shuffler = torch.Generator().manual_seed(config.seed)
    scorer = base.scorer
    model = copy.deepcopy(scorer.model)
    final_config = model.config
    # The base learnt without its lexicon prior, which was added after training
    # (pipeline.training.train):
    # fine-tune the same way, or the network learns to cancel the prior.
    training_config = final_config if config.prior_in_training else final_config.without_prior()
    _freeze(model, config.layers, base.train_config)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)

    train_ids, train_features = encode_all(scorer.vocab, train_tokens, scorer.max_tokens)
    inputs = EpochInputs(
        train_ids,
        train_features,
        targets=torch.tensor([present.index(y) for y in train_labels], dtype=torch.long),
        weights=class_weights(train_labels)[torch.as_tensor(train_labels)],
        columns=torch.tensor(present, dtype=torch.long),  # the classes trained on
    )

    history: list[EpochReport] = []
    best = BestEpoch(model)
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        model.config = training_config
        train_loss = train_epoch(
            model, inputs, optimizer, shuffler, config.batch_size, config.grad_clip
        )
        model.config = final_config
        probs = predict_probs(model, scorer, val_tokens, scorer.temperature)
        score = selection_score(val_labels, probs)
        y = np.asarray(val_labels)
        val_loss = _present_loss(probs, y, present)
        report = EpochReport(
            epoch=epoch,
            train_loss=train_loss,
            val_loss=val_loss,
            val_accuracy=float(np.mean(probs.argmax(axis=1) == y)),
            val_macro_f1=score,
            seconds=time.perf_counter() - started,
            # A few dozen validation texts often tie on the score: the lower loss breaks ties.
            best=best.update((score, -val_loss), epoch, model),
        )
        history.append(report)
        if on_epoch is not None:
            on_epoch(report)
        if best.patience_ran_out(epoch, config.patience):
            break

    model.load_state_dict(best.state)
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    temperature = scorer.temperature
    if base.train_config.calibrate:
        val_ids, val_features = encode_all(scorer.vocab, val_tokens, scorer.max_tokens)
        logits = batch_logits(model, val_ids, val_features)  # [M, C]
        temperature = fit_temperature(logits, torch.as_tensor(list(val_labels)))
    return TrainResult(scorer.vocab, model, final_config, best.epoch, temperature, history)


def fine_tune_folds(
    base: BaseVersion,
    tokens: Sequence[Sequence[str]],
    labels: Sequence[int],
    config: AdaptConfig,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> tuple[TrainResult, list[int]]:
    """Fine-tune on all of ``tokens``: the mean of ``config.folds`` fine-tunes, each stopping
    early on one fold (stratified, seeded) and trained on the others; with ``folds`` = 1 (or a
    class too small to appear in every fold's training part), one fine-tune stopping early on
    ``config.validation`` of the texts. Returns the result and each fine-tune's best epoch.

    The temperature is the mean of the folds' (each fitted on its own fold); labels do not
    depend on it.
    """
    # Every class must reach every fold's training part: no more folds than its texts.
    folds = min(config.folds, min(Counter(labels).values(), default=0))
    if folds < 2:
        splits = [stratified_split(labels, config.validation, config.seed + 1)]
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
        splits = list(splitter.split(np.zeros(len(labels)), labels))
    results = [
        fine_tune(
            base,
            [tokens[i] for i in fit],
            [labels[i] for i in fit],
            [tokens[i] for i in val],
            [labels[i] for i in val],
            config,
            on_epoch,
        )
        for fit, val in splits
    ]
    if len(results) == 1:
        return results[0], [results[0].best_epoch]
    states = [r.model.state_dict() for r in results]
    model = results[0].model
    model.load_state_dict({name: sum(s[name] for s in states) / len(states) for name in states[0]})
    model.eval()
    epochs = [r.best_epoch for r in results]
    soup = TrainResult(
        results[0].vocab,
        model,
        results[0].model_config,
        best_epoch=round(float(np.median(epochs))),
        temperature=float(np.mean([r.temperature for r in results])),
        history=[report for r in results for report in r.history],
    )
    return soup, epochs


def _present_loss(probs: np.ndarray, labels: np.ndarray, present: Sequence[int]) -> float:
    """Mean negative log-likelihood over the classes trained on (probabilities renormalised)."""
    picked = probs[:, list(present)]  # [M, K]
    picked = picked / picked.sum(axis=1, keepdims=True)
    rows = np.array([list(present).index(y) for y in labels])
    return float(-np.log(picked[np.arange(len(rows)), rows].clip(1e-12)).mean())


def _freeze(model: LSTMClassifier, layers: str, base_train: TrainConfig) -> None:
    """Mark which parameters may move. Rows the base kept frozen (its ``freeze_embeddings``)
    are not singled out: with layers = "all" on such a base the whole matrix stays, the cheap
    way never to move a frozen row."""
    keep_embeddings = layers != "all" or base_train.freeze_embeddings != "none"
    for name, param in model.named_parameters():
        if layers == "head":
            param.requires_grad_(name.startswith("head."))
        else:
            param.requires_grad_(not (keep_embeddings and name == "embedding.weight"))


@dataclass
class Adaptation:
    """What `run_adaptation` made: the new version's directory and its metrics.json."""

    path: Path
    metrics: dict[str, Any]


def run_adaptation(
    base_dir: Path,
    data_path: Path,
    out_root: Path,
    config: AdaptConfig,
    column_map: dict[str, str] | None = None,
    label_map: dict[str, str] | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> Adaptation:
    """Fine-tune ``base_dir`` on a labelled CSV and save the new version under ``out_root``.

    Rows with an empty label (not labelled yet) are skipped; repeated texts count once. Of the
    rest, ``config.holdout`` (stratified, seeded) is kept aside: the base and the new version
    are both measured on it. Early stopping reads ``config.validation`` of what remains.
    """
    base = load_base(base_dir)
    corpus, unique = read_labels(data_path, column_map, label_map)
    texts = unique["text"].tolist()
    labels = [LABELS.index(label) for label in unique["label"]]
    tokens = base.scorer.tokenize(texts)
    kept, aside = stratified_split(labels, config.holdout, config.seed)
    result, fold_epochs = fine_tune_folds(
        base, [tokens[i] for i in kept], [labels[i] for i in kept], config, on_epoch
    )
    aside_tokens, aside_labels = [tokens[i] for i in aside], [labels[i] for i in aside]
    base_probs = predict_probs(
        base.scorer.model, base.scorer, aside_tokens, base.scorer.temperature
    )
    new_probs = predict_probs(result.model, base.scorer, aside_tokens, result.temperature)
    holdout = {
        "base": holdout_metrics(aside_labels, base_probs),
        "adapted": holdout_metrics(aside_labels, new_probs),
    }
    data = Path(data_path)
    metrics: dict[str, Any] = {
        # `sentimon models list` shows test macro-F1: here, on the texts kept aside.
        "test": holdout["adapted"],
        "holdout": holdout,
        "adaptation": {
            "base_version": base.version,
            "base_path": str(base.path),
            "data": {
                "path": str(data.resolve()),
                "sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
                "column_map": column_map,
                "label_map": label_map,
                "labelled_rows": len(corpus),
                "unique_texts": len(unique),
                "labels": unique["label"].value_counts().to_dict(),
            },
            "split": {
                "train": len(kept),
                "train_labels": dict(Counter(LABELS[labels[i]] for i in kept)),
                "folds": len(fold_epochs),
                "holdout": len(aside),
            },
            "config": asdict(config),
        },
        "training": {
            "best_epoch": result.best_epoch,
            "fold_best_epochs": fold_epochs,
            "temperature": result.temperature,
            "history": [asdict(report) for report in result.history],
        },
    }
    # A fresh copy of the base's tokenizer, without the strings tokenising the data cached.
    nlp = spacy.load(base.path / TOKENIZER)
    path = save_model(out_root, result, nlp, base.scorer.text_config, base.train_config, metrics)
    return Adaptation(path, metrics)
