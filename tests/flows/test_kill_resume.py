"""Exactly-once effect: `sentimon run` killed with SIGKILL mid-run, then run again.

A landing folder of mixed files with duplicates and bad rows is ingested by real `sentimon`
processes that are killed at random moments while batches are being committed. After a final
run, the database must hold each distinct valid record once, one prediction per post, one
reject per bad row, and the audit table must show every input record read exactly once.
"""

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from db.tables import batches, posts, predictions, rejects

pytestmark = pytest.mark.slow

SENTIMON = str(Path(sys.executable).with_name("sentimon"))
N_PER_FILE = 300
BATCH = 15


def _landing(folder: Path) -> dict[str, int]:
    """Write the landing folder; return the counts the database must end with."""
    folder.mkdir()
    rows = [
        {
            "id": f"p{i}",
            "text": f"@united flight {i} was {'great' if i % 3 else 'awful'}",
            "created_at": f"2026-02-{1 + i % 20:02d}T{i % 24:02d}:00:00Z",
        }
        for i in range(3 * N_PER_FILE)
    ]
    with (folder / "a.jsonl").open("w") as fh:
        for row in rows[:N_PER_FILE]:
            fh.write(json.dumps(row) + "\n")
        fh.write('{"id": "bad1", "text": ""}\n')  # empty text
        fh.write('{"id": "bad2", "text": "ok", "created_at": "not a date"}\n')
        fh.write("{not json}\n")
    with (folder / "b.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "created_at"])
        for row in rows[N_PER_FILE : 2 * N_PER_FILE]:
            writer.writerow([row["id"], row["text"], row["created_at"]])
        writer.writerow(["bad3", "too", "many", "columns"])
        for row in rows[:10]:  # duplicates of a.jsonl's first records
            writer.writerow([row["id"], row["text"], row["created_at"]])
    with (folder / "c.jsonl").open("w") as fh:
        for row in rows[2 * N_PER_FILE :]:
            fh.write(json.dumps(row) + "\n")
        fh.write(json.dumps(rows[5]) + "\n")  # one more duplicate
    for path in folder.iterdir():  # landed a minute ago: settled, ready to read
        os.utime(path, (time.time() - 60, time.time() - 60))
    return {"posts": 3 * N_PER_FILE, "rejects": 4, "records": 3 * N_PER_FILE + 4 + 11}


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ)
    env.update(
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
        SENTIMON_DATA_DIR=str(data_dir),
        SENTIMON_DATABASE_URL=database_url,
    )
    return env


def _committed_batches(engine) -> int:
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(batches)).scalar_one()
    except Exception:  # the schema may not exist yet at the very start
        return 0


def _kill_runs(cmd, env, engine, trials: int, rng: random.Random) -> int:
    """Start ``cmd`` ``trials`` times, SIGKILL each while it commits batches; return kills."""
    kills = 0
    for _ in range(trials):
        before = _committed_batches(engine)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        target = before + rng.randint(1, 4)
        deadline = time.monotonic() + 120
        while _committed_batches(engine) < target and proc.poll() is None:
            assert time.monotonic() < deadline, "run made no progress"
            time.sleep(0.05)
        # Land anywhere inside the next batch: a batch of 15 posts takes tens of ms, so a longer
        # pause would often let the run finish before the kill.
        time.sleep(rng.uniform(0, 0.1))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    return kills


def _check(engine, expected):
    with engine.connect() as conn:
        n_posts = conn.execute(select(func.count()).select_from(posts)).scalar_one()
        n_distinct = conn.execute(select(func.count(func.distinct(posts.c.external_id)))).scalar()
        n_preds = conn.execute(select(func.count()).select_from(predictions)).scalar_one()
        per_post = conn.execute(
            text("SELECT max(n) FROM (SELECT count(*) AS n FROM predictions GROUP BY post_id) t")
        ).scalar()
        n_rejects = conn.execute(select(func.count()).select_from(rejects)).scalar_one()
        n_read = conn.execute(select(func.sum(batches.c.n_read))).scalar_one()
    assert n_posts == n_distinct == expected["posts"]
    assert n_preds == n_posts and per_post == 1
    assert n_rejects == expected["rejects"]
    # Every input record was read in exactly one committed batch: nothing skipped, no replay.
    assert n_read == expected["records"]


def _kill_and_resume(tmp_path, database_url, engine):
    expected = _landing(tmp_path / "landing")
    cmd = [SENTIMON, "run", "--input", str(tmp_path / "landing"), "--batch-size", str(BATCH)]
    env = _env(database_url, tmp_path / "data")
    seed = random.randrange(1 << 30)
    kills = _kill_runs(cmd, env, engine, trials=3, rng=random.Random(seed))
    assert kills >= 2, f"seed {seed}: the runs ended before they could be killed"
    final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    _check(engine, expected)
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and '"batches": 0' in again.stdout
    _check(engine, expected)


def test_sigkill_mid_run_then_resume_on_sqlite(prefect_server, tmp_path):
    url = f"sqlite:///{tmp_path / 'data' / 'sentimon.db'}"
    (tmp_path / "data").mkdir()
    _kill_and_resume(tmp_path, url, create_engine(url))


@pytest.mark.postgres
def test_sigkill_mid_run_then_resume_on_postgresql(prefect_server, tmp_path, pg_schema_url):
    _kill_and_resume(tmp_path, pg_schema_url, create_engine(pg_schema_url))


def test_two_concurrent_runs_never_read_the_same_records(prefect_server, tmp_path):
    """Both processes start together; the lease lets one read while the other skips."""
    url = f"sqlite:///{tmp_path / 'data' / 'sentimon.db'}"
    (tmp_path / "data").mkdir()
    expected = _landing(tmp_path / "landing")
    cmd = [SENTIMON, "run", "--input", str(tmp_path / "landing"), "--batch-size", str(BATCH)]
    env = _env(url, tmp_path / "data")
    # Create the schema first, so that neither process is still migrating when the other runs.
    subprocess.run([SENTIMON, "init"], env=env, check=True, capture_output=True)
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    _check(create_engine(url), expected)
    results = [json.loads(out[out.index("{") :]) for out, _ in outputs]
    assert sum(r["read"] for r in results) == expected["records"]


def test_a_source_leased_by_a_live_process_elsewhere_is_skipped(
    prefect_server, tmp_path, monkeypatch
):
    from datetime import UTC, datetime, timedelta

    from typer.testing import CliRunner

    from db.engine import make_engine
    from db.leases import acquire_lease
    from db.migrate import upgrade
    from flows.cli import app
    from flows.runtime.sources import source_name_for

    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'sentimon.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        name = source_name_for(str(tmp_path / "landing"))
        lease = acquire_lease(conn, name, "otherhost:42:1", datetime.now(UTC), timedelta(minutes=5))
    assert lease is not None
    _landing(tmp_path / "landing")
    result = CliRunner().invoke(app, ["run", "--input", str(tmp_path / "landing")])
    assert result.exit_code == 0, result.output
    assert "otherhost:42:1" in result.output
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(posts)).scalar_one() == 0
