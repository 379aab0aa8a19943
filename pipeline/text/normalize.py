"""Text clean-up that runs before spaCy, identically for training and scoring.

What is done, and why (``version`` 1 is what the first model versions were trained with; a
model version records its own in its TextConfig, so new rules never change an old model):

version 1
- ftfy.fix_text: repairs mojibake ("donâ€™t" -> "don't") and HTML entities ("&amp;" -> "&"),
  which social exports are full of; uncurls quotes so that "don’t" tokenises like "don't"
  (negations survive as "n't"); applies Unicode NFC so that equal text compares equal.
- Zero-width and control characters are removed: they split words invisibly and defeat matching
  (a zero-width joiner inside an emoji sequence goes too: "👨‍💻" becomes "👨💻", two emoji that
  still say what it meant).
- Runs of whitespace become one space: line breaks carry no sentiment.

version 2 (the default)
- The same repairs in one pass of the individual ftfy fixes (ftfy.fix_text repeats its whole
  chain until nothing changes, which costs 5-10x more), in ftfy's order: HTML entities, then,
  for non-ASCII text only, mojibake (ftfy.fix_encoding, which returns at once for text that does
  not look like mojibake), C1 controls, ligatures, full-width characters, curly quotes, ftfy's
  control characters, NFC.
- Emoji skin-tone modifiers and variation selectors are removed: "👍🏽" and "❤️" mean what "👍" and
  "❤" mean, and spaCy would otherwise make the modifier a token of its own.

Plain ASCII without "&" or control characters is already what ftfy would return, so it skips
ftfy (most tweets; ftfy is the slowest step of preprocessing).
`tests/pipeline/text/test_normalize.py` checks that this shortcut returns exactly what the full
path returns.
"""

from __future__ import annotations

import re
import unicodedata

import ftfy
from ftfy import fixes

LATEST = 2
VERSIONS = (1, 2)

# Zero-width space/joiners, word joiner, BOM, soft hyphen, and C0/C1 controls except tab/newline
# (those are whitespace and are collapsed below instead).
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_WHITESPACE = re.compile(r"\s+")
# What sends ASCII text down the full path: HTML entities, and the controls that _INVISIBLE
# deletes (they must not be turned into spaces by the shortcut's str.split).
_ASCII_NEEDS_WORK = re.compile("[&\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MAX_UNESCAPES = 3
# Skin tones U+1F3FB..U+1F3FF and variation selectors 15/16.
_EMOJI_MODIFIERS = re.compile("[\U0001f3fb-\U0001f3ff\ufe0e\ufe0f]")


def normalize_text(text: str, version: int = LATEST) -> str:
    """Return ``text`` repaired, NFC-normalised, without invisible characters, single-spaced."""
    if version not in VERSIONS:
        raise ValueError(f"unknown normalisation version {version}: use one of {VERSIONS}")
    if not text:
        return ""
    if text.isascii() and not _ASCII_NEEDS_WORK.search(text):
        return " ".join(text.split())
    return _full(text, version)


def _full(text: str, version: int) -> str:
    """normalize_text without the ASCII shortcut (the tests compare the two)."""
    if version == 1:
        fixed = _INVISIBLE.sub("", ftfy.fix_text(text, normalization="NFC"))
    else:
        fixed = _EMOJI_MODIFIERS.sub("", _INVISIBLE.sub("", _repair(text)))
    return _WHITESPACE.sub(" ", fixed).strip()


def _repair(text: str) -> str:
    """Version 2's single pass of ftfy's fixes (see the module docstring)."""
    # "<" too: ftfy leaves the entities of real HTML alone. Scraped posts are often escaped
    # twice ("&amp;amp;"), which ftfy's repeated passes undo; so does this loop.
    for _ in range(_MAX_UNESCAPES):
        if "&" not in text or "<" in text:
            break
        unescaped = fixes.unescape_html(text)
        if unescaped == text:
            break
        text = unescaped
    if text.isascii():
        return text
    text = ftfy.fix_encoding(text)
    text = fixes.fix_c1_controls(text)
    text = fixes.fix_latin_ligatures(text)
    text = fixes.fix_character_width(text)
    text = fixes.uncurl_quotes(text)
    text = fixes.fix_surrogates(text)
    text = fixes.remove_control_chars(text)
    return unicodedata.normalize("NFC", text)
