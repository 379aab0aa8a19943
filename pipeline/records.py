"""Plain data types that travel between the stages (and into db/, which may import only these).

Also the content key that tells which posts repeat an earlier one (retweets, quotes and
copy-pasted texts); db/ stores it, so it lives with the types. Reports count unique voices and
amplification separately, so each post gets a content key: its text without retweet prefix,
quote wrapper, URLs, case and punctuation. Posts sharing a key are linked to the first one
stored (``posts.duplicate_of``). Handles inside the text are kept on purpose: "@united thanks!"
and "@delta thanks!" are two customers, not one voice.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Label = Literal["negative", "neutral", "positive"]
LABELS: tuple[Label, ...] = ("negative", "neutral", "positive")

_RETWEET = re.compile(r"^\s*(?:RT\s+@\w+\s*:?\s*)+", re.IGNORECASE)
# Old-style manual quote: “@someone: what they said”
_QUOTE = re.compile(r'^\s*["“]\s*@\w+\s*:\s*(?P<body>.+?)\s*["”]?\s*$', re.DOTALL)
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w@#]+")

# A short text repeated by different people ("thanks!", "love it") is a coincidence, not a
# campaign; only longer texts link without an explicit retweet or quote marker.
MIN_WORDS_FOR_COPY = 5


@dataclass(frozen=True, slots=True)
class ContentKey:
    hash: str  # sha256 of the normalised text, stored in posts.content_hash
    linkable: bool  # whether an equal key earlier makes this post a duplicate of it

    def __reduce__(self) -> tuple[type[ContentKey], tuple[str, bool]]:
        # An analysis worker sends thousands back per batch: pickled as a constructor call,
        # not through dataclasses' slots __getstate__/__setstate__, which look up the fields
        # for every object (4x faster both ways).
        return ContentKey, (self.hash, self.linkable)


def content_key(text: str) -> ContentKey:
    """The key that retweets, quotes and copies of ``text`` share with it."""
    body = html.unescape(text)
    marked = False
    stripped = _RETWEET.sub("", body)
    if stripped != body:
        body, marked = stripped, True
    quoted = _QUOTE.match(body)
    if quoted:
        body, marked = quoted.group("body"), True
    words = _NON_WORD.sub(" ", _URL.sub(" ", body).lower()).split()
    # Emoji-only or punctuation-only texts keep their raw form rather than all sharing "".
    key = " ".join(words) or " ".join(text.split())
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return ContentKey(digest, marked or len(words) >= MIN_WORDS_FOR_COPY)


@dataclass(frozen=True, slots=True)
class DomainSignals:
    """Sums over scored posts; the figures are ratios of them (None when nothing was scored)."""

    n_scored: int = 0  # posts scored
    n_tokens: int = 0  # model tokens of those posts (an empty post has none)
    n_unknown: int = 0  # of those, tokens the vocabulary does not know
    top_probability_sum: float = 0.0  # sum of max(p_negative, p_neutral, p_positive)

    def __add__(self, other: DomainSignals) -> DomainSignals:
        return DomainSignals(
            self.n_scored + other.n_scored,
            self.n_tokens + other.n_tokens,
            self.n_unknown + other.n_unknown,
            self.top_probability_sum + other.top_probability_sum,
        )

    @property
    def unknown_token_share(self) -> float | None:
        return self.n_unknown / self.n_tokens if self.n_tokens else None

    @property
    def mean_top_probability(self) -> float | None:
        return self.top_probability_sum / self.n_scored if self.n_scored else None

    @classmethod
    def from_figures(
        cls,
        n_scored: int,
        n_tokens: int,
        unknown_token_share: float | None,
        mean_top_probability: float | None,
    ) -> DomainSignals:
        """Back from the stored figures (a ``batches`` row) to sums that add up."""
        return cls(
            n_scored,
            n_tokens,
            round((unknown_token_share or 0.0) * n_tokens),
            (mean_top_probability or 0.0) * n_scored,
        )


@dataclass(frozen=True)
class Candidate:
    """A stored post with the model's prediction."""

    post_id: int
    source: str
    text: str
    brands: tuple[str, ...]
    label: str
    p_negative: float
    p_neutral: float
    p_positive: float

    @property
    def confidence(self) -> float:
        """The top probability: the lower, the less sure the model."""
        return max(self.p_negative, self.p_neutral, self.p_positive)

    @property
    def entropy(self) -> float:
        probs = (self.p_negative, self.p_neutral, self.p_positive)
        return -sum(p * math.log(p) for p in probs if p > 0)


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
    """A record refused by validation, with the reason and a truncated copy of its raw input.

    ``fields``: the record as its reader parsed it, kept so that it can be validated again
    (``sentimon rejects replay``); None when the reader could not parse it.
    """

    source: str
    locator: str
    reason: str
    raw: str
    external_id: str | None = None
    fields: dict[str, Any] | None = None


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

    def __reduce__(self) -> tuple[type[Prediction], tuple[Any, ...]]:
        # As ContentKey: thousands per batch come back from an analysis worker.
        return Prediction, (
            self.label,
            self.p_negative,
            self.p_neutral,
            self.p_positive,
            self.model_version,
        )


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
    # content_key(post.text), when the analysis made it already (it
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
    # Where the batch's posts were read (RawRecord.locator): db.rejects.clear_superseded drops
    # the rejects of an earlier read of the same input there, in the same transaction.
    post_locators: list[str] = field(default_factory=list)
