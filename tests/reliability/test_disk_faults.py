"""A full disk or a read-only database: a clear error, nothing half-written, a clean resume.

The results database lives on a tmpfs of its own (mounting needs root, which the development
machines and CI have; elsewhere these tests skip), filled up or remounted read-only mid-life.
"""

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from db.tables import batches, posts, predictions, source_cursors
from flows.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _posts_file(path: Path, n: int) -> Path:
    with path.open("w") as fh:
        for i in range(n):
            # Long texts fill the small disk within a few batches.
            fh.write(
                json.dumps(
                    {
                        "id": str(i),
                        "text": f"@united flight {i} " + "x" * 1500,
                        "created_at": "2026-03-01T10:00:00Z",
                    }
                )
                + "\n"
            )
    return path


def _state(url):
    engine = create_engine(url)
    with engine.connect() as conn:
        n_posts = conn.execute(select(func.count()).select_from(posts)).scalar_one()
        n_preds = conn.execute(select(func.count()).select_from(predictions)).scalar_one()
        n_new = conn.execute(select(func.sum(batches.c.n_new_posts))).scalar() or 0
        last = conn.execute(select(batches.c.cursor_to).order_by(batches.c.id.desc())).first()
        cursor = conn.execute(select(source_cursors.c.position)).scalar()
    engine.dispose()
    return n_posts, n_preds, n_new, (last[0] if last else None), cursor


def test_full_disk_fails_clearly_then_resumes(prefect_server, small_disk, tmp_path, monkeypatch):
    url = f"sqlite:///{small_disk / 'sentimon.db'}"
    monkeypatch.setenv("SENTIMON_DATABASE_URL", url)
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    assert runner.invoke(app, ["init"]).exit_code == 0
    # Leave a little room: enough for some batches, not for all.
    filler = small_disk / "filler"
    free = subprocess.run(
        ["df", "--output=avail", "-B1", str(small_disk)], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    filler.write_bytes(b"\0" * (int(free) - 600_000))
    source = _posts_file(tmp_path / "posts.jsonl", 1500)

    failed = runner.invoke(app, ["run", "--input", str(source), "--batch-size", "50"])
    assert failed.exit_code == 1
    assert "disk is full" in failed.output and "resume" in failed.output
    n_posts, n_preds, n_new, last, cursor = _state(url)
    assert 0 < n_posts < 1500  # some batches committed before the disk filled up
    assert n_posts == n_preds == n_new and cursor == last  # the failed batch left nothing

    filler.unlink()
    from flows.runtime import process as rtmod

    for rt in rtmod._RUNTIMES.values():
        rt.engine.dispose()
    resumed = runner.invoke(app, ["run", "--input", str(source), "--batch-size", "50"])
    assert resumed.exit_code == 0, resumed.output
    n_posts, n_preds, n_new, last, cursor = _state(url)
    assert n_posts == n_preds == n_new == 1500 and cursor == last


def test_read_only_database_fails_clearly(prefect_server, small_disk, tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    url = f"sqlite:///{small_disk / 'sentimon.db'}"
    monkeypatch.setenv("SENTIMON_DATABASE_URL", url)
    source = _posts_file(tmp_path / "posts.jsonl", 120)
    args = ["run", "--input", str(source), "--batch-size", "50"]
    first = runner.invoke(app, [*args, "--max-batches", "1"])
    assert first.exit_code == 0, first.output
    before = _state(url)
    # The same files seen through a read-only bind mount, as after a remount or wrong owner.
    view = tmp_path / "read-only"
    view.mkdir()
    subprocess.run(["mount", "--bind", str(small_disk), str(view)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        monkeypatch.setenv("SENTIMON_DATABASE_URL", f"sqlite:///{view / 'sentimon.db'}")
        failed = runner.invoke(app, args)
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)
    assert failed.exit_code == 1
    message = failed.output.lower().replace("-", "")
    assert "readonly" in message or "unable to open" in message, failed.output
    assert _state(url) == before
