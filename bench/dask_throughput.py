"""Wall time of `sentimon run` on one landing folder: threads vs a Dask cluster, on PostgreSQL.

    SENTIMON_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
    PREFECT_API_URL=http://127.0.0.1:4200/api \\
    .venv/bin/python bench/dask_throughput.py --files 4 --rows 5000 --workers 2

Three runs, each into a fresh PostgreSQL schema: the default (threads, one file after another
in one process), `--task-runner dask` (a local cluster started for the run), and
`--dask-address` of a cluster started and warmed beforehand (model loaded on every worker), which
shows the steady state of a long-lived cluster. Needs a Prefect server (PREFECT_API_URL): the
pre-started workers report to it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

TEMPLATES = [
    "@united lost my bag again, terrible service on flight {n}",
    "@southwestair great crew and a smooth flight {n}, thank you",
    "@americanair delayed {n} minutes with no updates at the gate",
    "@usairways the seat on {n} was fine i guess",
    "@united best landing ever on flight {n}, love it",
]


def write_folder(folder: Path, files: int, rows: int) -> int:
    folder.mkdir(parents=True)
    for f in range(files):
        lines = [
            json.dumps(
                {
                    "id": f"{f}-{i}",
                    "text": TEMPLATES[i % len(TEMPLATES)].format(n=f * rows + i),
                    "created_at": f"2026-05-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
                }
            )
            for i in range(rows)
        ]
        path = folder / f"part-{f:03d}.jsonl"
        path.write_text("\n".join(lines) + "\n")
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    return files * rows


def schema_url(base: str) -> tuple[str, str]:
    schema = f"sentimon_bench_{uuid.uuid4().hex[:12]}"
    with create_engine(base, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    return schema, f"{base}{sep}options=-csearch_path%3D{schema}"


def drop(base: str, schema: str) -> None:
    with create_engine(base, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def run(args: list[str], db_url: str) -> tuple[float, dict]:
    sentimon = Path(sys.executable).parent / "sentimon"
    env = {**os.environ, "SENTIMON_DATABASE_URL": db_url}
    started = time.perf_counter()
    # Our own console script with arguments built here: nothing untrusted reaches it.
    done = subprocess.run(  # noqa: S603
        [str(sentimon), "run", *args], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stdout[-3000:] + done.stderr[-3000:])
    return wall, json.loads(done.stdout[done.stdout.index("{") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    opts = parser.parse_args()
    base = os.environ["SENTIMON_TEST_POSTGRES_URL"]
    if not os.environ.get("PREFECT_API_URL"):
        raise SystemExit("set PREFECT_API_URL to a running `prefect server start`")

    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "landing"
        n = write_folder(folder, opts.files, opts.rows)
        common = ["--input", str(folder), "--source", "bench", "--batch-size", str(opts.batch_size)]
        results = []
        schemas = []
        try:
            schema, url = schema_url(base)
            schemas.append(schema)
            results.append(("threads (one process)", *run(common, url)))
            schema, url = schema_url(base)
            schemas.append(schema)
            results.append(
                ("dask, local cluster per run", *run([*common, "--task-runner", "dask"], url))
            )
            schema, url = schema_url(base)
            schemas.append(schema)
            os.environ["SENTIMON_DATABASE_URL"] = url  # the workers read it when they start
            with (
                LocalCluster(
                    n_workers=opts.workers, threads_per_worker=1, dashboard_address=None
                ) as cluster,
                Client(cluster) as client,
            ):
                # Warm: every worker builds its runtime (loads the model) before the clock starts.
                client.run(
                    lambda: (
                        __import__("flows.runtime.process").runtime.process.get_runtime() and None
                    )
                )
                address = cluster.scheduler_address
                results.append(
                    (
                        "dask, warm cluster",
                        *run([*common, "--task-runner", "dask", "--dask-address", address], url),
                    )
                )
        finally:
            for schema in schemas:
                drop(base, schema)
    print(
        f"{n} posts in {opts.files} files, batches of {opts.batch_size}, "
        f"{opts.workers} workers, {os.cpu_count()} cores"
    )
    for name, wall, summary in results:
        assert summary["read"] == n, summary
        print(f"{name:30s} {wall:6.1f} s wall  {n / wall:7.0f} posts/s")


if __name__ == "__main__":
    main()
