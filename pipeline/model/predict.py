"""Inference: a loaded model version turns texts (or model tokens) into Predictions."""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import numpy as np
import torch
from spacy.language import Language

from pipeline.model.domain_shift import DomainSignals, measure
from pipeline.model.lexicon import FeatureRow
from pipeline.model.lstm import LSTMClassifier
from pipeline.model.vocab import UNK_ID, Vocabulary, pad_batch, pad_features
from pipeline.records import LABELS, Prediction
from pipeline.text.tokenize import TextConfig, preprocess

FeatureRows = Sequence[Sequence[float]]
ONEDNN_PRIMITIVES = 256  # oneDNN's primitive cache capacity while scoring (Scorer.__post_init__)
# The batch sizes an exact-length batch is padded up to, with copies of its first text whose
# results are dropped. oneDNN builds an LSTM primitive for each input shape it meets (~0.7 ms
# on this machine, more than scoring 20 tweets), and exact-length batches of a pipeline chunk
# come in every size: rounded up to one of these (at most 25% more rows), the shapes of a run
# repeat and are found in the primitive cache. bench/scorer_engines.py: see docs/performance.md.
SHAPE_BATCH_SIZES: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64)
SHAPE_BATCH_SIZES += (80, 96, 128, 160, 192, 256, 320, 384, 448, 512)


def batch_logits(
    model: LSTMClassifier,
    id_lists: Sequence[Sequence[int]],
    feature_lists: Sequence[FeatureRows] | None = None,
    batch_size: int = 256,
    exact_lengths: bool = False,
) -> torch.Tensor:
    """Logits FloatTensor[N, C] in input order; the caller puts the model in eval mode.

    ``feature_lists`` (lexicon features, one row per id) are needed by a model with
    lexicon features. Batches are cut from the length-sorted list so that short texts are not
    padded to the longest one of the whole input; with ``exact_lengths`` every batch holds
    texts of one length only, so nothing is padded and the LSTM runs without packing (1.5-2x
    the docs/s of padded batches, probabilities within 1e-6: bench/scorer_engines.py).
    An exact-length batch is filled up to one of ``SHAPE_BATCH_SIZES`` with copies of its first
    text (each row of the LSTM is computed on its own; the copies' results are dropped), so
    that the module meets the same few input shapes again and again.
    Training keeps padded batches, so that its weights do not depend on this.
    """
    logits = torch.empty(len(id_lists), model.config.num_classes)  # [N, C]
    with torch.inference_mode():
        for chunk in _chunks(id_lists, batch_size, exact_lengths):
            n = len(chunk)
            rows = chunk + [chunk[0]] * (_shape_batch_size(n) - n) if exact_lengths else chunk
            ids, lengths = pad_batch([id_lists[i] for i in rows])  # [B, T], [B]
            features = (
                pad_features([feature_lists[i] for i in rows])  # [B, T, F]
                if feature_lists is not None
                else None
            )
            logits[chunk] = model(ids, lengths, features)[:n]
    return logits


def _shape_batch_size(n: int) -> int:
    """The smallest of ``SHAPE_BATCH_SIZES`` that holds ``n`` rows (``n`` beyond them all)."""
    at = bisect_left(SHAPE_BATCH_SIZES, n)
    return SHAPE_BATCH_SIZES[at] if at < len(SHAPE_BATCH_SIZES) else n


def _chunks(
    id_lists: Sequence[Sequence[int]], batch_size: int, exact_lengths: bool
) -> Iterator[list[int]]:
    """Indices of each batch: length-sorted runs of ``batch_size``, or runs of one length."""
    order = sorted(range(len(id_lists)), key=lambda i: len(id_lists[i]))
    if not exact_lengths:
        for start in range(0, len(order), batch_size):
            yield order[start : start + batch_size]
        return
    for _, same in groupby(order, key=lambda i: len(id_lists[i])):
        members = list(same)
        for start in range(0, len(members), batch_size):
            yield members[start : start + batch_size]


def encode_all(
    vocab: Vocabulary, token_lists: Sequence[Sequence[str]], max_tokens: int | None
) -> tuple[list[list[int]], list[list[FeatureRow]] | None]:
    """Ids (and lexicon features when the vocabulary has a lexicon) of each token list."""
    pairs = [vocab.encode_with_features(tokens, max_tokens) for tokens in token_lists]
    ids = [token_ids for token_ids, _ in pairs]
    if vocab.lexicon is None:
        return ids, None
    return ids, [rows or [] for _, rows in pairs]


