"""Text encodings of file sources: which ones a reader can use, and naming the likely one.

Files are read as UTF-8 unless an encoding is given (``--encoding``, ``encoding`` in
sentimon.toml). Records are split on bytes (newline, comma, quote) before they are decoded, so
only encodings that write ASCII as ASCII (Latin-1, cp1252, Shift-JIS, ...) can be read; UTF-16
and UTF-32 are refused with a way to convert. When bytes are not UTF-8 and no encoding was
given, charset-normalizer names the likely one, so the reject reason says what to rerun with.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.errors import UsageError

# What a guess looks at: the undecodable record itself, after the file's first bytes (enough
# context for the detector without holding much).
GUESS_SAMPLE_BYTES = 64 * 1024
# The bytes that tell a file of text from a binary one: NUL never occurs in text files of any
# ASCII-compatible encoding.
BINARY_SAMPLE_BYTES = 8192


def check_encoding(name: str) -> str:
    """``name`` as Python's codec name; UsageError when it is unknown or not ASCII-compatible."""
    try:
        codec = codecs.lookup(name)
    except LookupError:
        raise UsageError(
            f"unknown encoding {name!r}: give a Python codec name such as cp1252, latin-1 "
            "or shift_jis"
        ) from None
    try:
        ascii_safe = all(codecs.encode(c, codec.name) == c.encode() for c in '\n\r,"{}')
    except (UnicodeError, LookupError, TypeError):  # bytes-to-bytes codecs (base64, zlib)
        ascii_safe = False
    if not ascii_safe:
        raise UsageError(
            f"encoding {name!r} does not write ASCII as ASCII, which line-by-line reading needs: "
            f"convert the file first, e.g. iconv -f {name} -t utf-8 IN > OUT"
        )
    return codec.name


# The encodings a file that is not UTF-8 is most likely in, most widespread first: the guess
# looks among these before all others, and a tie (short samples often decode as well in
# several) goes to the earlier one, so Western European text is cp1252, not cp1250.
LIKELY_ENCODINGS = (
    "cp1252",
    "cp1250",
    "cp1251",
    "cp932",
    "gb18030",
    "big5",
    "euc_kr",
    "euc_jp",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "cp1258",
    "cp874",
    "koi8_r",
    "iso8859_2",
    "iso8859_5",
    "iso8859_7",
)


def guess_encoding(data: bytes) -> str | None:
    """The likely encoding of ``data`` (a Python codec name), or None when there is no good
    guess (binary data, or UTF-8 after all)."""
    # Imported here: only a file that is not UTF-8 needs it.
    from charset_normalizer import from_bytes

    matches = from_bytes(data, cp_isolation=list(LIKELY_ENCODINGS)) or from_bytes(data)
    best = matches.best()
    if best is None:
        return None
    # Every encoding that reads the sample as well as the best one does.
    tied = [
        name
        for match in matches
        if (match.chaos, match.coherence) == (best.chaos, best.coherence)
        for name in match.could_be_from_charset
    ]
    rank = {name: n for n, name in enumerate(LIKELY_ENCODINGS)}
    choice = min(tied, key=lambda name: rank.get(name, len(rank)), default=best.encoding)
    try:
        name = check_encoding(choice)
    except UsageError:  # UTF-16 and the like: not a likely encoding of a line-split record
        return None
    return None if name in ("utf-8", "ascii") else name


def binary_reason(head: bytes) -> str | None:
    """Why ``head`` (a file's first bytes) is not text; None when it may be."""
    if b"\x00" in head[:BINARY_SAMPLE_BYTES]:
        return "binary data (NUL bytes in its first 8 KiB), not CSV or JSON lines"
    return None


@dataclass
class Decoding:
    """How one reader decodes records: the given encoding, or UTF-8 with a guessed name for the
    reject reason of bytes that are not UTF-8 (guessed once per file, then kept)."""

    encoding: str | None = None  # None: UTF-8 (a BOM at the start of a CSV header is skipped)
    _reasons: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def codec(self) -> str:
        return self.encoding or "utf-8"

    def decode(self, data: bytes) -> str | None:
        """The text of ``data``; None when it is not in the encoding."""
        try:
            return data.decode(self.codec)
        except UnicodeDecodeError:
            return None

    def reason(self, file: str, head: Callable[[], bytes], record: bytes) -> str:
        """The reject reason of an undecodable ``record`` of ``file``, whose first bytes
        ``head`` gives: the same for every such record of the file, so that they group as one."""
        if file not in self._reasons:
            self._reasons[file] = self._explain(head(), record)
        return self._reasons[file]

    def _explain(self, head: bytes, record: bytes) -> str:
        if self.encoding is not None:
            return f"not {self.encoding}: bytes that {self.encoding} cannot decode"
        if _otherwise_utf8(head.replace(record, b"") if record else head):
            # Another encoding would garble the rest of the file: this record is damaged.
            return (
                "invalid UTF-8 in a file that is otherwise UTF-8 (non-ASCII text elsewhere "
                "reads as UTF-8): this record's bytes are damaged, not the file's encoding"
            )
        guess = guess_encoding(head[:GUESS_SAMPLE_BYTES] + b"\n" + record[:GUESS_SAMPLE_BYTES])
        if guess is None:
            return "invalid UTF-8"
        return f"not UTF-8 (looks like {guess}): rerun with --encoding {guess}"


def _otherwise_utf8(data: bytes) -> bool:
    """Whether ``data`` holds non-ASCII text and all of it is UTF-8 (a sequence cut off at
    the end of the sample does not count against it)."""
    if data.isascii():
        return False  # nothing says which encoding the file's other bytes are in
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def raw_bytes_text(data: bytes) -> str:
    """A record that could not be decoded, kept for its reject: one character per byte
    (Latin-1), so that re-encoding the stored text as Latin-1 gives the bytes back."""
    return data.decode("latin-1")
