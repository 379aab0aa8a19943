"""Files: a CSV/JSONL(.gz) file, or a landing folder of them read in name order."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from pipeline.errors import SourceError
from pipeline.records import RawRecord
from pipeline.sources.base import RAW_KEEP, SourceBatch

FILE_SUFFIXES = (".csv", ".jsonl", ".csv.gz", ".jsonl.gz")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return next((s for s in FILE_SUFFIXES if name.endswith(s)), "")


@dataclass
class FileSource:
    """A CSV/JSONL file, or a landing folder of them read in name order.

    The cursor is ``{"file": NAME, "offset": BYTES}``: files named before NAME are done, NAME is
    resumed at the byte offset, files after it are new. Byte offsets (not line numbers) make a
    resume a seek, not a re-read.
    """

    path: Path
    name: str

    def files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        if not self.path.is_dir():
            raise SourceError(f"input {self.path} does not exist: give a file or a folder")
        return sorted(p for p in self.path.iterdir() if p.is_file() and _suffix(p))

    def read_batch(self, cursor: str | None, limit: int) -> SourceBatch:
        start_file, start_offset = _parse_cursor(cursor)
        records: list[RawRecord] = []
        position: tuple[str, int] | None = None
        for file in self.files():
            key = file.name
            if start_file is not None and key < start_file:
                continue
            offset = start_offset if key == start_file else 0
            for record, end in _read_file(file, offset):
                records.append(record)
                position = (key, end)
                if len(records) >= limit:
                    return SourceBatch(records, _format_cursor(*position))
        return SourceBatch(records, _format_cursor(*position) if position else None)

    def acknowledge(self, batch: SourceBatch) -> None:
        """Nothing to do: the file position is stored with the batch in the results database."""


def _parse_cursor(cursor: str | None) -> tuple[str | None, int]:
    if not cursor:
        return None, 0
    try:
        data = json.loads(cursor)
        return str(data["file"]), int(data["offset"])
    except (ValueError, KeyError, TypeError) as err:
        raise SourceError(
            f"stored cursor {cursor!r} is not a file cursor: was the source renamed?"
        ) from err


def _format_cursor(file: str, offset: int) -> str:
    return json.dumps({"file": file, "offset": offset})


def _open(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _read_file(path: Path, offset: int) -> Iterator[tuple[RawRecord, int]]:
    """Yield (record, byte offset just after it) from ``offset`` on."""
    if _suffix(path).startswith(".csv"):
        yield from _read_csv(path, offset)
    else:
        yield from _read_jsonl(path, offset)


def _read_jsonl(path: Path, offset: int) -> Iterator[tuple[RawRecord, int]]:
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


def _read_csv(path: Path, offset: int) -> Iterator[tuple[RawRecord, int]]:
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
