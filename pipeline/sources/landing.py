"""The landing folder as a boundary: which entries may be read, and opening them safely.

A landing folder is written by other people's processes, so nothing in it is trusted: a
symbolic link may point anywhere (``/etc/passwd``), a FIFO blocks whoever opens it, a
directory or device named ``x.jsonl`` is no file at all. Such entries are refused with a
reason and never opened; the run reports how many it refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO


class NotAFileError(OSError):
    """An entry turned out not to be a regular file when it was opened."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} is {reason}")
        self.reason = reason


def refusal(entry: Path, root: Path) -> str | None:
    """Why ``entry`` of the landing folder ``root`` must not be read; None when it may be.

    Only stat calls: a FIFO is never opened here. An entry that vanished is not refused
    (the caller finds it gone when it reads and skips it).
    """
    try:
        info = entry.lstat()
        if stat.S_ISLNK(info.st_mode):
            try:
                target = entry.resolve(strict=True)
            except (OSError, RuntimeError):  # RuntimeError: a symlink loop
                return "a broken symbolic link"
            if not target.is_relative_to(root.resolve()):
                return f"a symbolic link to {target}, outside the landing folder"
            info = target.stat()
    except FileNotFoundError:
        return None
    return _kind_refusal(info.st_mode)


def _kind_refusal(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: Path) -> IO[bytes]:
    """Open ``path`` for reading only if it is a regular file, without ever blocking.

    O_NONBLOCK makes opening a FIFO return at once (the entry may have been swapped for one
    since it was listed); fstat on the open descriptor then decides, so no check-then-open
    race can make a run hang.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        reason = _kind_refusal(os.fstat(fd).st_mode)
        if reason is not None:
            raise NotAFileError(path.name, reason)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
