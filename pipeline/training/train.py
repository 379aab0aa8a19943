"""Training from scratch: vocabulary, class-weighted loss, early stopping, calibration.

The epoch itself and the optimiser are in pipeline.training.steps, shared with fine-tuning.

Same data + same config (seed, threads) -> bitwise identical weights: every random draw comes
from a seeded generator (model init and dropout from ``torch.manual_seed``, batch order from a
``torch.Generator`` of its own), and the thread count is fixed because float sums depend on it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pipeline.errors import ConfigError
from pipeline.model.lexicon import NUM_FEATURES, Lexicon, load_lexicon
from pipeline.model.lstm import LSTMClassifier, ModelConfig
from pipeline.model.predict import batch_logits, encode_all
from pipeline.model.vectors import WordVectors, load_vectors
from pipeline.model.vocab import TokenRules, Vocabulary
from pipeline.records import LABELS
from pipeline.training.config import TrainConfig
from pipeline.training.steps import BestEpoch, EpochInputs, adamw, init_embeddings, train_epoch

# Pretrained rows a model may add beyond the corpus: plain lower-case words only (numbers
# become <num> and punctuation is in the corpus already, so those rows would never be read).
_EXTRA_WORD = re.compile(r"[a-z][a-z'-]*")


@dataclass(frozen=True)
class EpochReport:
    """What one epoch did; ``best`` marks the epoch whose weights are kept so far."""

    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    val_macro_f1: float
    seconds: float
    best: bool


@dataclass
class TrainResult:
    """The trained model (eval mode, best epoch's weights) and what it takes to use it."""

    vocab: Vocabulary
    model: LSTMClassifier
    model_config: ModelConfig
    best_epoch: int
    temperature: float = 1.0
    history: list[EpochReport] = field(default_factory=list)


def class_weights(labels: Sequence[int], num_classes: int = len(LABELS)) -> torch.Tensor:
    """Inverse class frequency, scaled so that a balanced corpus gets 1.0 each: FloatTensor[C]."""
    counts = torch.bincount(torch.as_tensor(labels, dtype=torch.long), minlength=num_classes)
    weights = len(labels) / (num_classes * counts.clamp(min=1).double())
    return torch.where(counts > 0, weights, 0.0).float()


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T minimising NLL of softmax(logits / T): logits [N, C], labels [N].

    A grid search: deterministic, and one scalar on a few thousand rows costs nothing.
    """
    grid = torch.arange(0.25, 5.0001, 0.01, dtype=torch.float64)  # [G]
    logp = torch.log_softmax(logits.double()[None] / grid[:, None, None], dim=-1)  # [G, N, C]
    nll = -logp.gather(-1, labels[None, :, None].expand(len(grid), -1, 1)).mean(dim=(1, 2))
    return round(float(grid[int(nll.argmin())]), 2)


def train_model(
    train_tokens: Sequence[Sequence[str]],
    train_labels: Sequence[int],
    train_weights: Sequence[float],
    val_tokens: Sequence[Sequence[str]],
    val_labels: Sequence[int],
    config: TrainConfig,
    on_epoch: Callable[[EpochReport], None] | None = None,
    lexicon: Lexicon | None = None,
    rules: TokenRules | None = None,
) -> TrainResult:
    """Train a BiLSTM; labels index ``LABELS``; weights scale each sample's loss (confidence).

    With ``config.lexicon`` the model also reads lexicon features (``lexicon``, by default the
    installed VADER lexicon), which are saved with the vocabulary, as are the token ``rules``
    (brand phrases; with ``config.drop_exclamations`` "!" is added to the dropped tokens).

    Early stopping keeps the epoch with the best validation macro-F1; with ``calibrate`` a
    temperature is fitted on validation logits (it changes probabilities, never the argmax).
    Sets torch's process-wide thread count to ``config.threads``.
    """
    if not (len(train_tokens) == len(train_labels) == len(train_weights)) or not train_tokens:
        raise ValueError("train tokens, labels and weights must be non-empty and equally long")
    if len(val_tokens) != len(val_labels) or not val_tokens:
        raise ValueError("validation tokens and labels must be non-empty and equally long")
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    shuffler = torch.Generator().manual_seed(config.seed)

    if config.lexicon and lexicon is None:
        lexicon = load_lexicon(
            config.lexicons, Path(config.lexicon_dir) if config.lexicon_dir else None
        )
    vectors = load_vectors(config.vectors) if config.vectors else None
    vocab = _build_vocabulary(train_tokens, config, lexicon, _token_rules(rules, config), vectors)
    train_ids, train_features = encode_all(vocab, train_tokens, config.max_tokens)
    val_ids, val_features = encode_all(vocab, val_tokens, config.max_tokens)
    labels = torch.as_tensor(train_labels, dtype=torch.long)  # [N]
    weights = torch.as_tensor(train_weights, dtype=torch.float32)  # [N]
    if config.confidence == "ignore":
        weights = torch.ones_like(weights)
    inputs = EpochInputs(
        train_ids, train_features, labels, class_weights(train_labels)[labels] * weights
    )
    val_y = torch.as_tensor(val_labels, dtype=torch.long)  # [M]

    model_config = _model_config(len(vocab), config, vectors)
    model = LSTMClassifier(model_config)
    frozen = (
        init_embeddings(model, vocab, vectors, config.freeze_embeddings)
        if vectors is not None
        else None
    )
    optimizer = adamw(model, config.lr, config.weight_decay, frozen)
    scheduler = _scheduler(
        optimizer, config, steps_per_epoch=math.ceil(len(train_ids) / config.batch_size)
    )

    history: list[EpochReport] = []
    best = BestEpoch(model)
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        train_loss = train_epoch(
            model,
            inputs,
            optimizer,
            shuffler,
            config.batch_size,
            config.grad_clip,
            config.label_smoothing,
            scheduler,
        )
        val_loss, val_accuracy, macro_f1 = _validate(model, val_ids, val_features, val_y)
        report = EpochReport(
            epoch=epoch,
            train_loss=train_loss,
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            val_macro_f1=macro_f1,
            seconds=time.perf_counter() - started,
            best=best.update((macro_f1,), epoch, model),
        )
        history.append(report)
        if on_epoch is not None:
            on_epoch(report)
        if best.patience_ran_out(epoch, config.patience):
            break

    model.load_state_dict(best.state)
    model.eval()
    if config.lexicon_prior or config.lexicon_prior_negative:
        # Added only now: trained with it, the network learnt to cancel the lexicon on the
        # corpus and did worse on held-out topics (configs/lstm.toml, lexicon_prior).
        model_config = replace(
            model_config,
            lexicon_prior=config.lexicon_prior,
            lexicon_prior_negative=config.lexicon_prior_negative,
            prior_contrast_id=vocab.index.get("but") if config.prior_but_rule else None,
            prior_mode=config.prior_mode,
        )
        model.config = model_config
    temperature = (
        fit_temperature(batch_logits(model, val_ids, val_features), val_y)
        if config.calibrate
        else 1.0
    )
    return TrainResult(vocab, model, model_config, best.epoch, temperature, history)


def _validate(
    model: LSTMClassifier,
    val_ids: list[list[int]],
    val_features: list[list[tuple[float, ...]]] | None,
    val_y: torch.Tensor,
) -> tuple[float, float, float]:
    """Validation loss, accuracy and macro-F1 of the model as it stands (left in eval mode)."""
    # Imported here: scoring loads TrainConfig from this module, and sklearn costs ~0.7 s.
    from sklearn.metrics import f1_score

    model.eval()
    logits = batch_logits(model, val_ids, val_features)  # [M, C]
    predicted = logits.argmax(dim=-1).numpy()
    macro_f1 = float(
        f1_score(val_y.numpy(), predicted, average="macro", labels=list(range(len(LABELS))))
    )
    accuracy = float(np.mean(predicted == val_y.numpy()))
    return float(nn.functional.cross_entropy(logits, val_y)), accuracy, macro_f1


def _token_rules(rules: TokenRules | None, config: TrainConfig) -> TokenRules:
    """The rules the model's tokens go through: brand phrases (with ``mask_brands``), "!"
    dropped (with ``drop_exclamations``), runs of a repeated symbol capped."""
    rules = rules or TokenRules()
    if config.mask_brands and not rules.brands:
        raise ConfigError("mask_brands = true needs brand phrases: pass the brands file")
    if not config.mask_brands:
        rules = TokenRules(drop=rules.drop)
    if config.drop_exclamations:
        rules = replace(rules, drop=rules.drop | {"!"})
    if config.max_token_run:
        rules = replace(rules, max_run=config.max_token_run)
    return rules


def _build_vocabulary(
    train_tokens: Sequence[Sequence[str]],
    config: TrainConfig,
    lexicon: Lexicon | None,
    rules: TokenRules,
    vectors: WordVectors | None,
) -> Vocabulary:
    """The corpus's frequent tokens, then the vectors' frequent words the corpus lacks."""
    return Vocabulary.build(
        train_tokens,
        config.min_freq,
        config.max_vocab,
        lexicon if config.lexicon else None,
        rules,
        extra=(w for w in vectors.words if _EXTRA_WORD.fullmatch(w)) if vectors else (),
        max_extra=config.extra_vectors if vectors else 0,
    )


def _model_config(vocab_size: int, config: TrainConfig, vectors: WordVectors | None) -> ModelConfig:
    return ModelConfig(
        vocab_size=vocab_size,
        embed_dim=vectors.dim if vectors else config.embed_dim,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        dropout=config.dropout,
        lexicon_features=NUM_FEATURES if config.lexicon else 0,
        lexicon_head=config.lexicon_head,
        word_dropout=config.word_dropout,
        text_dropout=config.text_dropout,
        pooling=config.pooling,
    )


def _scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step learning-rate factor: 1 throughout, or falling linearly to 0 at the last epoch."""
    if config.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    if config.schedule == "linear":
        total = max(config.epochs * steps_per_epoch, 1)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1 - step / total))
    raise AssertionError(config.schedule)  # TrainConfig.__post_init__ allows no other
