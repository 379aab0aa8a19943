"""Parquet rows as raw records, streamed in bounded slices (the file reader's parquet half)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import SourceError
from pipeline.records import RawRecord
from pipeline.sources.base import RAW_KEEP

# Rows decoded per slice. The reader never holds more than one slice of decoded rows, and with
# pre_buffer off and a read buffer it streams pages instead of loading whole column chunks.
SLICE_ROWS = 1024
READ_BUFFER = 1 << 20


def read_parquet(
    path: Path, row: int, slice_rows: int = SLICE_ROWS
) -> Iterator[tuple[RawRecord, int]]:
    """Yield (record, index of the next row) from row ``row`` on.

    A file that is not readable Parquet yields one error record at row 0 and counts as done
    once the cursor is past it, so that one bad file quarantines itself instead of stopping
    the folder for good.
    """
    try:
        pf = pq.ParquetFile(path, buffer_size=READ_BUFFER, pre_buffer=False)
    except (pa.ArrowException, OSError) as err:
        if row == 0:
            yield RawRecord(f"{path.name}#0", None, "", f"unreadable Parquet file: {err}"), 1
        return
    with pf:
        # Skip whole row groups by their metadata; only the rest of one group is decoded to skip.
        first_group, group_start = 0, 0
        while first_group < pf.num_row_groups:
            n = pf.metadata.row_group(first_group).num_rows
            if group_start + n > row:
                break
            group_start += n
            first_group += 1
        groups = list(range(first_group, pf.num_row_groups))
        if not groups:
            return
        index = group_start
        batches = pf.iter_batches(batch_size=slice_rows, row_groups=groups, use_threads=False)
        for batch in _checked(batches, path):
            skip = max(row - index, 0)
            for at, values in enumerate(batch.slice(skip).to_pylist(), index + skip):
                yield _record(f"{path.name}#{at}", values), at + 1
            index += batch.num_rows


def _checked(batches: Iterator[pa.RecordBatch], path: Path) -> Iterator[pa.RecordBatch]:
    try:
        yield from batches
    except pa.ArrowException as err:
        raise SourceError(
            f"{path.name}: Parquet data is corrupt after the file's metadata ({err}); "
            "repair or remove the file"
        ) from err


def _record(locator: str, values: dict[str, Any]) -> RawRecord:
    try:
        fields = {key: _plain(value) for key, value in values.items()}
    except UnicodeDecodeError:
        raw = json.dumps(values, default=_lossy, ensure_ascii=False)[:RAW_KEEP]
        return RawRecord(locator, None, raw, "invalid UTF-8")
    return RawRecord(
        locator, fields, json.dumps(fields, default=str, ensure_ascii=False)[:RAW_KEEP]
    )


def _plain(value: Any) -> Any:
    """Parquet values as the plain types validation expects (times as ISO 8601 strings)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _lossy(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
