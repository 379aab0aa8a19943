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
    """What ``head`` (a file's first bytes) holds when it is not text sentimon reads; None when
    it may be."""
    wide = _wide_unicode(head)
    if wide is not None:
        return f"{wide} text"  # NUL bytes too, but the way on differs: convert, not replace
    if b"\x00" in head[:BINARY_SAMPLE_BYTES]:
        return "binary data (NUL bytes in its first 8 KiB), not CSV or JSON lines"
    return None


def refused_file(name: str, why: str) -> str:
    """The error of a single input file that `binary_reason` refuses, with the way on."""
    return f"{name} holds {why}: nothing was read; {_way_on(name, why)}"


def not_read_notice(name: str, why: str) -> str:
    """The notice of a landing folder's file that `binary_reason` refuses (the others are read)."""
    return f"{name} not read: it holds {why}" + (
        f"; {_way_on(name, why)}" if why.startswith("UTF-") else ""
    )


def _way_on(name: str, why: str) -> str:
    if why.startswith("UTF-"):  # "UTF-16 text": the same records, once converted
        import shlex
        from pathlib import PurePath

        path = PurePath(name)
        new = shlex.quote(f"{path.stem}.utf8{path.suffix}")
        return (
            f"sentimon reads UTF-8: convert it first, e.g. "
            f"iconv -f {why.split()[0].lower()} -t utf-8 {shlex.quote(name)} > {new}"
        )
    return "give a CSV, JSONL (.jsonl) or Parquet file"


# Longest first: UTF-32LE's byte order mark begins with UTF-16LE's.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _wide_unicode(head: bytes) -> str | None:
    """ "UTF-16" or "UTF-32" for text in those encodings: a byte order mark, or, without one
    (Windows tools write UTF-16 bare too), mostly-ASCII text whose every other byte is NUL."""
    name = next((name for bom, name in _WIDE_BOMS if head.startswith(bom)), None)
    if name is not None:
        return name
    sample = head[:512]
    if len(sample) < 16:
        return None
    even, odd = sample[0::2], sample[1::2]
    for text, zeros in ((even, odd), (odd, even)):  # little- and big-endian
        if zeros.count(0) >= 0.9 * len(zeros) and text.count(0) == 0:
            return "UTF-16"
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
        sample = head[:GUESS_SAMPLE_BYTES] + b"\n" + record[:GUESS_SAMPLE_BYTES]
        guess = guess_encoding(sample)
        if guess is None:
            return "invalid UTF-8"
        readings = _readings(sample, (guess, WESTERN))
        if guess != WESTERN and readings:
            # The guess is less sure than it sounds between single-byte code pages: Western
            # European text with few accents reads as cp1250 too ("crème" as "crčme"). The
            # words themselves let the user tell.
            shown = ", ".join(f"{name} as {text!r}" for name, text in readings.items())
            return (
                f"not UTF-8 (it reads {shown}): rerun with --encoding {guess} or --encoding "
                f"{WESTERN}, whichever reads right"
            )
        return f"not UTF-8 (looks like {guess}): rerun with --encoding {guess}"


# The most widespread single-byte encoding: the one to show beside another single-byte guess.
WESTERN = "cp1252"
# Words shown of each reading of a sample.
READING_WORDS = 3


def _readings(data: bytes, names: tuple[str, str]) -> dict[str, str]:
    """The first words on which two encodings' readings of ``data`` differ, per encoding; empty
    when one cannot decode it or both read it alike."""
    texts = []
    for name in names:
        try:
            texts.append(data.decode(name))
        except (UnicodeDecodeError, LookupError):
            return {}
    pairs = dict.fromkeys(
        (a, b) for a, b in zip(texts[0].split(), texts[1].split(), strict=False) if a != b
    )
    if not pairs:
        return {}
    shown = list(pairs)[:READING_WORDS]
    return {names[0]: " ".join(a for a, _ in shown), names[1]: " ".join(b for _, b in shown)}


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
