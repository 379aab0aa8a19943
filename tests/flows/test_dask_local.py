"""`sentimon run --task-runner dask` without a Dask address or a Prefect server: a local cluster
for the run, whose workers report to the run's temporary Prefect server."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.cli import heavy_imports_of
from support.scaleout_data import write_landing
from typer.testing import CliRunner

from flows.cli import app
from flows.scaleout import check_scheduler, make_task_runner
from pipeline.errors import ClusterUnavailableError, UsageError


def test_task_runner_choices():
    assert make_task_runner("threads") is None
    with pytest.raises(UsageError, match="use one of threads, dask"):
        make_task_runner("ray")
    with pytest.raises(UsageError, match="needs --task-runner dask"):
        make_task_runner("threads", "tcp://127.0.0.1:8786")
    remote = make_task_runner("dask", "tcp://10.0.0.5:8786")
    assert remote.address == "tcp://10.0.0.5:8786"


@pytest.mark.parametrize("address", ["foo:bar", "http://10.0.0.5:8786", "tcp://10.0.0.5"])
def test_a_malformed_dask_address_is_a_usage_error(address):
    with pytest.raises(UsageError, match="give the scheduler as tcp://HOST:PORT"):
        make_task_runner("dask", address)


def test_a_dask_address_nothing_answers_is_one_line_before_prefect_and_torch(tmp_path):
    posts = tmp_path / "posts.jsonl"
    posts.write_text('{"id": "1", "text": "great phone"}\n')
    with socket.socket() as probe:  # a port of this machine that nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    args = ["run", "--input", str(posts), "--task-runner", "dask", "--dask-address", address]
    env = {**os.environ, "SENTIMON_DATA_DIR": str(tmp_path / "data")}
    status, imported, stderr = heavy_imports_of(args, tmp_path, env)
    assert (status, imported) == ("exit 1", "[]"), stderr
    assert " ".join(stderr.split()).startswith(
        f"error: no Dask scheduler answers at {address} (Connection refused)"
    )
    assert "Traceback" not in stderr
    assert not (tmp_path / "data").exists()  # nothing was created


@pytest.mark.parametrize(
    ("greeting", "said"),
    [(None, "accepted the connection but sent nothing within 0.5 s"), (b"", "and closed it")],
)
def test_a_port_that_accepts_but_is_not_dask_is_refused_at_once(greeting, said):
    """A Dask server sends its handshake first; a port that stays silent (Redis's) or hangs up
    is not a scheduler. Left to Dask, the silent one hung the run."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"

        def answer():
            conn, _ = server.accept()
            with conn:
                if greeting is not None:
                    conn.sendall(greeting)
                    conn.shutdown(socket.SHUT_WR)
                time.sleep(1)

        thread = threading.Thread(target=answer)
        thread.start()
        with pytest.raises(ClusterUnavailableError, match=said):
            check_scheduler(address, timeout=0.5)
        thread.join()


def test_a_port_that_speaks_first_passes_the_check():
    with socket.create_server(("127.0.0.1", 0)) as server:
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"

        def answer():
            conn, _ = server.accept()
            with conn:
                conn.sendall(b":\x00\x00\x00")  # the first bytes of a Dask handshake
                time.sleep(0.5)

        thread = threading.Thread(target=answer)
        thread.start()
        check_scheduler(address, timeout=2)
        thread.join()


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
