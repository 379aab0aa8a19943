"""The temporary Prefect API server a command launches when none is configured
(flows/api_server.py): `sentimon run` as a user runs it, without PREFECT_API_URL."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from flows import api_server

SENTIMON = str(Path(sys.executable).with_name("sentimon"))


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    home = tmp_path / "prefect-home"
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_PROFILES_PATH=str(home / "profiles.toml"),
        SENTIMON_DATA_DIR=str(tmp_path / "data"),
        SENTIMON_DATABASE_URL=f"sqlite:///{tmp_path / 'results.db'}",
        **extra,
    )
    return env


def _servers_of(home) -> list[psutil.Process]:
    """Live processes whose PREFECT_HOME is ``home``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("PREFECT_HOME") == str(home):
                found.append(proc)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def _posts(tmp_path):
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        json.dumps({"id": "1", "text": "I love @united", "created_at": "2026-11-30T10:00:00Z"})
        + "\n"
    )
    return posts


def _run_one_post(tmp_path, env):
    """`sentimon run` of a one-post file, as a user runs it."""
    return subprocess.run(
        [SENTIMON, "run", "--input", str(_posts(tmp_path))],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_run_without_a_configured_server_launches_one_and_stops_it(tmp_path):
    env = _env(tmp_path)
    done = _run_one_post(tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["new_posts"] == 1
    # The server's own database is in the user's Prefect home: the run is recorded there.
    assert (tmp_path / "prefect-home" / "prefect.db").exists()
    deadline = time.monotonic() + 10
    while _servers_of(tmp_path / "prefect-home") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _servers_of(tmp_path / "prefect-home"), "the temporary server outlived the run"


def test_a_server_that_does_not_come_up_in_time_is_one_line_and_nothing_stored(tmp_path):
    env = _env(tmp_path, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="1")
    started = time.monotonic()
    done = _run_one_post(tmp_path, env)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(
        "error: Prefect's temporary API server did not answer within 1 s; allow it longer "
        "with PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    ), done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") <= 2, done.stderr
    assert done.stdout == ""
    assert time.monotonic() - started < 120
    assert not _servers_of(tmp_path / "prefect-home")


@pytest.mark.usefixtures("prefect_server")
def test_a_configured_server_is_used_as_it_is(monkeypatch):
    # The suite's harness configures its API: nothing is launched, nothing is changed.
    monkeypatch.setattr(api_server, "_server", None)
    api_server.start()
    assert api_server._server is None
    with api_server.running():
        from prefect.settings import PREFECT_API_URL

        assert PREFECT_API_URL.value()
    assert api_server._server is None
