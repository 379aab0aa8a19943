"""A files source's cursor, and what tells an appended file from a rewritten one.

The cursor is a JSON object with ``file`` and ``offset`` (``row`` for Parquet), ``ctime``, and
``file_size``, ``mtime`` and ``fingerprint``. ``file`` and ``offset`` say where reading
resumes; ``ctime`` is the newest inode-change time of the files read (pipeline/sources/files.py
uses it to find files that landed behind the cursor). The last three identify the file the
cursor is in, as it was when the cursor was stored: its size, its modification time (ns) and a
fingerprint, the sha256 of its first bytes (up to 4 KiB) and, for CSV and JSONL, of the 4 KiB
just before the offset. A file that only grew keeps both windows, so it is read on; a file
rewritten or truncated under the same name changes one of them (any edit before the offset
that changes its length shifts the bytes before the offset), or is shorter than the offset.
A .gz or Parquet file's offset counts decoded records, so its windows are of its stored bytes
up to the size it had: its first and its last 4 KiB then, and it may only grow. Cursors
stored without these keys are still read; only a truncation (the file shorter than the
offset) is found in them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import SourceError
from pipeline.sources.landing import open_regular

WINDOW_BYTES = 4096
# A position past the end of any file: where a file whose compressed data broke is left.
PAST_END = 1 << 62
_PLAIN = (".csv", ".jsonl")  # their offset counts the file's own bytes


@dataclass(frozen=True)
class FileCursor:
    """A parsed files cursor; ``identity`` is None for cursors stored without it."""

    file: str
    position: int
    newest: int | None = None
    identity: dict[str, Any] | None = None


def parse_cursor(cursor: str | None) -> FileCursor | None:
    """The stored cursor, or None when there is none."""
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
        position = int(data["row"] if "row" in data else data["offset"])
        newest = data.get("ctime")
        keys = ("file_size", "mtime", "fingerprint")
        identity = {k: data[k] for k in keys if k in data} or None
        return FileCursor(
            str(data["file"]), position, int(newest) if newest is not None else None, identity
        )
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise SourceError(
            f"stored cursor {cursor!r} is not a file cursor: was the source renamed?"
        ) from err


def format_cursor(file: Path, position: int, newest: int | None = None) -> str:
    """The cursor after ``position`` of ``file``, with the file's identity as it is now."""
    unit = "row" if file.name.lower().endswith(".parquet") else "offset"
    data: dict[str, object] = {"file": file.name, unit: position}
    if newest is not None:
        data["ctime"] = newest
    # Gone since it was read: the next read finds it gone too.
    with contextlib.suppress(FileNotFoundError):
        data |= identify(file, position)
    return json.dumps(data)


def identify(file: Path, position: int) -> dict[str, Any]:
    """``file_size``, ``mtime`` and ``fingerprint`` of ``file`` for a cursor at ``position``."""
    info = file.stat()
    end = position if _plain(file) else info.st_size
    return {
        "file_size": info.st_size,
        "mtime": info.st_mtime_ns,
        "fingerprint": _fingerprint(file, end),
    }


def change(file: Path, cursor: FileCursor) -> str | None:
    """How ``file`` changed since ``cursor`` was stored in it, in words; None when it only grew
    (or did not change) and reading on from the cursor is right. Raises FileNotFoundError
    when the file is gone."""
    size = file.stat().st_size
    plain = _plain(file)
    known = cursor.identity or {}
    if plain and cursor.position < PAST_END and size < cursor.position:
        return (
            f"is shorter than when it was read ({size:,} bytes now, the cursor is at byte "
            f"{cursor.position:,}): it was truncated or rewritten"
        )
    if not plain and "file_size" in known and size < int(known["file_size"]):
        return (
            f"is shorter than when it was read ({size:,} bytes now, "
            f"{int(known['file_size']):,} then): it was truncated or rewritten"
        )
    if "fingerprint" not in known:
        return None
    if plain and cursor.position >= PAST_END:
        return None
    end = cursor.position if plain else int(known.get("file_size", size))
    if _fingerprint(file, end) != known["fingerprint"]:
        where = "its first bytes or those before the cursor" if plain else "bytes it had"
        return f"was rewritten since it was read ({where} changed)"
    return None


def _plain(file: Path) -> bool:
    return file.name.lower().endswith(_PLAIN)


def _fingerprint(file: Path, end: int) -> str:
    """sha256 of the file's first bytes and of the bytes just before ``end`` (each window at
    most WINDOW_BYTES, both within [0, end)); 16 hex digits are plenty to tell versions apart."""
    digest = hashlib.sha256()
    with open_regular(file) as fh:
        digest.update(fh.read(min(WINDOW_BYTES, end)))
        tail = max(0, end - WINDOW_BYTES)
        fh.seek(tail)
        digest.update(fh.read(end - tail))
    return digest.hexdigest()[:16]
