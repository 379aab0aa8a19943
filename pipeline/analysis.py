"""The CPU-bound middle of a micro-batch: normalise, tokenise, identify the language, match
brands, score, and key each text for duplicates. Pure logic over the loaded model, language
identifier and brand matcher; flows/runtime/analysis.py runs it here or in worker processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipeline.model.predict import Scorer
from pipeline.records import ContentKey, DomainSignals, Post, Prediction, ScoredPost, content_key
from pipeline.text.brands import BrandMatcher
from pipeline.text.language import ENGLISH, LanguageIdentifier
from pipeline.text.tokenize import docs_tokens, make_texts_and_docs

Lap = Callable[[str], None]


class Laps:
    """A Lap that keeps the seconds of each stage of one batch, each since the previous lap."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(now - self._clock, 4)
        self._clock = now


@dataclass(frozen=True)
class Analysis:
    """Per post, in input order: normalised text, language, brands, prediction (None when
    the post is not English: stored, not scored)."""

    texts: list[str]
    langs: list[str]
    mentions: list[tuple[str, ...]]
    predictions: list[Prediction | None]
    keys: list[ContentKey]  # of the raw texts: what retweets and copies share (db.duplicates)
    signals: DomainSignals = field(default_factory=DomainSignals)  # of its scored posts

    def __add__(self, other: Analysis) -> Analysis:
        return Analysis(
            self.texts + other.texts,
            self.langs + other.langs,
            self.mentions + other.mentions,
            self.predictions + other.predictions,
            self.keys + other.keys,
            self.signals + other.signals,
        )

    @staticmethod
    def join(parts: Sequence[Analysis]) -> Analysis:
        """The analyses of consecutive parts of a batch as one, in order (one copy of each
        list, where adding them two at a time would copy the first parts again and again)."""
        signals = DomainSignals()
        for part in parts:
            signals = signals + part.signals
        return Analysis(
            [t for part in parts for t in part.texts],
            [lang for part in parts for lang in part.langs],
            [m for part in parts for m in part.mentions],
            [p for part in parts for p in part.predictions],
            [k for part in parts for k in part.keys],
            signals,
        )

    def scored(self, posts: Sequence[Post]) -> list[ScoredPost]:
        """``posts`` (the ones analysed, in order) with what the analysis found for each."""
        return [
            ScoredPost(post=p, brands=b, prediction=pr, lang=lang, content=key)
            for p, b, pr, lang, key in zip(
                posts, self.mentions, self.predictions, self.langs, self.keys, strict=True
            )
        ]


def analyse(
    scorer: Scorer,
    language: LanguageIdentifier,
    matcher: BrandMatcher,
    texts: Sequence[str],
    hints: Sequence[Sequence[str]],
    lap: Lap | None = None,
) -> Analysis:
    """The analysis of raw post texts (with the brand hints their source gave)."""
    lap = lap or (lambda stage: None)
    config = scorer.text_config
    normalized, docs = make_texts_and_docs(scorer.nlp, texts, config)
    lap("tokenize")
    langs = language.identify_all(normalized)
    lap("language")
    mentions = [
        matcher.match(doc, hint, text)
        for doc, hint, text in zip(docs, hints, normalized, strict=True)
    ]
    lap("brands")
    # Only English posts are scored; the others are stored with their language, unscored.
    english = [i for i, lang in enumerate(langs) if lang == ENGLISH]
    tokens = docs_tokens([docs[i] for i in english], config)
    predictions: list[Prediction | None] = [None] * len(normalized)
    scored, signals = scorer.score_with_signals(tokens)
    for i, prediction in zip(english, scored, strict=True):
        predictions[i] = prediction
    lap("score")
    keys = [content_key(text) for text in texts]
    lap("content_keys")
    return Analysis(normalized, langs, mentions, predictions, keys, signals)
