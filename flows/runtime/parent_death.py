"""Child processes that end when the process that started them dies, even by SIGKILL, and
that leave Ctrl-C to it (`interrupts_ignored`).

A parent killed with SIGKILL (``kill -9``, the out-of-memory killer) cannot stop its children,
and neither the analysis worker nor Prefect's temporary API server notices on its own: the
worker waits on a queue whose write end it holds too, the server just goes on serving, ~700 MB
between them (multiprocessing's resource tracker ends by itself once the worker has).

On Linux the kernel signals a child whose parent dies when the child asked for it
(prctl(PR_SET_PDEATHSIG)). It also signals when only the parent *thread* that started the
child ends (prctl(2)): the analysis pool can be started from a task runner's thread that ends
long before its process. So the signal is a private one (SIGUSR2) whose handler compares
``os.getppid()`` with the parent's pid: a parent thread's end (the child is handed to another
thread of the same process, and is signalled again when that one ends) is ignored, the parent
process's end sends this process SIGTERM, which a worker dies of and uvicorn shuts down on.

Elsewhere than Linux nothing is armed: the children outlive a parent killed outright there.

``python -m flows.runtime.parent_death PARENT_PID MODULE ARG...`` runs ``python -m MODULE
ARG...`` armed from its first line (flows/api_server.py starts the server this way).
"""

from __future__ import annotations

import contextlib
import os
import runpy
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_SIGNAL = signal.SIGUSR2  # used by none of sentimon, Prefect, uvicorn, torch or spaCy


def end_with_parent(parent_pid: int) -> None:
    """Send this process SIGTERM when process ``parent_pid``, its parent, dies; at once when
    it already has. Call from the main thread (Python's signal handlers live there)."""
    if sys.platform != "linux":
        return
    import ctypes

    def parent_gone(signum: int, frame: FrameType | None) -> None:
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(_SIGNAL, parent_gone)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(_SIGNAL), 0, 0, 0) != 0:
        return  # not allowed here (a seccomp sandbox): the child lives on as before
    # The parent may have died before prctl: the kernel signals no one for that.
    parent_gone(_SIGNAL, None)


@contextlib.contextmanager
def interrupts_ignored() -> Iterator[None]:
    """Processes spawned inside ignore SIGINT, as they inherit its disposition.

    Ctrl-C at the terminal signals the whole process group: an analysis worker or a Dask
    worker that took it printed a traceback of whatever it was doing, and one busy with a
    batch died under it. This process alone handles the interrupt, and ends its children as
    it exits. Signal dispositions can only change in the main thread: children started from
    another thread are left as they are.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _main(argv: list[str]) -> None:
    parent_pid, module, *args = argv
    end_with_parent(int(parent_pid))
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _main(sys.argv[1:])
