"""Files: a CSV/JSONL(.gz)/Parquet file, or a landing folder of them read in name order."""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import time
import zlib
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, ClassVar, cast

from pipeline.errors import SourceError
from pipeline.records import RawRecord
from pipeline.sources.base import RAW_KEEP, SourceBatch
from pipeline.sources.encoding import (
    BINARY_SAMPLE_BYTES,
    GUESS_SAMPLE_BYTES,
    Decoding,
    binary_reason,
    not_read_notice,
    raw_bytes_text,
    refused_file,
)
from pipeline.sources.identity import PAST_END, FileCursor, change, format_cursor, parse_cursor
from pipeline.sources.landing import NotAFileError, open_regular, refusal
from pipeline.sources.lines import (
    MAX_RECORD_BYTES,
    CsvFeed,
    RecordTooLong,
    bounded_lines,
    invalid_json,
    raise_csv_field_limit,
)

FILE_SUFFIXES = (".csv", ".jsonl", ".csv.gz", ".jsonl.gz", ".parquet")
SETTLE_SECONDS = 5.0  # a file modified more recently than this may still be being written
_log = logging.getLogger(__name__)
_APPENDABLE = (".csv", ".jsonl")  # read up to their last complete record while being written
# Bytes looked at after the last complete record of such a file: whitespace alone is no record.
HELD_BACK_PEEK = 4096
_COMPRESSED_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)

Rows = Generator[tuple[RawRecord, int], None, None]  # (record, position just after it)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return next((s for s in FILE_SUFFIXES if name.endswith(s)), "")


@dataclass
class _Live:
    """The reader a batch stopped in, kept so the next batch continues it instead of reopening
    (which for .gz and Parquet means decoding the file again up to the cursor)."""

    file: str
    position: int
    rows: Rows


