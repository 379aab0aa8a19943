"""`sentimon run --task-runner dask` without a Dask address or a Prefect server: a local cluster
for the run, whose workers report to the run's temporary Prefect server."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.scaleout_data import write_landing
from typer.testing import CliRunner

from flows.cli import app
from flows.scaleout import make_task_runner
from pipeline.errors import UsageError


def test_task_runner_choices():
    assert make_task_runner("threads") is None
    with pytest.raises(UsageError, match="use one of threads, dask"):
        make_task_runner("ray")
    with pytest.raises(UsageError, match="needs --task-runner dask"):
        make_task_runner("threads", "tcp://127.0.0.1:8786")
    remote = make_task_runner("dask", "tcp://10.0.0.5:8786")
    assert remote.address == "tcp://10.0.0.5:8786"


def test_a_wrong_task_runner_is_an_error_not_a_traceback(tmp_path):
    result = CliRunner().invoke(
        app, ["run", "--input", str(tmp_path), "--task-runner", "ray"], catch_exceptions=False
    )
    assert result.exit_code == 2  # a usage mistake
    assert "use one of threads, dask" in result.output


@pytest.mark.slow
def test_local_cluster_workers_use_the_runs_temporary_server(tmp_path):
    folder = tmp_path / "landing"
    n_lines = write_landing(folder, n_files=2, rows=4)
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_LOGGING_LEVEL": "INFO",
        "SENTIMON_DATA_DIR": str(tmp_path / "data"),
    }
    env.pop("PREFECT_API_URL", None)
    sentimon = Path(sys.executable).parent / "sentimon"
    run = subprocess.run(
        [
            str(sentimon),
            "run",
            "--input",
            str(folder),
            "--batch-size",
            "4",
            "--task-runner",
            "dask",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    summary = json.loads(run.stdout[run.stdout.index("{") :])
    assert (summary["files"], summary["read"]) == (2, n_lines)
    # One temporary server, the run's (flows/api_server.py): the workers were given its URL
    # instead of each starting their own, as Prefect would ("Starting temporary server").
    assert output.count("Temporary Prefect API server on http://127.0.0.1:") == 1, output[-4000:]
    assert "Starting temporary server" not in output, output[-4000:]
    assert output.count("Task run 'score-partition") == 2
