"""PostgreSQL going away mid-run: the batch retries with backoff and the run finishes, or,
when the server stays down, the run fails cleanly with the cursor at the last committed batch.

The tests start a private PostgreSQL server (initdb into a temporary folder, its own port), so
that stopping it disturbs nothing else. They skip where the server binaries are missing.
"""

import asyncio
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from db.tables import batches, posts, predictions, source_cursors

pytestmark = pytest.mark.slow
SENTIMON = str(Path(sys.executable).with_name("sentimon"))
N_POSTS = 400


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    def __init__(self, root: Path) -> None:
        self.bin = _pg_bin()
        self.data = root / "pgdata"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120
        )

    def init(self) -> None:
        shutil.chown(self.data.parent, "postgres")
        self._as_postgres(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"
        )

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-w",
            "-l",
            str(self.data / "log"),
            "start",
        )

    def stop(self) -> None:
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"
        )


@pytest.fixture
def private_pg():
    if _pg_bin() is None or shutil.which("runuser") is None or os.geteuid() != 0:
        pytest.skip("needs PostgreSQL's server binaries, runuser and root")
    # Not under pytest's tmp_path: the postgres user must be able to reach the folder.
    root = Path(tempfile.mkdtemp(prefix="sentimon-pg-"))
    server = PrivatePostgres(root)
    server.init()
    server.start()
    yield server
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(server.bin / "pg_ctl"),
            "-D",
            str(server.data),
            "-m",
            "immediate",
            "stop",
        ],
        capture_output=True,
    )


def _landing(folder: Path) -> None:
    folder.mkdir()
    with (folder / "posts.jsonl").open("w") as fh:
        for i in range(N_POSTS):
            fh.write(
                json.dumps(
                    {
                        "id": str(i),
                        "text": f"@united flight {i} was fine",
                        "created_at": "2026-03-01T10:00:00Z",
                    }
                )
                + "\n"
            )
    old = time.time() - 60
    os.utime(folder / "posts.jsonl", (old, old))


def _committed(url: str) -> int:
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(batches)).scalar_one()
    except Exception:
        return 0
    finally:
        engine.dispose()


def _state(url: str):
    engine = create_engine(url)
    with engine.connect() as conn:
        n_posts = conn.execute(select(func.count()).select_from(posts)).scalar_one()
        n_preds = conn.execute(select(func.count()).select_from(predictions)).scalar_one()
        n_read = conn.execute(select(func.sum(batches.c.n_read))).scalar() or 0
        last = conn.execute(select(batches.c.cursor_to).order_by(batches.c.id.desc())).first()
        cursor = conn.execute(select(source_cursors.c.position)).scalar()
    engine.dispose()
    return n_posts, n_preds, n_read, last[0] if last else None, cursor


async def _max_task_run_count() -> int:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        runs = await client.read_task_runs(limit=200)
    return max((r.run_count for r in runs if r.name.startswith("score-next-batch")), default=0)


def _start_run(url, tmp_path):
    from prefect.settings import PREFECT_API_URL

    env = dict(
        os.environ,
        SENTIMON_DATABASE_URL=url,
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
        SENTIMON_DATA_DIR=str(tmp_path / "data"),
    )
    cmd = [SENTIMON, "run", "--input", str(tmp_path / "landing"), "--batch-size", "10"]
    return (
        cmd,
        env,
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
    )


def _wait_for_batches(url, proc, n):
    deadline = time.monotonic() + 120
    while _committed(url) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_a_restart_mid_run_is_retried_and_the_run_finishes(prefect_server, private_pg, tmp_path):
    _landing(tmp_path / "landing")
    _, _, proc = _start_run(private_pg.url, tmp_path)
    _wait_for_batches(private_pg.url, proc, 3)
    private_pg.stop()
    time.sleep(3)  # the first retry (after ~1 s) meets a refused connection
    private_pg.start()
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert asyncio.run(_max_task_run_count()) > 1  # a batch failed and its retry succeeded
    n_posts, n_preds, n_read, last, cursor = _state(private_pg.url)
    assert n_posts == n_preds == n_read == N_POSTS and cursor == last


def test_a_database_that_stays_down_fails_the_run_cleanly(prefect_server, private_pg, tmp_path):
    _landing(tmp_path / "landing")
    cmd, env, proc = _start_run(private_pg.url, tmp_path)
    _wait_for_batches(private_pg.url, proc, 2)
    private_pg.stop()
    _out, err = proc.communicate(timeout=300)  # every retry meets a refused connection
    assert proc.returncode == 1
    assert "the results database failed" in err and "resume" in err
    private_pg.start()
    n_posts, n_preds, n_read, last, cursor = _state(private_pg.url)
    assert 0 < n_posts == n_preds == n_read < N_POSTS and cursor == last
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    n_posts, n_preds, n_read, last, cursor = _state(private_pg.url)
    assert n_posts == n_preds == n_read == N_POSTS and cursor == last