@dataclass
class FileSource:
    """A CSV/JSONL(.gz)/Parquet file, or a landing folder of them read in name order.

    The cursor is ``{"file": NAME, "offset": BYTES, "ctime": NS, ...}`` (``"row": N`` for
    Parquet; pipeline/sources/identity.py): files named before NAME are done, NAME is resumed
    there, files after it are new, and NS is the newest ctime of the files read (see below;
    cursors stored before it have none). Byte offsets (not line numbers) make a resume a seek,
    not a re-read. Memory is bounded by the batch size: every format is streamed.

    The cursor also identifies NAME (size, mtime, a fingerprint of its bytes), so a file
    rewritten or truncated under the same name is never read on from the old offset: a single
    file (``--input FILE``) is refused with a SourceError unless ``reread_changed``, which reads
    it again from its start; in a landing folder it is read again from its start with a notice
    (a folder has no one to answer a question; the upserts keep stored records once). A file
    of binary data is refused before any of it is read (a single file: SourceError; in a
    folder: a notice, and the file is passed over); so is, in a folder, a file this user may
    not read (a single one raises the PermissionError). Records are decoded with ``encoding``
    (UTF-8 by default, pipeline/sources/encoding.py).

    Files still being written wait: names ending ``.tmp``/``.part`` (or starting with a dot) are
    not listed, and reading stops at the first file modified less than ``settle_seconds`` ago,
    so that the name-order cursor never moves past it. Producers should still write under a
    temporary name and rename, and name files so that new ones sort after those already landed.
    A file that lands (or is rewritten) with a name before the cursor's anyway is not lost: the
    cursor also keeps the newest inode-change time (ctime, which a rename or write sets and no
    copy tool can backdate) of the files it has read, and a file before the cursor changed
    later than that sends the cursor back to it; the files after it are read again, which the
    results database's upserts absorb (a warning names the file). A single CSV or JSONL file
    (``--input FILE``) modified within ``settle_seconds`` gives its complete records and keeps
    its last one, which may be half written, for a later read; a .gz or Parquet one waits.

    A landing folder is a boundary (pipeline/sources/landing.py): symbolic links leading out of
    it, FIFOs, devices and folders are never opened; ``refused`` says which and why. Each record
    is read with a size limit (pipeline/sources/lines.py), and whatever one record holds, it
    becomes a RawRecord, with an error when it is unreadable: no record stops the source.
    """

    # A read depends on the cursor alone, so the next batch may be read before this one
    # commits (flows/runtime/batch.py's read-ahead).
    readahead: ClassVar[bool] = True
    path: Path
    name: str
    settle_seconds: float = SETTLE_SECONDS
    encoding: str | None = None  # a Python codec name; None: UTF-8
    reread_changed: bool = False  # a single file rewritten since it was read: read it anew
    # Landing-folder entries not read (symlinks leaving the folder, FIFOs, ...): name -> why.
    refused: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    # Files that landed behind the cursor and sent it back (see above).
    late: set[str] = field(default_factory=set, init=False, repr=False, compare=False)
    # What a run should tell its user about the files (landed late, rewritten, binary,
    # unreadable): one line each, in the order found, each once.
    notices: list[str] = field(default_factory=list, init=False, repr=False, compare=False)
    _live: _Live | None = field(default=None, init=False, repr=False, compare=False)
    _decoding: Decoding = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._decoding = Decoding(self.encoding)

    def files(self) -> list[Path]:
        """The input files in reading order (settled or not); refused entries are left out."""
        if self.path.is_dir():
            refused = refused_entries(self.path)
            self.refused.update(refused)
            return sorted(
                (p for p in _candidates(self.path) if p.name not in refused),
                key=lambda p: p.name,
            )
        if self.path.is_file():
            return [self.path]
        if self.path.exists():
            raise SourceError(f"input {self.path} is not a regular file: give a file or a folder")
        raise SourceError(f"input {self.path} does not exist: give a file or a folder")

    def read_batch(self, cursor: str | None, limit: int) -> SourceBatch:
        stored = parse_cursor(cursor)
        start_file, start_pos, newest = (
            (stored.file, stored.position, stored.newest) if stored else (None, 0, None)
        )
        single = not self.path.is_dir()
        files = self.files()
        if single and stored is not None:
            self._check_cursor_file(files[0], stored)
        if stored is not None and self._rewritten(files[0] if single else None, stored):
            start_pos = 0
        if not single and start_file is not None and newest is not None:
            late = self._landed_behind(files, start_file, newest)
            if late is not None:
                start_file, start_pos = late, 0
        records: list[RawRecord] = []
        position: tuple[Path, int] | None = None
        for file in files:
            key = file.name
            if start_file is not None and key < start_file:
                continue
            changed = _ctime(file)
            settled = self._settled(file)
            if settled is None or changed is None:
                continue  # gone since the listing (moved away, archived): nothing to read
            if not settled and not (single and _suffix(file) in _APPENDABLE):
                # Later files wait too: the cursor must not jump over this one. Said, or a run
                # right after a file was written reads nothing and cannot tell why.
                self._notice(
                    f"{file.name} was modified less than {self.settle_seconds:g} s ago: it "
                    f"{'and the files after it wait' if not single else 'waits'} until it is "
                    "left alone that long (--settle-seconds 0 reads it now)"
                )
                break
            newest = max(newest or 0, changed)
            begin = start_pos if key == start_file else 0
            if begin == 0 and self._binary(file, single):
                continue
            # A file still being written gives its complete records; its last one waits.
            rows = self._rows(file, begin, complete=settled)
            try:
                for record, end in rows:
                    records.append(record)
                    position = (file, end)
                    if len(records) >= limit:
                        self._live = _Live(key, end, rows)
                        return SourceBatch(records, format_cursor(file, end, newest))
            except FileNotFoundError:
                continue  # removed between the listing and the opening
            except NotAFileError as err:
                self.refused[key] = err.reason  # swapped for a FIFO or a folder since listed
                continue
            except PermissionError:
                if single:
                    raise  # nothing else to read: `sentimon run` says so in one line first
                self._pass_over_unreadable(file)
                continue
            if not settled:
                read_to = position[1] if position is not None and position[0] == file else begin
                self._notice_held_back(file, read_to)
        return SourceBatch(records, format_cursor(*position, newest) if position else None)

    def check_resume(self, cursor: str | None) -> None:
        """Raise the SourceError that reading a single file on from ``cursor`` would begin
        with, without reading a record: the cursor is in another file, or the file was
        rewritten or truncated since (unless ``reread_changed``). A landing folder has none:
        its rewritten files are read again with a notice."""
        stored = parse_cursor(cursor)
        if stored is None or self.path.is_dir():
            return
        file = self.files()[0]
        self._check_cursor_file(file, stored)
        if not self.reread_changed:
            self._rewritten(file, stored)

    def _check_cursor_file(self, file: Path, stored: FileCursor) -> None:
        """A single file's cursor must be in that file: reading on would skip it (or read it
        from another file's offset)."""
        if stored.file != file.name:
            raise SourceError(
                f"source {self.name!r} has a cursor in {stored.file!r}, not in "
                f"{file.name!r}: give this input a --source name of its own"
            )

    def _rewritten(self, single_file: Path | None, stored: FileCursor) -> bool:
        """Whether the cursor's file was rewritten or truncated, so that it must be read again
        from its start; a single file that was is refused unless ``reread_changed``."""
        file = single_file or self.path / stored.file
        try:
            how = change(file, stored)
        except (FileNotFoundError, NotAFileError, PermissionError):
            return False  # gone, swapped or unreadable: the listing and the read deal with it
        if how is None:
            return False
        if single_file is not None and not self.reread_changed:
            unit = "row" if file.name.lower().endswith(".parquet") else "byte"
            raise SourceError(
                f"{file.name} {how}; reading on from {unit} {stored.position:,} of source "
                f"{self.name!r} would start mid-record. Read it again from its start with "
                f"--reread-changed (posts already stored keep their stored version), or start the "
                f"source over: sentimon sources reset {self.name} --to-start"
            )
        self._notice(f"{file.name} {how}: read again from its start")
        return True

    def _binary(self, file: Path, single: bool) -> bool:
        """Whether ``file`` holds binary data and is passed over (in a folder, with a notice);
        a single file of it is refused with a SourceError."""
        if _suffix(file) == ".parquet":
            return False
        try:
            with _open(file) as fh:
                why = binary_reason(fh.read(BINARY_SAMPLE_BYTES))
        except (OSError, NotAFileError, *_COMPRESSED_ERRORS):
            return False  # the read itself finds and reports it
        if why is None:
            return False
        if single:
            raise SourceError(refused_file(file.name, why))
        self.refused[file.name] = why
        self._notice(not_read_notice(file.name, why))
        return True

    def _pass_over_unreadable(self, file: Path) -> None:
        """A folder's file this user may not open is passed over with a notice, as binary data
        is, so that one file never stops a feed. Fixing its permissions (chmod, chown,
        setfacl) sets its ctime, so a later read goes back to it even once the cursor stands
        at a file named after it (``_landed_behind``)."""
        self.refused[file.name] = "a file this user cannot read (permission denied)"
        self._notice(
            f"{file.name} not read: this user cannot read it (permission denied); fix its "
            "permissions and the next run reads it"
        )

    def _notice_held_back(self, file: Path, read_to: int) -> None:
        """Say so when a file still being written ends in a record without its newline, which
        waits: else a run right after the file was written stores one record fewer (or
        nothing) and cannot tell why. ``read_to``: where this read stopped."""
        try:
            with file.open("rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(read_to, size - HELD_BACK_PEEK))
                tail = fh.read(HELD_BACK_PEEK)
        except OSError:
            return
        # What follows the last newline (a CSV header's own newline ends the header).
        unended = tail.rsplit(b"\n", 1)[-1] if b"\n" in tail else tail
        if unended.strip():
            self._notice(
                f"{file.name} was modified less than {self.settle_seconds:g} s ago and its last "
                "line has no newline yet: that record waits until the file is left alone that "
                "long or the line is ended (--settle-seconds 0 reads it now)"
            )

    def _notice(self, message: str) -> None:
        if message not in self.notices:
            self.notices.append(message)
            _log.warning("source %s: %s", self.name, message)

    def _landed_behind(self, files: list[Path], start_file: str, newest: int) -> str | None:
        """The first file named before the cursor's that changed after every file the cursor
        has read: it landed (or was rewritten) after the cursor passed its name."""
        for file in files:
            if file.name >= start_file:
                return None
            changed = _ctime(file)
            if changed is not None and changed > newest:
                self.late.add(file.name)
                self._notice(
                    f"{file.name} landed (or changed) after files named later were read: "
                    "read again from it (records already stored are kept once)"
                )
                return file.name
        return None

    def acknowledge(self, batch: SourceBatch) -> None:
        """Nothing to do: the file position is stored with the batch in the results database."""

    def close(self) -> None:
        """Close the file a batch stopped in (also done when the source is garbage collected)."""
        if self._live is not None:
            self._live.rows.close()
            self._live = None

    def _settled(self, file: Path) -> bool | None:
        """Whether ``file`` was left alone for ``settle_seconds``; None when it is gone."""
        try:
            modified = file.stat().st_mtime
        except FileNotFoundError:
            return None
        return self.settle_seconds <= 0 or time.time() - modified >= self.settle_seconds

    def _rows(self, file: Path, position: int, complete: bool) -> Rows:
        live, self._live = self._live, None
        if live is not None:
            if (live.file, live.position) == (file.name, position):
                return live.rows
            live.rows.close()
        rows = _read_file(file, position, complete, self._decoding)
        return _guard_compressed(rows, file, position, complete)


def csv_header(path: Path, encoding: str | None = None) -> tuple[str, list[str]] | None:
    """(file name, header) of a CSV file, or of a landing folder's first CSV by name; None
    when there is none to read (no CSV, unreadable, binary, a header not in ``encoding``)."""
    try:
        files = FileSource(path, path.name, settle_seconds=0).files()
    except SourceError:
        return None
    first = next((f for f in files if _suffix(f) in (".csv", ".csv.gz")), None)
    if first is None:
        return None
    try:
        with _open(first) as fh:
            line = fh.readline(MAX_RECORD_BYTES + 1)
            if binary_reason(line + fh.read(BINARY_SAMPLE_BYTES)) is not None:
                return None  # no header at all: the read refuses the file
            header = _header(line, Decoding(encoding))
    except (OSError, NotAFileError, *_COMPRESSED_ERRORS):
        return None
    return (first.name, header) if header else None


def other_separator(header: Sequence[str]) -> str | None:
    """ "semicolon" or "tab" when a CSV header read as one column holds that character: the file
    separates its fields with it, not with commas (European Excel saves CSV with semicolons;
    a spreadsheet's "text" export uses tabs). None otherwise."""
    if len(header) != 1:
        return None
    return next((name for char, name in _OTHER_SEPARATORS if char in header[0]), None)


_OTHER_SEPARATORS = ((";", "semicolon"), ("\t", "tab"))


def refused_entries(folder: Path) -> dict[str, str]:
    """Entries of a landing folder that will not be read, each with the reason."""
    refused = {}
    for entry in _candidates(folder):
        reason = refusal(entry, folder)
        if reason is not None:
            refused[entry.name] = reason
    return refused


def _candidates(folder: Path) -> Iterator[Path]:
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return
    for entry in entries:
        if _suffix(entry) and not entry.name.startswith("."):
            yield entry


def _ctime(file: Path) -> int | None:
    """The file's inode-change time in ns (set by creation, rename or write), None if gone."""
    try:
        return file.stat().st_ctime_ns
    except FileNotFoundError:
        return None


@contextmanager
def _open(path: Path) -> Iterator[IO[bytes]]:
    with open_regular(path) as fh:
        if not path.name.lower().endswith(".gz"):
            yield fh
            return
        with gzip.GzipFile(fileobj=fh, mode="rb") as unzipped:
            yield cast(IO[bytes], unzipped)


def _guard_compressed(rows: Rows, path: Path, offset: int, complete: bool) -> Rows:
    """A corrupt or truncated .gz quarantines the rest of itself instead of stopping the source.

    The reject's position is PAST_END, where every later read of the file finds nothing; the
    records before the damage are read as usual.
    """
    if offset >= PAST_END:
        return
    last = offset
    try:
        for record, end in rows:
            last = end
            yield record, end
    except _COMPRESSED_ERRORS as err:
        if complete:
            reason = f"corrupt or truncated compressed data ({err}); the rest is skipped"
            yield RawRecord(f"{path.name}@{last}", None, "", reason), PAST_END


def _read_file(path: Path, position: int, complete: bool, decoding: Decoding) -> Rows:
    """Yield (record, position just after it) from ``position`` (bytes, or rows for Parquet).

    ``complete`` False: the file may still be written, so a last record without its newline
    is left for a later read.
    """
    suffix = _suffix(path)
    if suffix == ".parquet":
        # Imported here: pyarrow costs a third of a second, and most inputs are CSV or JSONL.
        from pipeline.sources.parquet import read_parquet

        yield from read_parquet(path, position)
    elif suffix.startswith(".csv"):
        yield from _read_csv(path, position, complete, decoding)
    else:
        yield from _read_jsonl(path, position, complete, decoding)


def _undecodable(decoding: Decoding, path: Path, record: bytes) -> str:
    """The reject reason of a record of ``path`` that ``decoding`` cannot decode."""

    def head() -> bytes:
        try:
            with _open(path) as fh:
                return fh.read(GUESS_SAMPLE_BYTES)
        except (OSError, NotAFileError, *_COMPRESSED_ERRORS):
            return b""

    return decoding.reason(path.name, head, record)


def _read_jsonl(path: Path, offset: int, complete: bool, decoding: Decoding) -> Rows:
    with _open(path) as fh:
        fh.seek(offset)
        pos = offset
        for line, size, ended in bounded_lines(fh):
            if not (ended or complete):
                return
            start, pos = pos, pos + size
            locator = f"{path.name}@{start}"
            if size > MAX_RECORD_BYTES:
                yield _too_long(locator, line, size), pos
            elif line.strip():
                text = decoding.decode(line)
                if text is None:
                    raw = raw_bytes_text(line.rstrip(b"\r\n")[:RAW_KEEP])
                    reason = _undecodable(decoding, path, line)
                    yield RawRecord(locator, None, raw, reason), pos
                else:
                    yield _parse_json_line(locator, text, complete=ended), pos


def _too_long(locator: str, head: bytes, size: int) -> RawRecord:
    raw = head.decode("utf-8", errors="replace")[:RAW_KEEP]
    reason = f"record over the size limit ({size:,} bytes > {MAX_RECORD_BYTES:,})"
    return RawRecord(locator, None, raw, reason)


def _parse_json_line(locator: str, text: str, complete: bool) -> RawRecord:
    raw = text.rstrip("\r\n")[:RAW_KEEP]
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        reason = "truncated last line" if not complete else invalid_json(err)
        return RawRecord(locator, None, raw, reason)
    except RecursionError:
        return RawRecord(locator, None, raw, "invalid JSON: nested too deeply")
    except Exception as err:  # any other failure (a 5,000-digit number, ...) is this line's alone
        return RawRecord(locator, None, raw, f"invalid JSON: {type(err).__name__}: {err}")
    if not isinstance(value, dict):
        return RawRecord(locator, None, raw, "not a JSON object")
    return RawRecord(locator, value, raw)


def _read_csv(path: Path, offset: int, complete: bool, decoding: Decoding) -> Rows:
    raise_csv_field_limit()
    with _open(path) as fh:
        header_line = fh.readline(MAX_RECORD_BYTES + 1)
        header = _header(header_line, decoding)
        if header is None:
            # A bad header makes every row unreadable: the whole file is one reject, once.
            if offset == 0 and complete:
                size = len(header_line) + sum(size for _, size, _ in bounded_lines(fh))
                raw = raw_bytes_text(header_line[:RAW_KEEP])
                reason = "the first line is not a CSV header"
                if decoding.decode(header_line) is None:
                    reason += f" ({_undecodable(decoding, path, header_line)})"
                reason += "; the file is skipped"
                yield RawRecord(f"{path.name}@0", None, raw, reason), max(size, 1)
            return
        fh.seek(max(offset, len(header_line)))
        feed = CsvFeed(fh, fh.tell(), encoding=decoding.codec)
        reader = csv.reader(feed)
        start = feed.pos
        while True:
            locator = f"{path.name}@{start}"
            try:
                row = next(reader)
            except StopIteration:
                return
            except RecordTooLong as err:
                yield _too_long(locator, err.head, err.size), feed.pos
                start = feed.pos
                continue
            except csv.Error as err:  # e.g. a lone CR inside a field: this record's problem
                feed.new_record()
                yield RawRecord(locator, None, "", f"unreadable CSV record: {err}"), feed.pos
                start = feed.pos
                continue
            if feed.eof and not complete:
                return  # ended by the end of the file: its writer may not be done with it
            bad = _undecodable(decoding, path, feed.record_bytes()) if feed.bad else None
            record = _csv_record(locator, row, header, bad)
            if record is not None:
                yield record, feed.pos
            start = feed.pos
            feed.new_record()


def _header(line: bytes, decoding: Decoding) -> list[str] | None:
    if len(line) > MAX_RECORD_BYTES:
        return None
    # A UTF-8 byte order mark is no part of the first column's name.
    text = decoding.decode(
        line.removeprefix(b"\xef\xbb\xbf") if decoding.encoding is None else line
    )
    if text is None:
        return None
    try:
        return next(csv.reader([text]))
    except (StopIteration, csv.Error):
        return None


def _csv_record(
    locator: str, row: list[str], header: list[str], undecodable: str | None
) -> RawRecord | None:
    """``undecodable``: the reject reason when the record's bytes are not in the encoding (its
    cells are then Latin-1 text, one character per byte, kept as the raw copy)."""
    raw = _csv_raw(row)
    if undecodable is not None:
        return RawRecord(locator, None, raw, undecodable)
    if not any(cell.strip() for cell in row):
        return None
    if len(row) > len(header):
        return RawRecord(locator, None, raw, f"too many columns: {len(row)} > {len(header)}")
    return RawRecord(locator, dict(zip(header, row, strict=False)), raw)


def _csv_raw(row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(row)
    return out.getvalue().rstrip("\r\n")[:RAW_KEEP]
