"""Text clean-up that runs before spaCy, identically for training and scoring.

What is done, and why:
- ftfy.fix_text: repairs mojibake ("donâ€™t" -> "don't") and HTML entities ("&amp;" -> "&"),
  which social exports are full of; uncurls quotes so that "don’t" tokenises like "don't"
  (negations survive as "n't"); applies Unicode NFC so that equal text compares equal.
- Zero-width and control characters are removed: they split words invisibly and defeat matching.
- Runs of whitespace become one space: line breaks carry no sentiment.
"""

from __future__ import annotations

import re

import ftfy

# Zero-width space/joiners, word joiner, BOM, soft hyphen, and C0/C1 controls except tab/newline
# (those are whitespace and are collapsed below instead).
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_WHITESPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Return ``text`` repaired, NFC-normalised, without invisible characters, single-spaced."""
    if not text:
        return ""
    fixed = ftfy.fix_text(text, normalization="NFC")
    fixed = _INVISIBLE.sub("", fixed)
    return _WHITESPACE.sub(" ", fixed).strip()
