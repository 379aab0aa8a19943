"""Files: a CSV/JSONL(.gz)/Parquet file, or a landing folder of them read in name order."""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import time
import zlib
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, ClassVar, cast

from pipeline.errors import SourceError
from pipeline.records import RawRecord
from pipeline.sources.base import RAW_KEEP, SourceBatch
from pipeline.sources.landing import NotAFileError, open_regular, refusal
from pipeline.sources.lines import (
    MAX_RECORD_BYTES,
    CsvFeed,
    RecordTooLong,
    bounded_lines,
    raise_csv_field_limit,
)

FILE_SUFFIXES = (".csv", ".jsonl", ".csv.gz", ".jsonl.gz", ".parquet")
SETTLE_SECONDS = 5.0  # a file modified more recently than this may still be being written
_log = logging.getLogger(__name__)
_APPENDABLE = (".csv", ".jsonl")  # read up to their last complete record while being written
# A position past the end of any file: where a file whose compressed data broke is left.
PAST_END = 1 << 62
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

    The cursor is ``{"file": NAME, "offset": BYTES, "ctime": NS}`` (``"row": N`` for Parquet):
    files named before NAME are done, NAME is resumed there, files after it are new, and NS is
    the newest ctime of the files read (see below; cursors stored before it have none). Byte
    offsets (not line numbers) make a resume a seek, not a re-read. Memory is bounded by the
    batch size: every format is streamed.

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
    # Landing-folder entries not read (symlinks leaving the folder, FIFOs, ...): name -> why.
    refused: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    # Files that landed behind the cursor and sent it back (see above).
    late: set[str] = field(default_factory=set, init=False, repr=False, compare=False)
    _live: _Live | None = field(default=None, init=False, repr=False, compare=False)

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
        start_file, start_pos, newest = _parse_cursor(cursor)
        single = not self.path.is_dir()
        files = self.files()
        if single and start_file is not None and start_file != files[0].name:
            # Reading on would skip the file (or read it from another file's offset).
            raise SourceError(
                f"source {self.name!r} has a cursor in {start_file!r}, not in "
                f"{files[0].name!r}: give this input a --source name of its own"
            )
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
                break  # later files wait too: the cursor must not jump over this one
            newest = max(newest or 0, changed)
            # A file still being written gives its complete records; its last one waits.
            rows = self._rows(file, start_pos if key == start_file else 0, complete=settled)
            try:
                for record, end in rows:
                    records.append(record)
                    position = (file, end)
                    if len(records) >= limit:
                        self._live = _Live(key, end, rows)
                        return SourceBatch(records, _format_cursor(file, end, newest))
            except FileNotFoundError:
                continue  # removed between the listing and the opening
            except NotAFileError as err:
                self.refused[key] = err.reason  # swapped for a FIFO or a folder since listed
                continue
        return SourceBatch(records, _format_cursor(*position, newest) if position else None)

    def _landed_behind(self, files: list[Path], start_file: str, newest: int) -> str | None:
        """The first file named before the cursor's that changed after every file the cursor
        has read: it landed (or was rewritten) after the cursor passed its name."""
        for file in files:
            if file.name >= start_file:
                return None
            changed = _ctime(file)
            if changed is not None and changed > newest:
                self.late.add(file.name)
                _log.warning(
                    "source %s: %r landed after files named later were read: reading again "
                    "from it (records already stored are kept once)",
                    self.name,
                    file.name,
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
        return _guard_compressed(_read_file(file, position, complete), file, position, complete)


def csv_header(path: Path) -> tuple[str, list[str]] | None:
    """(file name, header) of a CSV file, or of a landing folder's first CSV by name; None
    when there is none to read (no CSV, unreadable, not a UTF-8 header)."""
    try:
        files = FileSource(path, path.name, settle_seconds=0).files()
    except SourceError:
        return None
    first = next((f for f in files if _suffix(f) in (".csv", ".csv.gz")), None)
    if first is None:
        return None
    try:
        with _open(first) as fh:
            header = _header(fh.readline(MAX_RECORD_BYTES + 1))
    except (OSError, NotAFileError, *_COMPRESSED_ERRORS):
        return None
    return (first.name, header) if header else None


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


def _parse_cursor(cursor: str | None) -> tuple[str | None, int, int | None]:
    """(file, position, newest ctime in ns or None) of a stored cursor."""
    if not cursor:
        return None, 0, None
    try:
        data = json.loads(cursor)
        position = int(data["row"] if "row" in data else data["offset"])
        newest = data.get("ctime")
        return str(data["file"]), position, int(newest) if newest is not None else None
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise SourceError(
            f"stored cursor {cursor!r} is not a file cursor: was the source renamed?"
        ) from err


def _format_cursor(file: Path, position: int, newest: int | None = None) -> str:
    unit = "row" if _suffix(file) == ".parquet" else "offset"
    data: dict[str, object] = {"file": file.name, unit: position}
    if newest is not None:
        data["ctime"] = newest
    return json.dumps(data)


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


def _read_file(path: Path, position: int, complete: bool) -> Rows:
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
        yield from _read_csv(path, position, complete)
    else:
        yield from _read_jsonl(path, position, complete)


def _read_jsonl(path: Path, offset: int, complete: bool) -> Rows:
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
                yield _parse_json_line(locator, line, complete=ended), pos


def _too_long(locator: str, head: bytes, size: int) -> RawRecord:
    raw = head.decode("utf-8", errors="replace")[:RAW_KEEP]
    reason = f"record over the size limit ({size:,} bytes > {MAX_RECORD_BYTES:,})"
    return RawRecord(locator, None, raw, reason)


def _parse_json_line(locator: str, line: bytes, complete: bool) -> RawRecord:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raw = line.decode("utf-8", errors="replace")[:RAW_KEEP]
        return RawRecord(locator, None, raw, "invalid UTF-8")
    raw = text.rstrip("\r\n")[:RAW_KEEP]
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        reason = "truncated last line" if not complete else f"invalid JSON: {err.msg}"
        return RawRecord(locator, None, raw, reason)
    except RecursionError:
        return RawRecord(locator, None, raw, "invalid JSON: nested too deeply")
    except Exception as err:  # any other failure (a 5,000-digit number, ...) is this line's alone
        return RawRecord(locator, None, raw, f"invalid JSON: {type(err).__name__}: {err}")
    if not isinstance(value, dict):
        return RawRecord(locator, None, raw, "not a JSON object")
    return RawRecord(locator, value, raw)


def _read_csv(path: Path, offset: int, complete: bool) -> Rows:
    raise_csv_field_limit()
    with _open(path) as fh:
        header_line = fh.readline(MAX_RECORD_BYTES + 1)
        header = _header(header_line)
        if header is None:
            # A bad header makes every row unreadable: the whole file is one reject, once.
            if offset == 0 and complete:
                size = len(header_line) + sum(size for _, size, _ in bounded_lines(fh))
                raw = header_line[:RAW_KEEP].decode("utf-8", errors="replace")
                reason = "the first line is not a UTF-8 CSV header; the file is skipped"
                yield RawRecord(f"{path.name}@0", None, raw, reason), max(size, 1)
            return
        fh.seek(max(offset, len(header_line)))
        feed = CsvFeed(fh, fh.tell())
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
            record = _csv_record(locator, row, header, feed.bad)
            if record is not None:
                yield record, feed.pos
            start = feed.pos
            feed.new_record()


def _header(line: bytes) -> list[str] | None:
    if len(line) > MAX_RECORD_BYTES:
        return None
    try:
        return next(csv.reader([line.decode("utf-8-sig")]))
    except (UnicodeDecodeError, StopIteration, csv.Error):
        return None


def _csv_record(locator: str, row: list[str], header: list[str], bad: bool) -> RawRecord | None:
    raw = _csv_raw(row)
    if bad:
        return RawRecord(locator, None, raw, "invalid UTF-8")
    if not any(cell.strip() for cell in row):
        return None
    if len(row) > len(header):
        return RawRecord(locator, None, raw, f"too many columns: {len(row)} > {len(header)}")
    return RawRecord(locator, dict(zip(header, row, strict=False)), raw)


def _csv_raw(row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(row)
    return out.getvalue().rstrip("\r\n")[:RAW_KEEP]
