"""One training epoch, the batches it walks and the optimiser's set-up: what training from
scratch (pipeline.training.train) and fine-tuning (pipeline.training.adapt) share.

Every random draw comes from a seeded source (dropout from ``torch.manual_seed``, batch order
from the ``torch.Generator`` passed in), so the same inputs give bitwise the same weights.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from pipeline.model.lstm import LSTMClassifier
from pipeline.model.vectors import WordVectors
from pipeline.model.vocab import PAD_ID, Vocabulary, pad_batch, pad_features

_POOL_BATCHES = 50  # batches per length-sorted pool: similar lengths, yet a shuffled order
FeatureRows = Sequence[Sequence[float]]


@dataclass
class EpochInputs:
    """What an epoch trains on: encoded texts, their targets and per-sample loss weights.

    ``columns`` (LongTensor[K]) restricts the loss to those classes' logits, with targets
    indexing them: fine-tuning on positive/negative labels leaves the neutral row alone.
    """

    ids: list[list[int]]
    features: list[list[tuple[float, ...]]] | None
    targets: torch.Tensor  # [N] long
    weights: torch.Tensor  # [N] float: class weight x the sample's own
    columns: torch.Tensor | None = None  # [K] long
    lengths: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.lengths = [len(ids) for ids in self.ids]


def train_epoch(
    model: LSTMClassifier,
    inputs: EpochInputs,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    batch_size: int,
    grad_clip: float = 0.0,
    label_smoothing: float = 0.0,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> float:
    """One pass over ``inputs`` in shuffled, length-bucketed batches; returns the mean loss."""
    model.train()
    clipped = [p for p in model.parameters() if p.requires_grad]
    total, seen = 0.0, 0
    for batch in bucketed_batches(inputs.lengths, batch_size, generator):
        ids, lens = pad_batch([inputs.ids[i] for i in batch])  # [B, T], [B]
        features = (
            pad_features([inputs.features[i] for i in batch])  # [B, T, F]
            if inputs.features is not None
            else None
        )
        logits = model(ids, lens, features)  # [B, C]
        if inputs.columns is not None:
            logits = logits[:, inputs.columns]  # [B, K]
        losses = nn.functional.cross_entropy(
            logits, inputs.targets[batch], reduction="none", label_smoothing=label_smoothing
        )  # [B]
        w = inputs.weights[batch]  # [B]
        # Normalised by the batch's weight so that the learning rate means the same for
        # batches of confident and unsure annotations alike.
        loss = (losses * w).sum() / w.sum().clamp(min=1e-8)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0:
            nn.utils.clip_grad_norm_(clipped, grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total += loss.item() * len(batch)
        seen += len(batch)
    return total / max(seen, 1)


class BestEpoch:
    """Early stopping: the best epoch so far (by a key that only grows) and its weights."""

    def __init__(self, model: LSTMClassifier) -> None:
        self.key: Any = (-math.inf,)
        self.epoch = 0
        self.state = copy.deepcopy(model.state_dict())

    def update(self, key: Any, epoch: int, model: LSTMClassifier) -> bool:
        """Keep ``model``'s weights if ``key`` beats the best so far; returns whether it did."""
        if key <= self.key:
            return False
        self.key, self.epoch = key, epoch
        self.state = copy.deepcopy(model.state_dict())
        return True

    def patience_ran_out(self, epoch: int, patience: int) -> bool:
        return epoch - self.epoch >= patience


def bucketed_batches(
    lengths: Sequence[int], batch_size: int, generator: torch.Generator
) -> Iterator[list[int]]:
    """Shuffled batches of indices whose lengths are close, so little time goes into padding."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    pool = batch_size * _POOL_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    for b in torch.randperm(len(batches), generator=generator).tolist():
        yield batches[b]


def init_embeddings(
    model: LSTMClassifier, vocab: Vocabulary, vectors: WordVectors, freeze: str
) -> torch.Tensor | None:
    """Copy each token's pretrained vector into its embedding row; returns the frozen rows.

    Rows without a vector keep a random start on the vectors' own scale (PAD stays zero). The
    returned BoolTensor[V] marks rows training must not change (``freeze``: "none",
    "pretrained" or "extra"), or is None.
    """
    found = vectors.index()
    rows = [(i, found[t]) for i, t in enumerate(vocab.tokens) if t in found and i != PAD_ID]
    has_vector = torch.zeros(len(vocab), dtype=torch.bool)  # [V]
    weight = model.embedding.weight  # [V, E]
    with torch.no_grad():
        picked = torch.from_numpy(np.asarray(vectors.matrix[[r for _, r in rows]]))  # [K, E]
        weight.normal_(0.0, float(picked.std()))
        weight[PAD_ID].zero_()
        ids = torch.tensor([i for i, _ in rows], dtype=torch.long)
        weight[ids] = picked.to(weight.dtype)
        has_vector[ids] = True
    if freeze == "none":
        return None
    if freeze == "pretrained":
        return has_vector
    beyond = torch.zeros(len(vocab), dtype=torch.bool)
    beyond[vocab.corpus_size :] = True
    return beyond


def adamw(
    model: LSTMClassifier, lr: float, weight_decay: float, frozen: torch.Tensor | None
) -> torch.optim.AdamW:
    """AdamW; with frozen embedding rows, their gradient is zeroed and the embedding matrix is
    left out of weight decay (decoupled decay would otherwise shrink the frozen rows)."""
    if frozen is None:
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    keep = (~frozen).to(torch.float32)[:, None]  # [V, 1]
    model.embedding.weight.register_hook(lambda grad: grad * keep)
    others = [p for name, p in model.named_parameters() if name != "embedding.weight"]
    return torch.optim.AdamW(
        [
            {"params": [model.embedding.weight], "weight_decay": 0.0},
            {"params": others, "weight_decay": weight_decay},
        ],
        lr=lr,
    )
