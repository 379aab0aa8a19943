"""The LSTM sentiment classifier: architecture only (training, inference and I/O live elsewhere)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from pipeline.model.lstm_choices import POOLINGS, PRIOR_MODES
from pipeline.model.vocab import PAD_ID, UNK_ID
from pipeline.records import LABELS


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the module before loading its state dict."""

    vocab_size: int
    embed_dim: int = 100
    hidden_size: int = 96
    num_layers: int = 1
    dropout: float = 0.3
    num_classes: int = len(LABELS)
    # Lexicon features per token (pipeline.model.lexicon.NUM_FEATURES), 0 for none.
    lexicon_features: int = 0
    # The head also reads a summary of the lexicon features (sum, min, max over the text): a
    # short path for the rated words' sentiment that does not depend on the corpus's wording.
    lexicon_head: bool = False
    # Training only: the share of tokens replaced by <unk>, so the model learns to read context
    # and lexicon features rather than memorise the corpus's words.
    word_dropout: float = 0.0
    # Training only: the share of texts whose every token becomes <unk>, so that the lexicon
    # features alone must carry them: the path that still works on words the corpus lacks.
    text_dropout: float = 0.0
    pooling: str = "maxmean"
    # A fixed lexicon prior added to the logits: ``lexicon_prior * (-c, 0, +c)``, with c the
    # text's VADER-style compound from the negation-aware valences (lexicon_compound). The
    # network then learns what the lexicon gets wrong on the corpus rather than all of it, and
    # on text unlike the corpus, where it is unsure, the lexicon still speaks.
    lexicon_prior: float = 0.0
    # The prior's weight when the compound is negative; None: ``lexicon_prior`` both ways.
    # Positive words mislead more often than negative ones ("thanks for losing my bag", "would
    # have been nice"), so a negative compound can be trusted with more weight.
    lexicon_prior_negative: float | None = None
    # The vocabulary id of "but": the prior's compound then weighs the valences before the first
    # "but" by 0.5 and those after it by 1.5, as VADER does ("good food, but look elsewhere").
    prior_contrast_id: int | None = None
    # How the prior is added. "logits": (-c, 0, +c) as above, which also draws probability away
    # from neutral. "polarity": negative and positive move apart by the same amount while the
    # neutral probability stays exactly what the network gave: the lexicon decides which way a
    # polar text leans, the network whether it is polar at all (the corpus's neutral tweets
    # are full of rated words: "thanks for the info").
    prior_mode: str = "logits"

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}: use one of {POOLINGS}")
        if self.prior_mode not in PRIOR_MODES:
            raise ValueError(f"unknown prior_mode {self.prior_mode!r}: use one of {PRIOR_MODES}")
        if (self.lexicon_head or self.has_prior) and not self.lexicon_features:
            raise ValueError("lexicon_head and lexicon_prior need lexicon_features")

    @property
    def has_prior(self) -> bool:
        return bool(self.lexicon_prior or self.lexicon_prior_negative)

    def prior_weights(self) -> tuple[float, float]:
        """The prior's weight for a positive and for a negative compound."""
        negative = self.lexicon_prior_negative
        return self.lexicon_prior, self.lexicon_prior if negative is None else negative

    def without_prior(self) -> ModelConfig:
        return replace(self, lexicon_prior=0.0, lexicon_prior_negative=None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return cls(**data)


class LSTMClassifier(nn.Module):
    """[Embedding; lexicon features] -> BiLSTM -> [masked max-pool; masked mean-pool] -> dropout
    -> linear logits (the head optionally also reads a summary of the lexicon features).

    Pooling over all steps, rather than the last hidden state, lets a strong word anywhere in
    a tweet ("awful", "love") decide, and max+mean together are robust to length.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD_ID)
        self.lstm = nn.LSTM(
            config.embed_dim + config.lexicon_features,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            bidirectional=True,
            # nn.LSTM applies dropout only between stacked layers; it warns if asked with one.
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(config.dropout)
        pooled = (4 if config.pooling == "maxmean" else 2) * config.hidden_size
        summary = 3 * config.lexicon_features if config.lexicon_head else 0
        self.head = nn.Linear(pooled + summary, config.num_classes)

    def forward(
        self, ids: torch.Tensor, lengths: torch.Tensor, features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """ids LongTensor[B, T] right-padded with PAD_ID, lengths LongTensor[B], features
        FloatTensor[B, T, F] (lexicon features, zero-padded; only with lexicon_features) ->
        logits FloatTensor[B, C]."""
        config = self.config
        # A zero length cannot be packed; one step over PAD reads a zero embedding instead.
        lengths = lengths.clamp(min=1, max=ids.size(1)).cpu()
        if self.training and (config.word_dropout > 0 or config.text_dropout > 0):
            dropped = torch.rand(ids.shape, device=ids.device) < config.word_dropout  # [B, T]
            if config.text_dropout > 0:
                whole = torch.rand(ids.size(0), 1, device=ids.device) < config.text_dropout
                dropped = dropped | whole  # [B, T]
            ids = ids.masked_fill(dropped & (ids != PAD_ID), UNK_ID)
        embedded = self.dropout(self.embedding(ids))  # [B, T, E]
        if config.lexicon_features:
            if features is None or features.shape[-1] != config.lexicon_features:
                raise ValueError(
                    f"this model reads {config.lexicon_features} lexicon features per token: "
                    "pass them (Vocabulary.features)"
                )
            features = features[:, : ids.size(1)]  # [B, T, F]
            embedded = torch.cat([embedded, features], dim=-1)  # [B, T, E+F]
        mask: torch.Tensor | None  # BoolTensor[B, T, 1], True on text; None: nothing padded
        if not self.training and bool((lengths == ids.size(1)).all()):
            # Nothing is padded (batch_logits with exact_lengths): packing and masking would only
            # cost time (bench/scorer_engines.py). The same numbers up to float rounding (~1e-7),
            # and training always packs.
            states, _ = self.lstm(embedded)  # [B, T, 2H]
            mask = None
        else:
            packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.lstm(packed)
            # total_length keeps T even when the longest sequence is shorter than the padding.
            states, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.size(1))
            steps = torch.arange(ids.size(1), device=ids.device)  # [T]
            mask = (steps[None, :] < lengths.to(ids.device)[:, None]).unsqueeze(-1)  # [B, T, 1]

        pools = []
        if config.pooling in ("maxmean", "max"):
            pools.append(_masked_max(states, mask))  # [B, 2H]
        if config.pooling in ("maxmean", "mean"):
            pools.append(_masked_sum(states, mask) / lengths.to(states)[:, None])  # [B, 2H]
        pooled = self.dropout(torch.cat(pools, dim=-1))  # [B, 4H] or [B, 2H]
        if config.lexicon_head:
            assert features is not None  # checked above
            total = _masked_sum(features, mask)  # [B, F]
            pooled = torch.cat(
                [
                    pooled,
                    # Squashed like VADER's compound score, so a long review's many rated words
                    # cannot push the logits beyond what the tweets taught the head.
                    total / torch.sqrt(total * total + 1.0),  # [B, F]
                    _masked_min(features, mask),  # [B, F]
                    _masked_max(features, mask),  # [B, F]
                ],
                dim=-1,
            )
        logits = self.head(pooled)  # [B, C]
        if config.has_prior:
            assert features is not None  # checked above
            compound = lexicon_compound(
                features,
                None if mask is None else mask.squeeze(-1),
                None if config.prior_contrast_id is None else (ids, config.prior_contrast_id),
            )
            positive, negative = config.prior_weights()
            if positive == negative:
                # One multiplication, as before the two weights existed: the same floats.
                weighted = positive * compound
            else:
                weighted = torch.where(compound > 0, positive, negative) * compound
            if config.prior_mode == "polarity":
                return polarity_prior(logits, weighted)
            zero = torch.zeros_like(compound)
            return logits + torch.stack([-weighted, zero, weighted], dim=-1)  # [B, 3]
        return logits


def polarity_prior(logits: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Logits FloatTensor[B, 3] (LABELS order) with positive raised and negative lowered by
    ``shift`` FloatTensor[B], and neutral moved so that its softmax probability is unchanged."""
    negative, neutral, positive = logits.unbind(dim=-1)  # [B] each
    moved_negative, moved_positive = negative - shift, positive + shift
    # p_neutral depends on neutral - logsumexp(negative, positive): keep that difference.
    neutral = neutral + torch.logaddexp(moved_negative, moved_positive)
    neutral = neutral - torch.logaddexp(negative, positive)
    return torch.stack([moved_negative, neutral, moved_positive], dim=-1)


# VADER's normalisation constant: compound = s / sqrt(s^2 + alpha), s the sum of valences.
_VADER_ALPHA = 15.0


def _masked_sum(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """FloatTensor[B, T, D] summed over the unpadded steps -> FloatTensor[B, D]."""
    return (values if mask is None else values * mask).sum(dim=1)


def _masked_max(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """FloatTensor[B, T, D] -> the max over the unpadded steps, FloatTensor[B, D]."""
    return (values if mask is None else values.masked_fill(~mask, float("-inf"))).amax(dim=1)


def _masked_min(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """FloatTensor[B, T, D] -> the min over the unpadded steps, FloatTensor[B, D]."""
    return (values if mask is None else values.masked_fill(~mask, float("inf"))).amin(dim=1)


def lexicon_compound(
    features: torch.Tensor,
    mask: torch.Tensor | None,
    contrast: tuple[torch.Tensor, int] | None = None,
) -> torch.Tensor:
    """VADER's compound from the per-token features: FloatTensor[B, T, F], BoolTensor[B, T]
    (None: nothing padded) -> FloatTensor[B] in (-1, 1). Feature 1 is the negation-aware
    valence / 4 (pipeline.model.lexicon). ``contrast`` (ids LongTensor[B, T], the id of "but")
    applies VADER's "but" rule (`contrast_weights`)."""
    # contiguous(): summed as a strided view, the floats would add up in another order.
    valences = features[..., 1].contiguous() if mask is None else features[..., 1] * mask  # [B, T]
    weights = None if contrast is None else contrast_weights(*contrast)
    if weights is not None:
        valences = valences * weights
    total = valences.sum(dim=1) * 4.0  # [B], back on VADER's -4..4 scale
    return total / torch.sqrt(total * total + _VADER_ALPHA)


def contrast_weights(ids: torch.Tensor, contrast_id: int) -> torch.Tensor | None:
    """VADER's "but" rule: ids LongTensor[B, T] -> FloatTensor[B, T] weights, 0.5 before the
    first ``contrast_id`` of a row and 1.5 after it; 1 everywhere in a row without one. None
    when no row has one (most batches: the weights would all be 1)."""
    is_contrast = ids == contrast_id  # [B, T]
    if not bool(is_contrast.any()):
        return None
    first = is_contrast.int().argmax(dim=1, keepdim=True)  # [B, 1], 0 in a row without one
    steps = torch.arange(ids.size(1), device=ids.device)[None, :]  # [1, T]
    side = (steps > first).float() - (steps < first).float()  # [B, T]: -1 before, +1 after
    return 1.0 + 0.5 * side * is_contrast.any(dim=1, keepdim=True)
