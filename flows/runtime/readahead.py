"""The next batch of a source, read and in analysis while the current one commits.

Only a hint: the next process_batch uses it when the source's committed cursor is still the
one it was read after (and it is fresh); anything else (a retry, another process, a stopped
run) drops it and reads again, so exactly-once rests on the stored cursor as before.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flows.runtime.analysis import PendingAnalysis
from pipeline.records import Post, Reject
from pipeline.sources import SourceBatch

# Older than this, a read-ahead batch is read again: a source may have changed since.
MAX_AGE_S = 30.0


@dataclass(frozen=True)
class Ahead:
    source: str
    cursor: str | None  # the position it was read after
    batch_size: int
    read: SourceBatch
    posts: list[Post]
    rejects: list[Reject]
    pending: PendingAnalysis
    made: float = field(default_factory=time.monotonic)


class Readahead:
    """At most one read-ahead batch per source name."""

    def __init__(self) -> None:
        self._ahead: dict[str, Ahead] = {}
        self._lock = threading.Lock()

    def put(self, ahead: Ahead) -> None:
        with self._lock:
            self._ahead[ahead.source] = ahead

    def update(self, source: str, change: Callable[[PendingAnalysis], PendingAnalysis]) -> None:
        """``source``'s read-ahead batch, if there is one, with ``change`` applied to its
        pending analysis."""
        with self._lock:
            ahead = self._ahead.get(source)
            if ahead is not None:
                self._ahead[source] = dataclasses.replace(ahead, pending=change(ahead.pending))

    def take(self, source: str, cursor: str | None, batch_size: int) -> Ahead | None:
        """The batch read after ``cursor``, if there is a fresh one; any other is dropped."""
        with self._lock:
            ahead = self._ahead.pop(source, None)
        if ahead is None or (ahead.cursor, ahead.batch_size) != (cursor, batch_size):
            return None
        if time.monotonic() - ahead.made > MAX_AGE_S:
            return None
        return ahead
