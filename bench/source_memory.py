"""Peak RSS of the file readers: memory must follow the batch size, not the input size.

Generates a JSONL file, its gzip and a Parquet file of ``--rows`` posts (the Parquet one as one
row group, the hardest case for bounded reading), then reads each through ``FileSource`` in
batches of ``--batch-size``, each in a fresh process, and prints that process's RSS after the
imports, its peak RSS while reading, and the time taken. ``--fresh`` also times a new reader
object per batch (a seek to the cursor instead of continuing the open file).

    .venv/bin/python bench/source_memory.py --rows 1000000 --batch-size 5000 --fresh

``--long-line-gib N`` instead writes one .jsonl.gz holding a single N GiB line with no newline
(about 1 MB compressed: what an attacker would drop in a landing folder) and measures reading
it. Records are read with a size limit (pipeline/sources/lines.py), so the peak stays flat:

    .venv/bin/python bench/source_memory.py --long-line-gib 1
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

WORDS = ["love", "hate", "the", "new", "phone", "flight", "delayed", "again", "great", "service"]
WORDS += ["awful", "support", "@united"]


def post(i: int) -> dict[str, object]:
    words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(12 + i % 20)]
    when = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=i * 17)
    return {
        "id": f"p{i:08d}",
        "text": " ".join(words) + f" #{i}",
        "created_at": when.isoformat(),
        "author": f"user{i % 5000}",
    }


def generate(folder: Path, rows: int) -> list[Path]:
    """Write the inputs (outside the measured processes, so generation cost is not counted)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    jsonl = folder / "posts.jsonl"
    with jsonl.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            fh.write(json.dumps(post(i)) + "\n")
    gz = folder / "posts.jsonl.gz"
    with jsonl.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    parquet = folder / "posts.parquet"
    table = pa.Table.from_pylist([post(i) for i in range(rows)])
    pq.write_table(table, parquet, row_group_size=rows)  # one row group: no help from the layout
    return [jsonl, gz, parquet]


def generate_long_line(folder: Path, gib: float) -> Path:
    """One gzip member holding ``{"text": "aaa...`` of ``gib`` GiB and no newline."""
    path = folder / "one-line.jsonl.gz"
    chunk = b"a" * 2**24
    with gzip.open(path, "wb", compresslevel=6) as fh:
        fh.write(b'{"text": "')
        for _ in range(int(gib * 2**30) // len(chunk)):
            fh.write(chunk)
    return path


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over
    exec from the parent, so a child would report the generator's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(path: Path, batch_size: int, fresh: bool) -> dict[str, object]:
    """Read ``path`` to the end in batches; runs in a process of its own.

    ``fresh``: a new FileSource per batch, as when every batch rebuilds its reader (it then
    seeks to the cursor instead of continuing the open file)."""
    import psutil

    from pipeline.sources import FileSource

    process = psutil.Process()
    source = FileSource(path, "bench", settle_seconds=0)
    base = process.memory_info().rss / 2**20
    start = time.perf_counter()
    cursor, n_records, n_batches, samples = None, 0, 0, []
    while (batch := source.read_batch(cursor, batch_size)).records:
        if fresh:
            source = FileSource(path, "bench", settle_seconds=0)
        n_records += len(batch.records)
        n_batches += 1
        cursor = batch.cursor_to
        if n_batches % 20 == 1:
            samples.append(round(process.memory_info().rss / 2**20, 1))
    source.close()
    return {
        "file": path.name,
        "reader": "new per batch" if fresh else "continued",
        "records": n_records,
        "batches": n_batches,
        "rss_after_imports_mb": round(base, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_every_20_batches_mb": samples,
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument(
        "--fresh", action="store_true", help="also time a new reader object per batch"
    )
    parser.add_argument(
        "--long-line-gib", type=float, help="read one gzip holding a single line this long"
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.batch_size, args.fresh)))
        return
    with tempfile.TemporaryDirectory(prefix="sentimon-bench-") as tmp:
        if args.long_line_gib:
            inputs = [generate_long_line(Path(tmp), args.long_line_gib)]
            args.fresh = False
        else:
            inputs = generate(Path(tmp), args.rows)
        for path in inputs:
            size_mb = path.stat().st_size / 2**20
            for fresh in (False, True) if args.fresh else (False,):
                command = [sys.executable, __file__, "--measure", str(path)]
                command += ["--batch-size", str(args.batch_size), *(["--fresh"] if fresh else [])]
                # Our own interpreter and script.
                out = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
                result = json.loads(out.stdout)
                size = (
                    {"line_gib": args.long_line_gib} if args.long_line_gib else {"rows": args.rows}
                )
                print(json.dumps({**size, "file_mb": round(size_mb, 1), **result}))


if __name__ == "__main__":
    main()
