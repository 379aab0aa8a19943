"""Load: two `sentimon run`s on different sources write one database at the same time.

SQLite in WAL mode serialises the writers (BEGIN IMMEDIATE + busy_timeout), PostgreSQL takes
per-brand locks for the aggregate refresh: both must finish without "database is locked"
failures or lost rows, and the shared brands' aggregates must count both sources.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from db.tables import brand_sentiment, posts, predictions
from flows.runtime.sources import source_name_for

pytestmark = pytest.mark.slow
SENTIMON = str(Path(sys.executable).with_name("sentimon"))
N = 600


def _source(folder: Path, prefix: str) -> None:
    folder.mkdir(parents=True)
    with (folder / "posts.jsonl").open("w") as fh:
        for i in range(N):
            fh.write(
                json.dumps(
                    {
                        "id": f"{prefix}{i}",
                        "text": f"@united @JetBlue trip {i} ok",
                        "created_at": f"2026-04-{1 + i % 5:02d}T{i % 24:02d}:00:00Z",
                    }
                )
                + "\n"
            )


def _two_runs(tmp_path, url):
    from prefect.settings import PREFECT_API_URL

    env = dict(
        os.environ,
        SENTIMON_DATABASE_URL=url,
        SENTIMON_DATA_DIR=str(tmp_path / "data"),
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
    )
    subprocess.run([SENTIMON, "init"], env=env, check=True, capture_output=True)
    procs = []
    for name in ("reviews", "tweets"):
        _source(tmp_path / name, name)
        cmd = [
            SENTIMON,
            "run",
            "--input",
            str(tmp_path / name),
            "--batch-size",
            "20",
            "--settle-seconds",
            "0",
        ]
        procs.append(
            subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    started = time.monotonic()
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outputs]
    for out, err in outputs:
        assert "database is locked" not in out + err
    engine = create_engine(url)
    with engine.connect() as conn:
        by_source = dict(
            conn.execute(select(posts.c.source, func.count()).group_by(posts.c.source)).all()
        )
        n_preds = conn.execute(select(func.count()).select_from(predictions)).scalar_one()
        volume = conn.execute(
            select(func.sum(brand_sentiment.c.volume)).where(
                brand_sentiment.c.bucket == "day", brand_sentiment.c.brand == "United Airlines"
            )
        ).scalar_one()
    engine.dispose()
    names = [source_name_for(str(tmp_path / name)) for name in ("reviews", "tweets")]
    assert by_source == dict.fromkeys(names, N)
    assert n_preds == 2 * N
    assert volume == 2 * N  # both sources' posts counted in the shared brand's day buckets
    return time.monotonic() - started


def test_two_sources_at_once_on_sqlite(prefect_server, tmp_path):
    _two_runs(tmp_path, f"sqlite:///{tmp_path / 'data' / 'sentimon.db'}")


@pytest.mark.postgres
def test_two_sources_at_once_on_postgresql(prefect_server, tmp_path, pg_schema_url):
    _two_runs(tmp_path, pg_schema_url)
