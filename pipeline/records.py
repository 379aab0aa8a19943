"""Plain data types that travel between the stages (and into db/, which may import only these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pipeline.model.domain_shift import DomainSignals
from pipeline.text.amplification import ContentKey

Label = Literal["negative", "neutral", "positive"]
LABELS: tuple[Label, ...] = ("negative", "neutral", "positive")


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as a source read it, before validation.

    `locator` says where it came from (e.g. ``reviews.csv:1234``) so that a reject can be traced
    back to its input and a replay of the same record is recognised.
    """

    locator: str
    fields: dict[str, Any] | None
    raw: str
    error: str | None = None  # set by the reader when the record could not even be parsed


@dataclass(frozen=True, slots=True)
class Post:
    """A validated post, ready to be tokenised and scored."""

    source: str
    external_id: str
    text: str
    created_at: datetime  # timezone-aware, UTC
    author: str | None = None
    url: str | None = None
    brand_hints: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reject:
    """A record refused by validation, with the reason and a truncated copy of its raw input."""

    source: str
    locator: str
    reason: str
    raw: str
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class Prediction:
    """The model's verdict on one text. ``score = p_positive - p_negative`` lies in [-1, 1]."""

    label: Label
    p_negative: float
    p_neutral: float
    p_positive: float
    model_version: str

    @property
    def score(self) -> float:
        return self.p_positive - self.p_negative


@dataclass(frozen=True, slots=True)
class ScoredPost:
    """A post with its brand mentions and its prediction: one row-set of the batch commit.

    ``prediction`` is None for a post that is stored but not scored: one whose language
    (``lang``, ISO 639-1 where the detector knows one) is not English.
    """

    post: Post
    brands: tuple[str, ...]
    prediction: Prediction | None
    lang: str | None = "en"
    # pipeline.text.amplification.content_key(post.text), when the analysis made it already (it
    # runs in the worker processes; the commit computes it otherwise).
    content: ContentKey | None = None


@dataclass(slots=True)
class Batch:
    """What one micro-batch commits in one transaction, and the cursor it advances to."""

    source: str
    cursor_from: str | None
    cursor_to: str | None
    scored: list[ScoredPost] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # How unlike the training data the scored posts read (pipeline.model.domain_shift); None when
    # the batch was not measured.
    signals: DomainSignals | None = None
