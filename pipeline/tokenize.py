"""spaCy tokenisation and the one preprocessing function that training and scoring share.

The spaCy pipeline is serialised into every model version (``nlp.to_disk``) together with the
`TextConfig`, so a model always sees tokens made the way it was trained, whatever the defaults
in this file become later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Token

from pipeline.normalize import normalize_text

URL, EMAIL, USER, NUM = "<url>", "<email>", "<user>", "<num>"
_ELONGATED = re.compile(r"(\w)\1{2,}")


@dataclass(frozen=True)
class TextConfig:
    """How a Doc becomes model tokens; saved with each model version."""

    lowercase: bool = True
    mask_urls: bool = True
    mask_emails: bool = True
    mask_users: bool = True
    mask_numbers: bool = True
    max_repeat: int = 2  # "soooo" -> "soo": elongation is emphasis, not a new word

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextConfig:
        return cls(**data)


def make_nlp() -> Language:
    """A blank English pipeline: rule-based tokenizer only, fast, no model download."""
    return spacy.blank("en")


def token_form(token: Token, config: TextConfig) -> str:
    """The string the model sees for one spaCy token."""
    text = token.text
    if config.mask_urls and token.like_url:
        return URL
    if config.mask_emails and token.like_email:
        return EMAIL
    if config.mask_users and text.startswith("@") and len(text) > 1:
        # Handles are masked even for brands: the model must not learn a brand's reputation.
        return USER
    if config.mask_numbers and token.like_num:
        return NUM
    if config.lowercase:
        text = text.lower()
    if config.max_repeat:
        text = _ELONGATED.sub(lambda m: m.group(1) * config.max_repeat, text)
    return text


def model_tokens(doc: Doc, config: TextConfig) -> list[str]:
    """Tokens of one Doc, as the model sees them (whitespace tokens dropped)."""
    return [token_form(t, config) for t in doc if not t.is_space]


def make_docs(nlp: Language, texts: Iterable[str], batch_size: int = 256) -> Iterator[Doc]:
    """Normalise then tokenise texts in order (``nlp.pipe`` batches the work)."""
    return nlp.pipe((normalize_text(t) for t in texts), batch_size=batch_size)


def preprocess(
    nlp: Language, texts: Iterable[str], config: TextConfig, batch_size: int = 256
) -> list[list[str]]:
    """Texts -> model tokens. Training, evaluation and scoring all go through here."""
    return [model_tokens(doc, config) for doc in make_docs(nlp, texts, batch_size)]
