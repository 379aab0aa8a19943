"""A real `prefect server start` (and `sentimon serve`) as subprocesses, for the slow tests.

Each server gets its own PREFECT_HOME and a free loopback port. The port is set with
PREFECT_SERVER_API_PORT, not --port, which does not reach the UI's API address (#18895).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """End ``proc`` and the processes it started (it leads its own session)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)


def wait_until(check, what: str, timeout: float, proc: subprocess.Popen | None = None, log=None):
    """Poll ``check()`` until it returns something truthy; fail with the log when it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited ({proc.returncode}):\n{_tail(log)}")
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f} s\n{_tail(log)}")


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return log.read_text(errors="replace")[-4000:]


@contextmanager
def prefect_server(home: Path, timeout: float = 180) -> Iterator[str]:
    """Start `prefect server start` on a free port; yield its API URL (…/api)."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }
    env.pop("PREFECT_API_URL", None)
    log = home / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_until(
            lambda: httpx.get(f"{url}/health", timeout=5).json() is True,
            "prefect server start",
            timeout,
            proc,
            log,
        )
        yield url
    finally:
        stop(proc)


@contextmanager
def sentimon_serve(cwd: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`sentimon serve` in ``cwd`` (where its sentimon.toml is), stopped afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "sentimon"), "serve"],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop(proc)


def api(url: str, method: str, path: str, body: Any = None, attempts: int = 8) -> Any:
    """One call to the Prefect REST API; the decoded JSON answer.

    503 is retried, as Prefect's own client does: the server answers it while its SQLite
    database is locked by another writer (seen here under load, right after `serve` starts).
    """
    for attempt in range(attempts):
        response = httpx.request(method, f"{url}{path}", json=body, timeout=30)
        if response.status_code != 503 or attempt == attempts - 1:
            break
        time.sleep(0.5 * 2**attempt)
    response.raise_for_status()
    return response.json() if response.content else None


def deployments(url: str) -> dict[str, dict[str, Any]]:
    """'FLOW/DEPLOYMENT' -> the deployment, as the API lists them."""
    # Deployments first: a deployment's flow exists before it, so every flow is then listed.
    found = api(url, "POST", "/deployments/filter", {})
    flows = {f["id"]: f["name"] for f in api(url, "POST", "/flows/filter", {})}
    return {f"{flows[d['flow_id']]}/{d['name']}": d for d in found}


def wait_for_run(url: str, run_id: str, timeout: float, log: Path | None = None) -> dict:
    """The flow run once it has reached a final state."""

    def final() -> dict | None:
        run = api(url, "GET", f"/flow_runs/{run_id}")
        return run if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

    return wait_until(final, f"flow run {run_id}", timeout, log=log)


def run_artifacts(url: str, run_id: str) -> list[dict[str, Any]]:
    """The artifacts a flow run created, as the API lists them."""
    body = {"artifacts": {"flow_run_id": {"any_": [run_id]}}}
    return api(url, "POST", "/artifacts/filter", body)


@dataclass(frozen=True)
class ServedProject:
    """A project folder whose flows `sentimon serve` serves to a real Prefect server."""

    api_url: str
    root: Path
    env: dict[str, str]
    log: Path

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")


# Two sources: the serve test counts the batches of `tickets`; the tests that only need runs to
# complete use `reviews`, so no test depends on another having run or not.
PROJECT_TOML = """\
[sources.reviews]
kind = "files"
path = "landing/reviews"
settle_seconds = 0
every_minutes = 60

[sources.tickets]
kind = "files"
path = "landing/tickets"
settle_seconds = 0
"""

TEXTS = [
    "@united lost my bag again, terrible service",
    "@united great crew and a smooth flight, thank you",
    "@americanair delayed three hours with no updates",
    "@southwestair best landing ever, love it",
    "@usairways the seat was fine i guess",
]


def write_project(root: Path, n_posts: int = 10) -> None:
    """sentimon.toml and both sources' landing folders, posts dated within the last days
    (the report's default window is the last 7 days)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "sentimon.toml").write_text(PROJECT_TOML)
    now = datetime.now(UTC)
    for name in ("reviews", "tickets"):
        folder = root / "landing" / name
        folder.mkdir(parents=True)
        lines = [
            json.dumps(
                {
                    "id": f"{name}-{i}",
                    "text": f"{TEXTS[i % len(TEXTS)]} #{i}",
                    "created_at": (now - timedelta(hours=6 + 7 * i)).isoformat(),
                }
            )
            for i in range(n_posts)
        ]
        (folder / "posts.jsonl").write_text("\n".join(lines) + "\n")


SERVED = ("ingest-and-score/reviews", "ingest-and-score/tickets", "brand-report/daily")


@contextmanager
def served_project(api_url: str, root: Path, timeout: float = 240) -> Iterator[ServedProject]:
    """Write a project in ``root``, run `sentimon serve` there until its deployments exist."""
    write_project(root)
    env = {
        **os.environ,
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(root / "prefect-home"),
        "PREFECT_LOGGING_LEVEL": "INFO",
        "SENTIMON_DATA_DIR": str(root / "data"),
    }
    log = root / "serve.log"
    with sentimon_serve(root, env, log) as proc:
        wait_until(
            lambda: set(SERVED) <= set(deployments(api_url)),
            "sentimon serve registering its deployments",
            timeout,
            proc,
            log,
        )
        yield ServedProject(api_url, root, env, log)


def trigger(project: ServedProject, name: str, parameters: dict | None = None) -> str:
    """Create a run of deployment ``name`` (FLOW/DEPLOYMENT) through the API; its id."""
    deployment = deployments(project.api_url)[name]
    body = {"parameters": parameters or {}}
    run = api(project.api_url, "POST", f"/deployments/{deployment['id']}/create_flow_run", body)
    return str(run["id"])
