"""Scale-out for real: `sentimon run --task-runner dask` on a LocalCluster of 2 worker processes,
against PostgreSQL and a real Prefect server, ends with the database a single-process run gives."""

import importlib
import json
import time

import pytest
from sqlalchemy import text
from support.live_prefect import api
from support.scaleout_data import assert_same_results, snapshot, write_landing
from typer.testing import CliRunner

from db.engine import make_engine
from flows.cli import app

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def second_schema_url(pg_schema_url, pg_schema_factory):
    """Another fresh schema beside pg_schema_url's, dropped afterwards."""
    return pg_schema_factory()


def _run(*args):
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["run", *args])
    assert result.exit_code == 0, result.output
    # The JSON summary is the last thing printed; Prefect's log lines come before it.
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    return summary, time.perf_counter() - started


def test_dask_run_on_postgres_matches_a_single_process_run(
    prefect_api, pg_schema_url, second_schema_url, tmp_path, monkeypatch, caplog
):
    from distributed import Client, LocalCluster
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # The cluster logs its shutdown from its own threads, after CliRunner has closed the
    # stream Prefect's console handler writes to: keep those lines out.
    caplog.set_level("ERROR", logger="distributed")

    folder = tmp_path / "landing"
    n_lines = write_landing(folder, n_files=4, rows=11)
    source = ["--input", str(folder), "--source", "reviews", "--batch-size", "5"]
    # The workers are other processes: they read both from the environment they start with.
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    with temporary_settings({PREFECT_API_URL: prefect_api}):
        monkeypatch.setenv("SENTIMON_DATABASE_URL", pg_schema_url)
        single, single_s = _run(*source)
        assert "files" not in single and single["read"] == n_lines

        monkeypatch.setenv("SENTIMON_DATABASE_URL", second_schema_url)
        started = time.perf_counter()
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            cluster_s = time.perf_counter() - started
            address = cluster.scheduler_address
            dask, dask_s = _run(*source, "--task-runner", "dask", "--dask-address", address)
            # Each worker built its runtime, and so loaded the model, once for all its files.
            runtimes = client.run(
                lambda: len(importlib.import_module("flows.runtime.process")._RUNTIMES)
            )
            again, again_s = _run(*source, "--task-runner", "dask", "--dask-address", address)
    print(
        f"\nsingle process {single_s:.1f} s; cluster start {cluster_s:.1f} s; "
        f"dask run {dask_s:.1f} s; dask rerun {again_s:.1f} s"
    )
    assert (dask["files"], dask["read"], dask["batches"]) == (4, n_lines, 4 * 3)
    assert sorted(runtimes.values()) == [1, 1], runtimes
    assert (again["files"], again["read"]) == (0, 0)  # every file marked as fully read

    single_db, dask_db = make_engine(pg_schema_url), make_engine(second_schema_url)
    try:
        ours, theirs = snapshot(dask_db), snapshot(single_db)
        with dask_db.connect() as conn:
            keys = set(conn.execute(text("SELECT source FROM source_cursors")).scalars())
            run_ids = set(conn.execute(text("SELECT flow_run_id FROM batches")).scalars())
    finally:
        single_db.dispose()
        dask_db.dispose()
    assert ours["n_read"] == theirs["n_read"] == n_lines  # no record read twice
    assert len(ours["posts"]) == len(ours["predictions"]) == n_lines - 4
    assert_same_results(ours, theirs)
    assert keys == {f"reviews/part-{f:02d}.jsonl" for f in range(4)}

    # The workers' task runs reached the Prefect API (PREFECT_API_URL on the workers).
    assert len(run_ids) == 1 and None not in run_ids
    body = {"task_runs": {"flow_run_id": {"any_": list(run_ids)}}}
    tasks = [t for t in api(prefect_api, "POST", "/task_runs/filter", body)]
    partitions = [t for t in tasks if t["name"].startswith("score-partition")]
    assert len(partitions) == 4
    assert {t["state_type"] for t in partitions} == {"COMPLETED"}
