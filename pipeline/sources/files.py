"""Files: a CSV/JSONL(.gz)/Parquet file, or a landing folder of them read in name order."""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, ClassVar, cast

from pipeline.errors import SourceError
from pipeline.records import RawRecord
from pipeline.sources.base import RAW_KEEP, SourceBatch

FILE_SUFFIXES = (".csv", ".jsonl", ".csv.gz", ".jsonl.gz", ".parquet")
SETTLE_SECONDS = 5.0  # a file modified more recently than this may still be being written

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

    The cursor is ``{"file": NAME, "offset": BYTES}`` (``"row": N`` for Parquet): files named
    before NAME are done, NAME is resumed there, files after it are new. Byte offsets (not line
    numbers) make a resume a seek, not a re-read. Memory is bounded by the batch size: every
    format is streamed.

    Files still being written wait: names ending ``.tmp``/``.part`` (or starting with a dot) are
    not listed, and reading stops at the first file modified less than ``settle_seconds`` ago,
    so that the name-order cursor never moves past it. Producers should therefore write under a
    temporary name and rename, and name files so that new ones sort after those already landed:
    a file that lands with a name before the cursor's is never read.
    """

    # A read depends on the cursor alone, so the next batch may be read before this one
    # commits (flows/batch.py's read-ahead).
    readahead: ClassVar[bool] = True
    path: Path
    name: str
    settle_seconds: float = SETTLE_SECONDS
    _live: _Live | None = field(default=None, init=False, repr=False, compare=False)

    def files(self) -> list[Path]:
        """The input files in reading order (settled or not)."""
        if self.path.is_file():
            return [self.path]
        if not self.path.is_dir():
            raise SourceError(f"input {self.path} does not exist: give a file or a folder")
        return sorted(
            (p for p in self.path.iterdir() if _suffix(p) and not p.name.startswith(".")),
            key=lambda p: p.name,
        )

    def read_batch(self, cursor: str | None, limit: int) -> SourceBatch:
        start_file, start_pos = _parse_cursor(cursor)
        records: list[RawRecord] = []
        position: tuple[Path, int] | None = None
        for file in self.files():
            key = file.name
            if start_file is not None and key < start_file:
                continue
            if not self._settled(file):
                break  # later files wait too: the cursor must not jump over this one
            rows = self._rows(file, start_pos if key == start_file else 0)
            for record, end in rows:
                records.append(record)
                position = (file, end)
                if len(records) >= limit:
                    self._live = _Live(key, end, rows)
                    return SourceBatch(records, _format_cursor(file, end))
        return SourceBatch(records, _format_cursor(*position) if position else None)

    def acknowledge(self, batch: SourceBatch) -> None:
        """Nothing to do: the file position is stored with the batch in the results database."""

    def close(self) -> None:
        """Close the file a batch stopped in (also done when the source is garbage collected)."""
        if self._live is not None:
            self._live.rows.close()
            self._live = None

    def _settled(self, file: Path) -> bool:
        # Only a landing folder has producers writing into it; a file named on the command
        # line is read as it is (waiting would silently read nothing).
        if self.settle_seconds <= 0 or file == self.path:
            return True
        try:
            modified = file.stat().st_mtime
        except FileNotFoundError:
            return False
        return time.time() - modified >= self.settle_seconds

    def _rows(self, file: Path, position: int) -> Rows:
        live, self._live = self._live, None
        if live is not None:
            if (live.file, live.position) == (file.name, position):
                return live.rows
            live.rows.close()
        return _read_file(file, position)


def _parse_cursor(cursor: str | None) -> tuple[str | None, int]:
    if not cursor:
        return None, 0
    try:
        data = json.loads(cursor)
        return str(data["file"]), int(data["row"] if "row" in data else data["offset"])
    except (ValueError, KeyError, TypeError) as err:
        raise SourceError(
            f"stored cursor {cursor!r} is not a file cursor: was the source renamed?"
        ) from err


def _format_cursor(file: Path, position: int) -> str:
    unit = "row" if _suffix(file) == ".parquet" else "offset"
    return json.dumps({"file": file.name, unit: position})


def _open(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _read_file(path: Path, position: int) -> Rows:
    """Yield (record, position just after it) from ``position`` (bytes, or rows for Parquet)."""
    suffix = _suffix(path)
    if suffix == ".parquet":
        # Imported here: pyarrow costs a third of a second, and most inputs are CSV or JSONL.
        from pipeline.sources.parquet import read_parquet

        yield from read_parquet(path, position)
    elif suffix.startswith(".csv"):
        yield from _read_csv(path, position)
    else:
        yield from _read_jsonl(path, position)


def _read_jsonl(path: Path, offset: int) -> Rows:
    with _open(path) as fh:
        fh.seek(offset)
        pos = offset
        for line in iter(fh.readline, b""):
            start, pos = pos, pos + len(line)
            if not line.strip():
                continue
            locator = f"{path.name}@{start}"
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raw = line.decode("utf-8", errors="replace")[:RAW_KEEP]
                yield RawRecord(locator, None, raw, "invalid UTF-8"), pos
                continue
            yield _parse_json_line(locator, text, complete=line.endswith(b"\n")), pos


def _parse_json_line(locator: str, text: str, complete: bool) -> RawRecord:
    raw = text.rstrip("\n")[:RAW_KEEP]
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        reason = "truncated last line" if not complete else f"invalid JSON: {err.msg}"
        return RawRecord(locator, None, raw, reason)
    if not isinstance(value, dict):
        return RawRecord(locator, None, raw, "not a JSON object")
    return RawRecord(locator, value, raw)


class _LineFeed:
    """Feeds decoded lines to csv.reader while counting bytes and remembering bad UTF-8."""

    def __init__(self, fh: IO[bytes], offset: int) -> None:
        self.fh = fh
        self.pos = offset
        self.bad = False

    def __iter__(self) -> Iterator[str]:
        for line in iter(self.fh.readline, b""):
            self.pos += len(line)
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError:
                self.bad = True
                yield line.decode("utf-8", errors="replace")


def _read_csv(path: Path, offset: int) -> Rows:
    with _open(path) as fh:
        header_line = fh.readline()
        try:
            header = next(csv.reader([header_line.decode("utf-8-sig")]))
        except (UnicodeDecodeError, StopIteration) as err:
            raise SourceError(f"{path.name}: the first line must be a UTF-8 CSV header") from err
        fh.seek(max(offset, len(header_line)))
        feed = _LineFeed(fh, fh.tell())
        start = feed.pos
        for row in csv.reader(feed):
            locator = f"{path.name}@{start}"
            raw = _csv_raw(row)
            if feed.bad:
                record = RawRecord(locator, None, raw, "invalid UTF-8")
            elif not any(cell.strip() for cell in row):
                start, feed.bad = feed.pos, False
                continue
            elif len(row) > len(header):
                record = RawRecord(
                    locator, None, raw, f"too many columns: {len(row)} > {len(header)}"
                )
            else:
                record = RawRecord(locator, dict(zip(header, row, strict=False)), raw)
            yield record, feed.pos
            start, feed.bad = feed.pos, False


def _csv_raw(row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(row)
    return out.getvalue().rstrip("\r\n")[:RAW_KEEP]
