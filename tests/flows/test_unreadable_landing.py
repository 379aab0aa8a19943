"""A landing folder holding a file this user cannot read, through `sentimon run` in a process
that file modes bind (tests/support/unreadable.py), on real files and a real database (SQLite;
PostgreSQL too when SENTIMON_TEST_POSTGRES_URL is set): the other files are stored, a warning
names the file, exit 0 and no traceback; once its mode is fixed the next run stores it, and
nothing is stored twice."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from support.unreadable import as_a_user

pytestmark = pytest.mark.slow

SENTIMON = str(Path(sys.executable).with_name("sentimon"))
NOTICE = (
    "b.jsonl not read: this user cannot read it (permission denied); fix its permissions and "
    "the next run reads it"
)


def _sentimon_run(*args):
    """`sentimon run --settle-seconds 0 ARGS` as a user, on the tests' Prefect server."""
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PREFECT_API_URL=str(PREFECT_API_URL.value()))
    return subprocess.run(
        as_a_user([SENTIMON, "run", "--settle-seconds", "0", *args]),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _stored(url):
    """How many times each post id is stored."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            sql = "SELECT external_id, count(*) FROM posts GROUP BY external_id"
            return dict(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


def test_an_unreadable_file_is_passed_over_then_read_once_its_mode_is_fixed(
    prefect_server, db_url, tmp_path
):
    landing = tmp_path / "landing"
    landing.mkdir()
    for name in ("a", "b", "c"):
        post = {"id": f"{name}1", "text": f"@united flight {name} was fine"}
        (landing / f"{name}.jsonl").write_text(json.dumps(post) + "\n")
    (landing / "b.jsonl").chmod(0)

    first = _sentimon_run("--input", "landing", "--source", "land")
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert f"warning: {NOTICE}" in first.stderr.splitlines()
    assert json.loads(first.stdout)["notices"] == [NOTICE]
    assert _stored(db_url) == {"a1": 1, "c1": 1}  # c.jsonl, named after it, too

    (landing / "b.jsonl").chmod(0o644)
    second = _sentimon_run("--input", "landing", "--source", "land")
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr
    assert _stored(db_url) == {"a1": 1, "b1": 1, "c1": 1}
