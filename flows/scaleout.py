"""Task runners for `sentimon run --task-runner`: the default threads, or Dask (prefect-dask).

With Dask, each worker process builds its runtime (engine, spaCy pipeline, model) once, on its
first task, and keeps it (flows/runtime/process.py); tasks carry only file paths and small objects.
Workers report their task runs to the Prefect API named by their own PREFECT_API_URL; a local
cluster started for the run is given this process's API (docs/operations.md, "Scaling out").
"""

from __future__ import annotations

import os
from typing import Any

from pipeline.errors import ClusterUnavailableError, UsageError

TASK_RUNNERS = ("threads", "dask")


def check_task_runner(kind: str, dask_address: str | None = None) -> None:
    """A UsageError for a task runner that is not one, or a Dask address without Dask: the
    CLI calls this before Prefect loads (this module imports Prefect only when it runs)."""
    if kind not in TASK_RUNNERS:
        raise UsageError(f"--task-runner {kind!r}: use one of {', '.join(TASK_RUNNERS)}")
    if kind == "threads" and dask_address:
        raise UsageError("--dask-address needs --task-runner dask")
    if dask_address:
        _check_address(dask_address)


def _check_address(address: str) -> tuple[str, int]:
    """(host, port) of a ``tcp://HOST:PORT`` (or tls://) scheduler address; a UsageError for
    anything else (Dask's own ValueError was a traceback, after Prefect and the model had
    loaded)."""
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        host, port = None, None
    if parts.scheme not in ("tcp", "tls") or not host or port is None:
        raise UsageError(
            f"--dask-address {address!r}: give the scheduler as tcp://HOST:PORT "
            "(its default port is 8786), e.g. tcp://10.0.0.5:8786"
        )
    return host, port


def check_scheduler(address: str, timeout: float = 2.0) -> None:
    """A ClusterUnavailableError when no Dask scheduler answers at ``address`` within
    ``timeout``: left to Dask, nothing listening cost a 30 s wait and a traceback of several
    hundred lines after Prefect and the model had loaded, and a port that accepts connections
    but is not Dask's (Redis's, say) hung the run for good. The CLI calls this before they load.

    A Dask server speaks first: on a new connection it sends its handshake at once, so a
    tcp:// address that accepts the connection and says nothing is not a scheduler. (TLS waits
    for the client to speak first: a tls:// address is only connected to.)
    """
    import socket

    host, port = _check_address(address)
    why = None
    try:
        with socket.create_connection((host, port), timeout=timeout) as probe:
            if not address.startswith("tls://"):
                probe.settimeout(timeout)
                try:
                    if not probe.recv(1):
                        why = "it accepted the connection and closed it: not a Dask scheduler"
                except TimeoutError:
                    why = (
                        "it accepted the connection but sent nothing within "
                        f"{timeout:g} s: not a Dask scheduler"
                    )
    except TimeoutError:
        why = f"nothing answered within {timeout:g} s"
    except OSError as err:
        why = err.strerror or str(err)
    if why is not None:
        raise ClusterUnavailableError(
            f"no Dask scheduler answers at {address} ({why}): give the scheduler's address "
            "(port 8786 unless it was started with another), or start one with `dask "
            "scheduler` and `dask worker tcp://HOST:8786`; leave out --dask-address for a local "
            "cluster"
        )


def make_task_runner(kind: str, dask_address: str | None = None) -> Any | None:
    """The task runner for ``kind``; None for the flow's default (threads).

    ``dask_address`` is a running scheduler (``tcp://HOST:8786``); without one a local cluster
    of one single-threaded worker process per core is started for the run and closed after it.
    """
    check_task_runner(kind, dask_address)
    if kind == "threads":
        return None
    # Imported here: dask and distributed cost a second of start-up that threads runs skip.
    from prefect_dask import DaskTaskRunner

    if dask_address:
        return DaskTaskRunner(address=dask_address)
    # One thread per worker: a worker's threads would share one model and wait on each other.
    return DaskTaskRunner(
        cluster_class=local_cluster,
        cluster_kwargs={"threads_per_worker": 1, "processes": True, "dashboard_address": None},
    )


def local_cluster(**kwargs: Any) -> Any:
    """A distributed.LocalCluster whose workers report to this process's Prefect API.

    Called by the task runner on the first task, once the flow run (and, without
    PREFECT_API_URL, Prefect's temporary server) is up. Without the URL each worker would
    start a temporary server of its own (~10 s each) and its task runs would not show with the
    flow run.
    """
    from distributed import LocalCluster

    from flows.runtime.parent_death import interrupts_ignored

    url = prefect_api_url()
    # A Dask worker is a process already: no analysis pool of its own unless asked for.
    env = {"SENTIMON_WORKERS": os.environ.get("SENTIMON_WORKERS", "1")}
    with interrupts_ignored():  # Ctrl-C is this process's to handle; it closes the cluster
        return LocalCluster(env={**env, "PREFECT_API_URL": url} if url else env, **kwargs)


def prefect_api_url() -> str | None:
    """The API this process talks to: PREFECT_API_URL, or the temporary server it started."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if url:
        return str(url)
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the process's one temporary server (a singleton)
    return server.api_url if server.running else None
