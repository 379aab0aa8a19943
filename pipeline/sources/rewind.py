"""Moving a files source's cursor back to the start of one of its files (`sources reset --file`).

A files cursor (pipeline/sources/files.py) names the file reading resumes in and a position in
it; files named before it are done. Moving it to position 0 of an earlier (or the same) file
reads that file again from its first record, then every file named after it. The newest
change time the cursor has seen is kept, so that files landing behind it are still noticed.
"""

from __future__ import annotations

import json

from pipeline.errors import SourceError, UsageError


def cursor_file(position: str | None) -> str | None:
    """The file a files cursor is in; None when ``position`` is no files cursor."""
    try:
        data = json.loads(position) if position else None
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("file"), str):
        return data["file"]
    return None


def rewound_cursor(source: str, position: str | None, file: str) -> str:
    """The cursor that reads ``file`` again from its start, then the files named after it."""
    current = cursor_file(position)
    if current is None:
        raise SourceError(
            f"source {source!r} has no file cursor to move back ({position!r}); "
            "use --to-start to read it again from its beginning"
        )
    if file > current:
        raise UsageError(
            f"{file} sorts after {current}, the file source {source!r} is reading: it has not "
            "been read yet, and moving the cursor there would skip the files in between"
        )
    data = json.loads(position or "{}")
    unit = "row" if file.lower().endswith(".parquet") else "offset"
    rewound: dict[str, object] = {"file": file, unit: 0}
    if "ctime" in data:
        rewound["ctime"] = data["ctime"]
    return json.dumps(rewound)
