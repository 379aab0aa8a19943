"""Prefect's temporary API server, started as soon as a command knows it will run a flow, and
one clear line when it does not come up.

Without a configured server (PREFECT_API_URL, in the environment or a Prefect profile), Prefect
starts a temporary one the first time a flow calls its API, and waits for it there: the command
first imports Prefect's server package (~5 s on the 2-core development VM) and then waits for
the server process to import it again and answer (~9 s more), after the command has spent as
long importing torch, spaCy and Prefect. `start` launches the same server process (the command
line and environment of Prefect's ``SubprocessASGIServer``, run by flows/runtime/parent_death.py
so that it dies with the command) before any of that, so its start-up overlaps the command's;
`running` waits until it answers and points the flow at it with Prefect's
``temporary_settings``. `sentimon run` on one post: ~22 s before, see
docs/performance.md for the figure after.

Prefect's own wait gives up after PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS (its default
20 s is too short for a first run on a slow machine, which also creates Prefect's database: the
CLI makes it 120 s unless set) with a traceback; here a server that does not answer in time is
one OrchestratorUnavailableError line saying what to do.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import OrchestratorUnavailableError

_PORTS = range(8000, 9000)  # Prefect's own range for its temporary server
_PORT_IN_USE = 3  # uvicorn's exit status when its port was taken meanwhile
_server: _Server | None = None


class _Server:
    """One uvicorn process serving Prefect's API app, stopped when this process exits, and
    stopping itself when this process is killed (flows/runtime/parent_death.py)."""

    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = environment
        self.process = self._launch()
        atexit.register(self.stop)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _launch(self) -> subprocess.Popen[bytes]:
        import prefect

        self.port = _free_port()
        return subprocess.Popen(  # noqa: S603 - this interpreter, a fixed module, our port
            [
                sys.executable,
                "-m",
                # Ends with this process even when it is killed outright: stop() cannot run then.
                "flows.runtime.parent_death",
                str(os.getpid()),
                "uvicorn",
                "--app-dir",
                str(Path(prefect.__file__).parent.parent),
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env=self.environment,
            # Its own session: Ctrl-C at the terminal signals the command's process group,
            # and a server that died of it left Prefect's client retrying for minutes to
            # record the interrupted run. The command stops it at exit (`stop`).
            start_new_session=True,
        )

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.process.poll()
            if status == _PORT_IN_USE:
                self.process = self._launch()
            elif status is not None:
                raise OrchestratorUnavailableError(
                    f"Prefect's temporary API server exited with status {status}; "
                    + _WHAT_TO_DO.format(timeout=round(timeout))
                )
            elif _answers(f"{self.api_url}/health"):
                return
            time.sleep(0.1)
        raise OrchestratorUnavailableError(
            f"Prefect's temporary API server did not answer within {round(timeout)} s; "
            + _WHAT_TO_DO.format(timeout=round(timeout))
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_WHAT_TO_DO = (
    "allow it longer with PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS (now {timeout}), "
    "or start a server with `prefect server start` and set "
    "PREFECT_API_URL=http://127.0.0.1:4200/api"
)


def start() -> None:
    """Launch the temporary server now, unless Prefect has a server configured, temporary
    servers are turned off, or it was launched already."""
    global _server
    if _server is not None:
        return
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        return  # Prefect's client talks to that server, or says that none is configured
    _server = _Server(
        {
            **os.environ,
            # What Prefect's SubprocessASGIServer gives its server: no UI, the temporary mode.
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            **settings.to_environment_variables(exclude_unset=True),
        }
    )


@contextlib.contextmanager
def running() -> Iterator[None]:
    """While a flow runs: the temporary server launched by `start` (launched now if it was
    not) has answered, and Prefect's client talks to it."""
    start()
    if _server is None:
        yield
        return
    from prefect.logging import get_logger
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    _server.wait(float(get_current_settings().server.ephemeral.startup_timeout_seconds))
    # Said as Prefect says its own (its logging is set up by now, unlike at `start`).
    get_logger().info(
        "Temporary Prefect API server on %s until this command exits", _server.api_url
    )
    with temporary_settings({PREFECT_API_URL: _server.api_url}):
        yield


def _free_port() -> int:
    for _ in range(20):
        port = random.choice(_PORTS)
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OrchestratorUnavailableError(
        f"no free port in {_PORTS.start}-{_PORTS.stop - 1} for Prefect's temporary API server"
    )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
