"""Which posts repeat an earlier one: retweets, quotes and copy-pasted texts.

Reports count unique voices and amplification separately, so each post gets a content key:
its text without retweet prefix, quote wrapper, URLs, case and punctuation. Posts sharing a
key are linked to the first one stored (``posts.duplicate_of``). Handles inside the text are
kept on purpose: "@united thanks!" and "@delta thanks!" are two customers, not one voice.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass

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
