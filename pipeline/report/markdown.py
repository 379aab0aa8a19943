"""Untrusted text (file names, source names, brands) made inert inside Markdown.

Prefect renders artifacts as Markdown in a browser: a file named ``rt`<img src=x>`.jsonl`` must
show as those characters, not close a code span and open an HTML tag.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_BACKTICKS = re.compile(r"`+")
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&])")


def _one_line(text: str) -> str:
    # A line break would let the rest start a new block (a heading, an HTML block).
    return _CONTROL.sub(" ", text)


def md_text(text: str) -> str:
    """``text`` as literal characters in Markdown: every punctuation mark that could start
    syntax (links, images, emphasis, HTML, table cells) is backslash-escaped."""
    return _SPECIAL.sub(r"\\\1", _one_line(text))


def md_code(text: str, in_table: bool = False) -> str:
    """``text`` as a code span that it cannot close: the fence is one backtick longer than the
    longest run inside it (CommonMark), padded with spaces where edge backticks need it.
    Inside a code span nothing is parsed, HTML included. ``in_table``: pipes are escaped, since
    a GFM table splits its cells before it reads code spans."""
    flat = _one_line(text)
    if in_table:
        flat = flat.replace("|", "\\|")
    longest = max((len(run) for run in _BACKTICKS.findall(flat)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space from each end when both are there: pad only when a backtick
    # at an edge would merge with the fence, or when spaces at both ends would be eaten.
    edge = flat[:1] + flat[-1:]
    pad = " " if "`" in edge or (edge == "  " and flat.strip()) else ""
    return f"{fence}{pad}{flat}{pad}{fence}"
