"""Reading lines and CSV records with a size limit, so memory stays flat whatever the input.

``readline()`` without a limit holds a whole line in memory: a 1 MB gzip can hold a 1 GiB line
with no newline. Here a record stops at ``MAX_RECORD_BYTES``; the rest of it is read in small
chunks and dropped, and the record is rejected with its size.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from typing import IO

# The text limit (validate.MAX_TEXT_CHARS, 20,000 characters) written the longest way JSON
# allows (\\uXXXX\\uXXXX per character: 240,000 bytes) plus the other fields, with room to
# spare. A record over it can never become a post.
MAX_RECORD_BYTES = 1 << 20
_SKIP_CHUNK = 1 << 16  # what is held at a time while the rest of an over-long record is skipped
HEAD_BYTES = 8192  # of an over-long record, kept for its reject's raw copy


class RecordTooLong(Exception):
    """Raised by CsvFeed through csv.reader: the current record went over the limit."""

    def __init__(self, size: int, head: bytes) -> None:
        super().__init__(size)
        self.size = size  # bytes of the whole record, its newline included
        self.head = head  # its first bytes, for the reject's raw copy


def bounded_lines(
    fh: IO[bytes], limit: int = MAX_RECORD_BYTES
) -> Iterator[tuple[bytes, int, bool]]:
    """Yield (line, bytes it took in the file, ended by a newline).

    An over-long line (``size > limit``) comes as its first bytes only: no more than
    ``limit`` bytes of it are ever held.
    """
    while line := fh.readline(limit + 1):
        if len(line) <= limit or line.endswith(b"\n"):
            yield line, len(line), line.endswith(b"\n")
            continue
        head, size = line[:HEAD_BYTES], len(line)
        while not line.endswith(b"\n") and (line := fh.readline(_SKIP_CHUNK)):
            size += len(line)
        yield head, size, line.endswith(b"\n")


class CsvFeed:
    """Decoded lines for csv.reader, counting bytes, remembering undecodable bytes, bounding
    records.

    The owner calls ``new_record()`` after every row; a record that grows over ``limit`` is
    skipped to its end (quotes respected, see ``_csv_scan``) and RecordTooLong raised, which
    csv.reader passes on and survives: its next row starts after the skipped record.
    """

    def __init__(
        self, fh: IO[bytes], offset: int, limit: int = MAX_RECORD_BYTES, encoding: str = "utf-8"
    ) -> None:
        self.fh = fh
        self.pos = offset
        self.limit = limit
        self.encoding = encoding  # an ASCII-compatible one (pipeline/sources/encoding.py)
        self.bad = False  # the current record has bytes the encoding cannot decode
        self.eof = False  # the current record was ended by the end of the file, not a newline
        self._lines: list[bytes] = []
        self._size = 0

    def new_record(self) -> None:
        self.bad = self.eof = False
        self._lines.clear()
        self._size = 0

    def __iter__(self) -> CsvFeed:
        return self

    def __next__(self) -> str:
        line = self.fh.readline(self.limit - self._size + 1)
        if not line:
            self.eof = True
            raise StopIteration
        if not line.endswith(b"\n") and self._size + len(line) <= self.limit:
            # Shorter than asked for and unended: the file ends here. csv.reader returns an
            # unquoted last row without asking for another line, so this is where it shows.
            self.eof = True
        self.pos += len(line)
        self._size += len(line)
        if self._size > self.limit:
            self._skip_record(line)
        self._lines.append(line)
        try:
            return line.decode(self.encoding)
        except UnicodeDecodeError:
            self.bad = True
            # One character per byte: the raw copy keeps the bytes (Latin-1 gives them back).
            return line.decode("latin-1")

    def record_bytes(self) -> bytes:
        """The bytes of the current record read so far."""
        return b"".join(self._lines)

    def _skip_record(self, line: bytes) -> None:
        head = b"".join([*self._lines, line[:HEAD_BYTES]])[:HEAD_BYTES]
        state, end = _START, -1
        for part in (*self._lines, line):
            state, end = _csv_scan(part, state)
        while end < 0 and (chunk := self.fh.readline(_SKIP_CHUNK)):
            self.pos += len(chunk)
            self._size += len(chunk)
            state, end = _csv_scan(chunk, state)
        size = self._size
        self.new_record()
        raise RecordTooLong(size, head)


_START, _FIELD, _QUOTED, _QUOTE = range(4)
_UNQUOTED_STOP = re.compile(rb'\n|,"')


def _csv_scan(data: bytes, state: int) -> tuple[int, int]:
    """csv.reader's record boundary (excel dialect) over ``data``: (state, end or -1).

    A state machine over bytes (the quote, comma and newline bytes never occur inside a
    UTF-8 character) that jumps with find/regex, so skipping a huge field costs C loops.
    """
    pos, n = 0, len(data)
    while pos < n:
        if state in (_START, _QUOTE):
            c = data[pos]
            pos += 1
            if c == 0x0A:
                return _START, pos
            if c == 0x22:
                state = _QUOTED
            elif c == 0x2C:
                state = _START
            else:
                state = _FIELD
        elif state == _QUOTED:
            q = data.find(b'"', pos)
            if q < 0:
                return _QUOTED, -1
            state, pos = _QUOTE, q + 1
        else:
            m = _UNQUOTED_STOP.search(data, pos)
            if m is None:
                return _FIELD, -1
            if m.group() == b"\n":
                return _START, m.end()
            state, pos = _QUOTED, m.end()
    return state, -1


def raise_csv_field_limit() -> None:
    """Let csv.reader hold any field that fits in a record; CsvFeed bounds the record.

    The csv module's own limit (131,072 characters) raises in the middle of a record, where
    the reader cannot tell the rest of the record from the next one.
    """
    if csv.field_size_limit() < MAX_RECORD_BYTES:
        csv.field_size_limit(MAX_RECORD_BYTES)


def invalid_json(err: json.JSONDecodeError) -> str:
    """A reject reason for a record that is not JSON, with where it goes wrong: the decoder's
    own message ends mid-phrase ("Invalid control character at") without its position."""
    where = f"column {err.colno}" if err.lineno == 1 else f"line {err.lineno}, column {err.colno}"
    message = err.msg.removesuffix(" at")
    return f"invalid JSON: {message} at {where}"