@dataclass
class Scorer:
    """A model version ready to score: module, vocabulary, tokenizer and text settings.

    ``max_tokens`` truncates as training did; ``temperature`` (fitted on validation data)
    rescales logits so that probabilities are calibrated, without changing any label.
    ``threads`` is torch's intra-op thread count while scoring (restored afterwards): fixed,
    so that throughput does not depend on what else set it. One thread, because a batch of
    tweets is too small to share: on 2 busy cores, 2 threads scored 15x slower than 1.
    """

    model: LSTMClassifier
    vocab: Vocabulary
    nlp: Language
    text_config: TextConfig
    version: str
    temperature: float = 1.0
    max_tokens: int | None = None
    # Texts of one length per LSTM call, up to this many: in chunks of 2,500 texts, 512 gave
    # 7,972 docs/s against 6,913 for 64, probabilities within 3e-9 (bench/scorer_engines.py).
    batch_size: int = 512
    threads: int = 1
    # The team lexicon laid over the version's own (pipeline.model.team_lexicon): path, sha256,
    # terms.
    team_lexicon: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # oneDNN caches a primitive per LSTM input shape, 1,024 by default: ~200 MB more peak
        # RSS per process over a long run. Exact-length batches rounded to SHAPE_BATCH_SIZES
        # meet a few hundred shapes, mostly the same ones; 256 finds most of them again for
        # ~50 MB (docs/performance.md). Read when the first primitive is made; a value set
        # outside wins.
        os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(ONEDNN_PRIMITIVES))

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """Raw texts -> model tokens, through the one preprocessing function training used."""
        return preprocess(self.nlp, texts, self.text_config)

    def predict_proba(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """Probabilities float64[N, 3] in ``LABELS`` order, rows in input order."""
        if not token_lists:
            return np.zeros((0, len(LABELS)))
        ids, features = encode_all(self.vocab, token_lists, self.max_tokens)
        return self._probabilities(ids, features)

    def _probabilities(
        self, ids: list[list[int]], features: list[list[tuple[float, ...]]] | None
    ) -> np.ndarray:
        self.model.eval()
        with _torch_threads(self.threads):
            logits = batch_logits(  # [N, C]
                self.model, ids, features, self.batch_size, exact_lengths=True
            ).double()
        # float64 so that each row sums to 1 to ~1e-15, as the database's checks expect.
        return torch.softmax(logits / self.temperature, dim=-1).numpy()

    def score_token_lists(self, token_lists: Sequence[Sequence[str]]) -> list[Prediction]:
        """One Prediction per token list (tokens as `pipeline.text.tokenize.model_tokens` makes)."""
        return self._predictions(self.predict_proba(token_lists))

    def score_with_signals(
        self, token_lists: Sequence[Sequence[str]]
    ) -> tuple[list[Prediction], DomainSignals]:
        """``score_token_lists`` plus the batch's out-of-domain signals (model/domain_shift.py):
        the ids and probabilities are there already, so they cost a count and a max."""
        if not token_lists:
            return [], DomainSignals()
        ids, features = encode_all(self.vocab, token_lists, self.max_tokens)
        probs = self._probabilities(ids, features)  # [N, 3]
        # encode() stands an UNK in for a post with no tokens left after the rules: that post
        # has no unknown words, it has no words.
        counted = [
            [] if post_ids == [UNK_ID] and not self.vocab.rules.apply(tokens) else post_ids
            for post_ids, tokens in zip(ids, token_lists, strict=True)
        ]
        signals = measure(counted, probs.max(axis=1).tolist(), UNK_ID, self.vocab.corpus_size)
        return self._predictions(probs), signals

    def _predictions(self, probs: np.ndarray) -> list[Prediction]:
        # tolist() makes the Python floats in one call (float(row[i]) gives the same ones).
        version = self.version
        return [
            Prediction(LABELS[best], negative, neutral, positive, version)
            for (negative, neutral, positive), best in zip(
                probs.tolist(), probs.argmax(axis=1).tolist(), strict=True
            )
        ]

    def score_texts(self, texts: Sequence[str]) -> list[Prediction]:
        """Raw texts -> Predictions, through the one preprocessing function training used."""
        return self.score_token_lists(self.tokenize(texts))


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
