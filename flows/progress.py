"""Progress of a run: a rich bar on the terminal and a Prefect progress artifact.

The total is known only when the run is capped (``--max-batches``); otherwise the bar counts
batches and posts, and the artifact moves to 100% when the source has nothing new.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING
from uuid import UUID

from prefect.artifacts import update_progress_artifact
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from flows.runtime.totals import BatchReport


class BatchProgress:
    def __init__(self, source: str, max_batches: int | None, enabled: bool) -> None:
        self.max_batches = max_batches
        self.batches = 0
        self.posts = 0
        self._bar: Progress | None = None
        if enabled:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("batches · {task.fields[posts]:,} records"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task(source, total=max_batches, posts=0)

    def __enter__(self) -> BatchProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, report: BatchReport) -> None:
        self.batches += 1
        self.posts += report.n_read
        if self._bar is not None:
            self._bar.update(self._task, advance=1, posts=self.posts)

    def publish(self, artifact_id: UUID) -> None:
        """Move the flow run's progress artifact (only meaningful when the run is capped)."""
        if self.max_batches:
            update_progress_artifact(artifact_id, 100.0 * self.batches / self.max_batches)

    @staticmethod
    def finish(artifact_id: UUID) -> None:
        update_progress_artifact(artifact_id, 100.0)
