"""Ctrl-C at the terminal during `sentimon run`: the command stops within seconds with one
line and exit status 130, no traceback, no process left behind, and the next run resumes
after the last committed batch, so that every post is stored exactly once.

The terminal signals its whole foreground process group, so the test does the same: the run
leads its own session and the signal goes to that group, the analysis worker and Prefect's
temporary API server included (both used to take it: a traceback from the worker, and a
dead server that kept Prefect's client retrying for minutes).
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="process groups and signals of POSIX"),
]

SENTIMON = str(Path(sys.executable).with_name("sentimon"))
# 300 batches of 200: still running long after the second one, however fast the machine (40
# batches of 500 were all done, on a quick day, before the log showed the second).
N_POSTS = 60_000
BATCH = 200


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(  # no PREFECT_API_URL: the run launches its temporary Prefect server
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_PROFILES_PATH=str(tmp_path / "prefect-home" / "profiles.toml"),
        PREFECT_LOGGING_LEVEL="INFO",  # the batch lines say how far the run has come
        SENTIMON_DATA_DIR=str(tmp_path / "data"),
        SENTIMON_DATABASE_URL=f"sqlite:///{tmp_path / 'results.db'}",
        SENTIMON_WORKERS="2",  # a worker process to be signalled too
    )
    return env


def _stored(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM posts").fetchone()[0])


def test_ctrl_c_stops_a_run_at_once_and_the_next_run_resumes(tmp_path):
    posts = tmp_path / "posts.jsonl"
    with posts.open("w") as fh:
        for i in range(N_POSTS):
            fh.write(json.dumps({"id": f"p{i}", "text": f"@united flight {i} was late"}) + "\n")
    env = _env(tmp_path)
    command = [SENTIMON, "run", "--input", str(posts), "--batch-size", str(BATCH)]
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        run = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    descendants: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 240
        while " batch 2: " not in log.read_text(errors="replace"):
            assert run.poll() is None, f"the run ended first:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no second batch in 240 s:\n{log.read_text()}"
            time.sleep(0.05)
        descendants = psutil.Process(run.pid).children(recursive=True)
        assert any("uvicorn" in " ".join(p.cmdline()) for p in descendants)
        os.killpg(run.pid, signal.SIGINT)
        sent = time.monotonic()
        status = run.wait(timeout=60)
        took = time.monotonic() - sent
        text = log.read_text(errors="replace")
        assert status == 130, text[-3000:]
        assert took < 15, f"{took:.0f} s from Ctrl-C to exit:\n{text[-3000:]}"
        assert "Traceback" not in text and "Error logging to API" not in text, text[-5000:]
        assert "interrupted: every batch of" in text
        # Prefect's own "Crash detected!" ERROR lines would say it again, as errors.
        assert "| ERROR" not in text, text[-3000:]
        gone = time.monotonic() + 10
        while time.monotonic() < gone and any(p.is_running() for p in descendants):
            time.sleep(0.2)
        left = [p.pid for p in descendants if p.is_running() and p.status() != "zombie"]
        assert not left, f"still running after the run ended: {left}"
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    stored = _stored(tmp_path / "results.db")
    assert 2 * BATCH <= stored < N_POSTS and stored % BATCH == 0  # whole batches only

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["read"] == N_POSTS - stored  # after the last commit
    assert _stored(tmp_path / "results.db") == N_POSTS
