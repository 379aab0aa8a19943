"""Token <-> id mapping (plus lexicon features per token) and the padding that makes input."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, islice, repeat
from operator import eq
from typing import Any

import numpy as np
import torch

from pipeline.model.lexicon import NUM_FEATURES, FeatureRow, Lexicon

PAD, UNK, BRAND = "<pad>", "<unk>", "<brand>"
PAD_ID, UNK_ID = 0, 1
Phrase = tuple[str, ...]


@dataclass(frozen=True)
class TokenRules:
    """Rewrites of model tokens before they become ids and lexicon features.

    ``brands``: token sequences of brand names, aliases, handles and hashtags, each read as one
    ``<brand>`` token, so the model cannot learn a brand's reputation from the corpus and
    swapping one known brand for another changes nothing. ``keep``: phrases left as they are
    even though they start like a brand ("united states"). ``drop``: characters removed from
    punctuation-only tokens, which go when nothing is left ("!" drops "!!" and makes "?!" a
    "?"): emphasis the corpus ties to positive tweets, which must never flip a label.
    """

    brands: tuple[Phrase, ...] = ()
    keep: tuple[Phrase, ...] = ()
    drop: frozenset[str] = field(default_factory=frozenset)
    # Longest run of one repeated symbol token kept ("👎👎👎👎" -> "👎👎"), 0 for no cap: a
    # repeat adds emphasis once, not once per copy, so ten emoji do not outweigh every word.
    max_run: int = 0

    @cached_property
    def _stripped(self) -> dict[str, str]:
        # token -> token after `drop` (a stream repeats its tokens; see Lexicon._seen).
        return {}

    @cached_property
    def _by_first(self) -> dict[str, list[tuple[Phrase, bool]]]:
        # Longest phrases first, and a kept phrase before a brand of the same length.
        index: dict[str, list[tuple[Phrase, bool]]] = {}
        for phrase, is_brand in [(p, False) for p in self.keep] + [(p, True) for p in self.brands]:
            if phrase:
                index.setdefault(phrase[0], []).append((phrase, is_brand))
        for entries in index.values():
            entries.sort(key=lambda e: (-len(e[0]), e[1]))
        return index

    def apply(self, tokens: Sequence[str]) -> list[str]:
        """The tokens with brand phrases collapsed to ``<brand>`` and dropped tokens removed."""
        # The scorer runs this on every post: the common case (no repeats, no brand phrase)
        # goes through map/filter/isdisjoint, which loop in C, not in Python.
        if self.max_run and any(map(eq, tokens, islice(tokens, 1, None))):
            tokens = _cap_runs(tokens, self.max_run)
        if not (self.brands or self.drop):
            return list(tokens)
        if self.drop:
            stripped = self._stripped
            if len(stripped) >= 200_000:
                stripped.clear()
            found = list(map(stripped.get, tokens))
            if None in found:
                found = [
                    f if f is not None else stripped.setdefault(t, self._strip(t))
                    for f, t in zip(found, tokens, strict=True)
                ]
            tokens = list(filter(None, found))
        else:
            tokens = list(tokens)
        by_first = self._by_first
        if not by_first:
            return tokens
        lowered = list(map(str.lower, tokens))
        if by_first.keys().isdisjoint(lowered):
            return tokens
        # Only where a phrase can start, left to right; what lies between is copied as it is.
        out: list[str] = []
        i = 0  # the first token not copied or collapsed yet
        for start, first in enumerate(lowered):
            if start < i or first not in by_first:
                continue
            for phrase, is_brand in by_first[first]:
                end = start + len(phrase)
                if tuple(lowered[start:end]) == phrase:
                    out += tokens[i:start]
                    out += [BRAND] if is_brand else tokens[start:end]
                    i = end
                    break
        out += tokens[i:]
        return out

    def _strip(self, token: str) -> str:
        if any(c.isalnum() for c in token):
            return token
        return "".join(c for c in token if c not in self.drop)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "brands": [list(p) for p in self.brands],
            "keep": [list(p) for p in self.keep],
            "drop": sorted(self.drop),
        }
        if self.max_run:  # left out at 0, so versions saved before it read the same
            data["max_run"] = self.max_run
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenRules:
        return cls(
            brands=tuple(tuple(p) for p in data.get("brands", ())),
            keep=tuple(tuple(p) for p in data.get("keep", ())),
            drop=frozenset(data.get("drop", ())),
            max_run=int(data.get("max_run", 0)),
        )


def _cap_runs(tokens: Sequence[str], max_run: int) -> list[str]:
    """The tokens with runs of one repeated symbol token cut to ``max_run``."""
    out: list[str] = []
    run = 0
    for i, token in enumerate(tokens):
        run = run + 1 if i and token == tokens[i - 1] else 1
        if run <= max_run or any(c.isalnum() for c in token):
            out.append(token)
    return out


class Vocabulary:
    """Tokens by id; id 0 is padding (a zero embedding), id 1 stands for any unseen token.

    With a ``lexicon``, each token also gets lexicon features (`pipeline.model.lexicon`),
        looked up by
    its string, so a word outside the vocabulary keeps its rated sentiment. ``rules``
    (`TokenRules`) rewrite the tokens first, for ids and features alike.
    """

    def __init__(
        self,
        tokens: Sequence[str],
        lexicon: Lexicon | None = None,
        rules: TokenRules | None = None,
    ) -> None:
        if list(tokens[:2]) != [PAD, UNK]:
            raise ValueError(f"a vocabulary starts with {PAD!r}, {UNK!r}; got {list(tokens[:2])}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("a vocabulary's tokens must be unique")
        self.tokens: list[str] = list(tokens)
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}
        self.lexicon = lexicon
        self.rules = rules or TokenRules()
        # Leading rows that came from the training corpus (the rest: pretrained extras, which
        # training never saw in text); saved in vocab.json when there are extras.
        self.corpus_size = len(self.tokens)

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        min_freq: int = 2,
        max_size: int = 20000,
        lexicon: Lexicon | None = None,
        rules: TokenRules | None = None,
        extra: Iterable[str] = (),
        max_extra: int = 0,
    ) -> Vocabulary:
        """The most frequent tokens seen at least ``min_freq`` times, ``max_size`` in all, then
        up to ``max_extra`` tokens of ``extra`` (in its order) that the corpus part lacks.

        Tokens are counted after ``rules``. Ties are broken by the token string so that the
        same data always gives the same ids. ``extra`` is the pretrained vectors' vocabulary,
        most frequent first: words the corpus never had still get a row that means something.
        """
        if max_size < 2:
            raise ValueError("max_size must leave room for <pad> and <unk>")
        rules = rules or TokenRules()
        counts = Counter(t for tokens in token_lists for t in rules.apply(tokens))
        for special in (PAD, UNK):
            counts.pop(special, None)
        kept = sorted(
            (t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t)
        )
        tokens = [PAD, UNK, *kept[: max_size - 2]]
        corpus_size = len(tokens)
        if max_extra > 0:
            present = set(tokens)
            added = 0
            for token in extra:
                if added >= max_extra:
                    break
                if token not in present:
                    tokens.append(token)
                    present.add(token)
                    added += 1
        vocab = cls(tokens, lexicon, rules)
        vocab.corpus_size = corpus_size
        return vocab

    def encode(self, tokens: Sequence[str], max_len: int | None = None) -> list[int]:
        """Ids of the first ``max_len`` tokens; an empty list becomes ``[UNK_ID]``.

        A sequence needs at least one step for the LSTM, and UNK is a token the model has seen
        in training, unlike PAD, so an empty text gets the "unknown content" prediction.
        ``max_len`` counts tokens after the rules.
        """
        ids = [self.index.get(t, UNK_ID) for t in self.rules.apply(tokens)[:max_len]]
        return ids or [UNK_ID]

    def features(
        self, tokens: Sequence[str], max_len: int | None = None
    ) -> list[FeatureRow] | None:
        """Lexicon feature rows aligned with ``encode``'s ids, or None without a lexicon."""
        if self.lexicon is None:
            return None
        return self.lexicon.features(self.rules.apply(tokens), max_len)

    def encode_with_features(
        self, tokens: Sequence[str], max_len: int | None = None
    ) -> tuple[list[int], list[FeatureRow] | None]:
        """``(encode(tokens), features(tokens))`` with the rules applied once: the hot path."""
        kept = self.rules.apply(tokens)[:max_len]
        ids = list(map(self.index.get, kept, repeat(UNK_ID))) or [UNK_ID]
        return ids, None if self.lexicon is None else self.lexicon.features(kept)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocabulary)
            and self.tokens == other.tokens
            and self.lexicon == other.lexicon
            and self.rules == other.rules
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking container: not hashable

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form: the tokens in id order (and the lexicon, if any)."""
        data: dict[str, Any] = {"pad": PAD, "unk": UNK, "tokens": self.tokens}
        if self.lexicon is not None:
            data["lexicon"] = self.lexicon.to_dict()
        if self.rules != TokenRules():
            data["rules"] = self.rules.to_dict()
        if self.corpus_size < len(self.tokens):  # rows beyond it came from pretrained vectors
            data["corpus_size"] = self.corpus_size
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocabulary:
        lexicon, rules = data.get("lexicon"), data.get("rules")
        vocab = cls(
            list(data["tokens"]),
            Lexicon.from_dict(lexicon) if lexicon else None,
            TokenRules.from_dict(rules) if rules else None,
        )
        vocab.corpus_size = int(data.get("corpus_size", len(vocab.tokens)))
        return vocab


def pad_batch(id_lists: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists with PAD_ID: ids LongTensor[B, T_max], lengths LongTensor[B]."""
    lengths = [len(ids) for ids in id_lists]
    width = max(lengths, default=1)
    ids = _flat(
        chain.from_iterable(_padded(id_lists, width, PAD_ID)), np.int64, len(lengths) * width
    )
    return ids.reshape(len(id_lists), width), torch.tensor(lengths, dtype=torch.long)


