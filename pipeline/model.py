"""The LSTM sentiment classifier: architecture only (training, inference and I/O live elsewhere)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from pipeline.records import LABELS
from pipeline.vocab import PAD_ID


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the module before loading its state dict."""

    vocab_size: int
    embed_dim: int = 100
    hidden_size: int = 96
    num_layers: int = 1
    dropout: float = 0.3
    num_classes: int = len(LABELS)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return cls(**data)


class LSTMClassifier(nn.Module):
    """Embedding -> BiLSTM -> [masked max-pool; masked mean-pool] -> dropout -> linear logits.

    Pooling over all steps, rather than the last hidden state, lets a strong word anywhere in
    a tweet ("awful", "love") decide, and max+mean together are robust to length.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD_ID)
        self.lstm = nn.LSTM(
            config.embed_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            bidirectional=True,
            # nn.LSTM applies dropout only between stacked layers; it warns if asked with one.
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(4 * config.hidden_size, config.num_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids LongTensor[B, T] right-padded with PAD_ID, lengths LongTensor[B] -> logits[B, C]."""
        # A zero length cannot be packed; one step over PAD reads a zero embedding instead.
        lengths = lengths.clamp(min=1, max=ids.size(1)).cpu()
        embedded = self.dropout(self.embedding(ids))  # [B, T, E]
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        # total_length keeps T even when the longest sequence is shorter than the padding.
        states, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.size(1))  # [B,T,2H]

        steps = torch.arange(ids.size(1), device=ids.device)  # [T]
        mask = (steps[None, :] < lengths.to(ids.device)[:, None]).unsqueeze(-1)  # [B, T, 1]
        max_pool = states.masked_fill(~mask, float("-inf")).amax(dim=1)  # [B, 2H]
        mean_pool = (states * mask).sum(dim=1) / lengths.to(states)[:, None]  # [B, 2H]
        features = self.dropout(torch.cat([max_pool, mean_pool], dim=-1))  # [B, 4H]
        return self.head(features)  # [B, C]
