"""The terms behind a set of posts: words counted once per post, stopwords and brand names left out.

Plain regular expressions, no spaCy: alert evaluation (flows/runtime/alerts.py) stays cheap.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

# Words, with inner apostrophes, and #hashtags; @handles and URLs are dropped first.
_DROP = re.compile(r"https?://\S+|www\.\S+|@\w+")
_WORD = re.compile(r"#?[^\W\d_][\w']*[^\W_]|#?[^\W\d_]")

_STOPWORDS_TEXT = """
    a about above after again against all am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't
    doing don't down during each few for from further get got had hadn't has hasn't have haven't
    having he her here hers herself him himself his how i i'm i've if in into is isn't it it's
    its itself just let's me more most my myself no nor not of off on once only or other our
    ours ourselves out over own same she should so some such than that that's the their theirs
    them themselves then there there's these they they're this those through to too under until
    up very was wasn't we we're were weren't what when where which while who whom why will with
    won't would wouldn't you you're your yours yourself yourselves im u ur rt amp via
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def post_terms(text: str) -> set[str]:
    """The distinct lower-cased terms of one text (stopwords and 1-letter words left out)."""
    cleaned = _DROP.sub(" ", text.lower())
    terms = {m.group(0).replace("\u2019", "'") for m in _WORD.finditer(cleaned)}
    return {t for t in terms if len(t.lstrip("#")) > 1 and t not in STOPWORDS}


def top_terms(
    texts: Iterable[str], exclude: Iterable[str] = (), n: int = 5, min_posts: int = 2
) -> list[tuple[str, int]]:
    """The ``n`` terms found in most of ``texts``, with their number of posts.

    Counting posts, not occurrences, keeps one ranting post from dominating. ``exclude`` holds
    phrases (a brand's name and aliases) whose words are left out; ties go alphabetically.
    """
    excluded: set[str] = set()
    for phrase in exclude:
        for word in post_terms(phrase):
            excluded.update({word, word.lstrip("#"), "#" + word.lstrip("#")})
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(post_terms(text) - excluded)
    ranked = sorted(
        ((t, c) for t, c in counts.items() if c >= min_posts), key=lambda x: (-x[1], x[0])
    )
    return ranked[:n]