def pad_features(feature_lists: Sequence[Sequence[Sequence[float]]]) -> torch.Tensor:
    """Right-pad per-token feature rows with zeros: FloatTensor[B, T_max, NUM_FEATURES]."""
    width = max((len(rows) for rows in feature_lists), default=1)
    padded = _padded(feature_lists, width, (0.0,) * NUM_FEATURES)
    count = len(feature_lists) * width * NUM_FEATURES
    values = _flat(chain.from_iterable(chain.from_iterable(padded)), np.float32, count)
    return values.reshape(len(feature_lists), width, NUM_FEATURES)


def _flat(values: Iterable[Any], dtype: type[np.generic], count: int) -> torch.Tensor:
    """A 1-d tensor of ``count`` values. numpy's fromiter reads a flat iterator in one C loop;
    torch.tensor of the nested lists walks them as sequences, ~3x the time (~2 us a post)."""
    return torch.from_numpy(np.fromiter(values, dtype=dtype, count=count))


def _padded(rows: Sequence[Sequence[Any]], width: int, fill: Any) -> list[Sequence[Any]]:
    """Each row extended with ``fill`` to ``width`` items. One tensor is then made of them all:
    a tensor per row cost ~5 us each, ~8% of the scoring step."""
    return [row if len(row) == width else [*row, *[fill] * (width - len(row))] for row in rows]
