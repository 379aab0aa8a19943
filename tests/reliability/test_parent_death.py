"""`sentimon run` killed with SIGKILL leaves no process behind: its analysis worker, Prefect's
temporary API server and multiprocessing's resource tracker end by themselves
(flows/runtime/parent_death.py). And the end of the thread that started a worker is not
taken for its parent's death."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from flows.runtime.analysis import MIN_SPLIT, AnalysisPool
from flows.runtime.settings import BUNDLED_BRANDS, BUNDLED_MODEL

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's"),
]

SENTIMON = str(Path(sys.executable).with_name("sentimon"))
N_POSTS = 20_000  # ~40 batches of 500: still running long after the first one


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running; a zombie has ended (whether PID 1 reaps it is not ours to test)."""
    alive = []
    for proc in procs:
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.NoSuchProcess:
            continue
    return alive


def _wait_for(line: str, log: Path, run: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while line not in log.read_text(errors="replace"):
        assert run.poll() is None, f"the run ended first:\n{log.read_text(errors='replace')}"
        assert time.monotonic() < deadline, f"no {line!r} in {timeout} s:\n{log.read_text()}"
        time.sleep(0.2)


def test_a_run_killed_with_sigkill_leaves_no_process_behind(tmp_path):
    posts = tmp_path / "posts.jsonl"
    with posts.open("w") as fh:
        for i in range(N_POSTS):
            fh.write(json.dumps({"id": f"p{i}", "text": f"@united flight {i} was late"}) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(  # no PREFECT_API_URL: the run launches its temporary Prefect server
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_PROFILES_PATH=str(tmp_path / "prefect-home" / "profiles.toml"),
        PREFECT_LOGGING_LEVEL="INFO",  # the batch lines say when the worker has analysed
        SENTIMON_DATA_DIR=str(tmp_path / "data"),
        SENTIMON_DATABASE_URL=f"sqlite:///{tmp_path / 'results.db'}",
        SENTIMON_WORKERS="2",
    )
    log = tmp_path / "run.log"
    with log.open("wb") as err:
        run = subprocess.Popen(
            [SENTIMON, "run", "--input", str(posts)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    descendants: list[psutil.Process] = []
    try:
        # The first batch was split with the worker: every child is up and loaded.
        _wait_for(" batch 1: ", log, run, timeout=240)
        descendants = psutil.Process(run.pid).children(recursive=True)
        commands = [" ".join(proc.cmdline()) for proc in descendants]
        assert any("spawn_main" in c for c in commands), commands
        assert any("uvicorn" in c for c in commands), commands
        run.send_signal(signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 10
        while _alive(descendants) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [(proc.pid, " ".join(proc.cmdline())[:80]) for proc in _alive(descendants)]
        assert not left, f"still running 10 s after the run was killed: {left}"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for proc in _alive(descendants):
            proc.kill()


def _analysed_remotely(pool: AnalysisPool) -> int:
    """How many posts of a split batch the worker analysed (the pool's worker, started now if
    it was not)."""
    texts = [f"@united flight {i} was late" for i in range(MIN_SPLIT)]
    assert pool.wait_ready(timeout=120)
    pending = pool.start(texts, [()] * len(texts), local_share=0.5)
    return sum(len(future.result(timeout=120)[0].texts) for _, _, future in pending.remote)


def test_a_worker_started_by_a_thread_that_has_ended_lives_on():
    # The kernel sends the parent-death signal when the parent *thread* ends too: this thread
    # ends after the worker has asked for the signal (its initializer ran, it analysed).
    pool = AnalysisPool(BUNDLED_MODEL, BUNDLED_BRANDS, processes=2)
    try:
        done: list[int] = []
        starter = threading.Thread(target=lambda: done.append(_analysed_remotely(pool)))
        starter.start()
        starter.join()
        assert done == [MIN_SPLIT // 2]
        time.sleep(1)  # the signal was sent as the thread ended; the worker's handler has run
        # Still the same worker: a dead one breaks the pool for good (BrokenProcessPool here).
        assert _analysed_remotely(pool) == MIN_SPLIT // 2
        assert not pool.broken
    finally:
        pool.close()
