"""Token <-> id mapping, and the padding that turns id lists into model input."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import torch

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1


class Vocabulary:
    """Tokens by id; id 0 is padding (a zero embedding), id 1 stands for any unseen token."""

    def __init__(self, tokens: Sequence[str]) -> None:
        if list(tokens[:2]) != [PAD, UNK]:
            raise ValueError(f"a vocabulary starts with {PAD!r}, {UNK!r}; got {list(tokens[:2])}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("a vocabulary's tokens must be unique")
        self.tokens: list[str] = list(tokens)
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(
        cls, token_lists: Iterable[Sequence[str]], min_freq: int = 2, max_size: int = 20000
    ) -> Vocabulary:
        """The most frequent tokens seen at least ``min_freq`` times, ``max_size`` in all.

        Ties are broken by the token string so that the same data always gives the same ids.
        """
        if max_size < 2:
            raise ValueError("max_size must leave room for <pad> and <unk>")
        counts = Counter(t for tokens in token_lists for t in tokens)
        for special in (PAD, UNK):
            counts.pop(special, None)
        kept = sorted(
            (t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t)
        )
        return cls([PAD, UNK, *kept[: max_size - 2]])

    def encode(self, tokens: Sequence[str], max_len: int | None = None) -> list[int]:
        """Ids of the first ``max_len`` tokens; an empty list becomes ``[UNK_ID]``.

        A sequence needs at least one step for the LSTM, and UNK is a token the model has seen
        in training, unlike PAD, so an empty text gets the "unknown content" prediction.
        """
        ids = [self.index.get(t, UNK_ID) for t in tokens[:max_len]]
        return ids or [UNK_ID]

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    __hash__ = None  # type: ignore[assignment]  # mutable-looking container: not hashable

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form: the tokens in id order."""
        return {"pad": PAD, "unk": UNK, "tokens": self.tokens}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocabulary:
        return cls(list(data["tokens"]))


def pad_batch(id_lists: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists with PAD_ID: ids LongTensor[B, T_max], lengths LongTensor[B]."""
    lengths = torch.tensor([len(ids) for ids in id_lists], dtype=torch.long)  # [B]
    width = max((len(ids) for ids in id_lists), default=1)
    batch = torch.full((len(id_lists), width), PAD_ID, dtype=torch.long)  # [B, T_max]
    for row, ids in enumerate(id_lists):
        batch[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return batch, lengths
