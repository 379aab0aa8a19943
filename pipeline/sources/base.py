"""The one interface every reader implements, and what a read returns.

A cursor is an opaque string the source alone understands. The flows layer stores it in the
results database in the same transaction as the batch it ends, so a crash before the commit
simply reads the same records again; a crash after it resumes after them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from pipeline.records import RawRecord

RAW_KEEP = 2000  # characters of a bad record kept for the rejects table


@dataclass(frozen=True, slots=True)
class SourceBatch:
    records: list[RawRecord]
    cursor_to: str | None  # position after the last record; None when nothing was read
    # What acknowledge() confirms (Redis stream entry ids); empty for sources whose position
    # lives in the results database.
    ack_ids: tuple[str, ...] = ()


class Source(Protocol):
    """What every reader offers: a name, batches after a cursor, a post-commit hook, close."""

    name: str
    # Whether a read depends on the cursor alone (files, SQL), so that the next batch may be
    # read before this one commits (flows/runtime/batch.py's read-ahead). A Redis consumer
    # group hands out entries by reading them: no read-ahead there.
    readahead: ClassVar[bool]
    # What the run should tell its user about the input (a file that landed late or was
    # rewritten, one that holds binary data): one line each, in the order found, each once.
    notices: list[str]

    def read_batch(self, cursor: str | None, limit: int) -> SourceBatch:
        """Up to ``limit`` records after ``cursor`` (None: from the beginning)."""
        ...

    def acknowledge(self, batch: SourceBatch) -> None:
        """Called once the batch's database transaction has committed.

        Sources whose position lives in the results database (files, SQL) do nothing here;
        a Redis stream XACKs the batch's entries. A crash between the commit and this call
        re-delivers the batch, which the idempotent writes absorb.
        """
        ...

    def close(self) -> None:
        """Release what the reader holds (open files, connections); called once per run."""
        ...
