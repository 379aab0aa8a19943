"""The analysis pool: the CPU-bound middle of a micro-batch (pipeline/analysis.py) run in
this process, or split between it and a worker process.

Why a worker process: on the 2-core machine a batch's analysis is ~70% of its time and runs on
one core (Python code holds the GIL; torch's LSTM is fastest on one thread, see
pipeline/model/predict.py). With ``SENTIMON_WORKERS=2`` the batch's posts are cut in two parts, one
analysed here and one in a worker process that holds its own copy of the model, spaCy pipeline
and brand matcher (N workers: N parts, N - 1 worker processes); the transaction, the cursor and
everything else stay in this process, so a batch is still exactly one commit. README
"Performance" has the measurements.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from flows.runtime.workers import (
    WorkerResult,
    analyse_in_worker,
    start_workers,
    take_early,
    worker_key,
)
from pipeline.analysis import Analysis, analyse
from pipeline.model.predict import Scorer
from pipeline.text.brands import BrandMatcher
from pipeline.text.language import LanguageIdentifier

log = logging.getLogger(__name__)

# Below this many posts a batch is analysed here alone: shipping it costs more than it saves.
MIN_SPLIT = 200
# A batch left here while the workers load is analysed this many posts at a time, and what is
# left of it is split as soon as they are ready (~0.15 s of analysis on the 2-core machine).
DEFERRED_SLICE = 1_000


# The share of a batch this process keeps while it commits the batch before (a read-ahead
# batch, `AnalysisPool.start` with ``local_share=None``), to start with: on 2 cores the commit
# is about a quarter to a third of the work. From then on the measured balance moves it
# (`AnalysisPool._balance`): the commit's cost depends on the database and grows with its
# tables.
COMMIT_SHARE = 0.25
COMMIT_SHARE_RANGE = (0.05, 0.5)


@dataclass(frozen=True)
class PendingAnalysis:
    """A batch whose parts ``remote`` ((start, end, future) each) are being analysed in the
    workers; the first ``n_local`` texts are left for this process."""

    texts: list[str]
    hints: list[Sequence[str]]
    n_local: int
    remote: list[tuple[int, int, Future[WorkerResult]]]
    # Left whole to this process because the workers were still loading: `resume` may split
    # it once they are ready, and `finish` splits what is left of it then.
    deferred: bool = False
    local_share: float | None = 0.5  # the share it is split with (None: the commit share)


class AnalysisPool:
    """``processes - 1`` worker processes that analyse all but one part of each batch.

    The workers load the same model directory and brands file as this process's runtime; they
    start on first use (a few seconds: torch, spaCy and the model load there too), unless
    `sentimon run` started them before (flows/runtime/workers.py).
    """

    def __init__(
        self,
        model_dir: Path,
        brands_path: Path,
        processes: int = 2,
        team_lexicon: Path | None = None,
    ) -> None:
        if processes < 2:
            raise ValueError("a pool needs 2 processes or more (this one and a worker)")
        self.model_dir, self.brands_path, self.processes = model_dir, brands_path, processes
        self.team_lexicon = team_lexicon
        self._executor: ProcessPoolExecutor | None = None
        # One no-op task per worker, done once the worker has loaded its runtime.
        self._ready: list[Future[None]] = []
        self.broken = False
        # The share of a batch analysed here while this process commits another, and when the
        # worker finished its last part (with one worker: `_balance`).
        self.commit_share = COMMIT_SHARE
        self._worker_free_at: float | None = None

    def warm(self) -> None:
        """Start the worker processes now rather than at the first batch big enough to split.

        Called before this process loads its own model, so that the two loads overlap: at the
        first batch, a worker started then kept this process waiting ~1.6 s (its torch, spaCy
        and model load) on a 2-core machine, ~6% of a run of 200,000 posts.
        """
        if self.broken:
            return
        try:
            self._start()
        except BrokenProcessPool:
            self._lost_worker()

    def ready(self) -> bool:
        """Whether every worker has loaded its runtime (starting them if they were not)."""
        try:
            self._start()
        except BrokenProcessPool:
            self._lost_worker()
        return not self.broken and all(future.done() for future in self._ready)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until every worker has loaded its runtime; False if ``timeout`` came first."""
        self.ready()
        done = concurrent.futures.wait(self._ready, timeout=timeout).done
        return len(done) == len(self._ready) and self.ready()

    def start(
        self, texts: Sequence[str], hints: Sequence[Sequence[str]], local_share: float | None
    ) -> PendingAnalysis:
        """Send all but the first ``local_share`` of ``texts`` to the workers; `finish` does
        the rest here and collects theirs. ``None``: this process will commit another batch
        meanwhile, and keeps ``commit_share``. Small batches stay here whole, and so does a
        batch that comes while the workers are still loading (`resume` can split it later).

        A worker takes a few seconds to load torch, spaCy and the model. Waiting for it kept
        the first batch of a run waiting as long (bench/run.py's ``first_batches_s``); this
        process analyses meanwhile instead, on its own core.
        """
        texts, hints = list(texts), list(hints)
        if self.broken or len(texts) < MIN_SPLIT:
            return PendingAnalysis(texts, hints, len(texts), [])
        if not self.ready():
            return PendingAnalysis(texts, hints, len(texts), [], not self.broken, local_share)
        share = self.commit_share if local_share is None else local_share
        n_local = round(len(texts) * share)
        size = -(-(len(texts) - n_local) // (self.processes - 1))  # ceiling
        cuts = [(a, min(a + size, len(texts))) for a in range(n_local, len(texts), size)]
        try:
            executor = self._start()
            remote = [
                (a, b, executor.submit(analyse_in_worker, texts[a:b], hints[a:b])) for a, b in cuts
            ]
        except BrokenProcessPool:  # it died after the previous batch
            self._lost_worker()
            return PendingAnalysis(texts, hints, len(texts), [])
        return PendingAnalysis(texts, hints, n_local, remote, local_share=local_share)

    def resume(self, pending: PendingAnalysis, local_share: float | None) -> PendingAnalysis:
        """A batch deferred while the workers loaded, split now if they are ready (else as
        it was); any other batch as it is."""
        if not pending.deferred or not self.ready():
            return pending
        return self.start(pending.texts, pending.hints, local_share)

    def finish(
        self,
        pending: PendingAnalysis,
        scorer: Scorer,
        language: LanguageIdentifier,
        matcher: BrandMatcher,
    ) -> Analysis:
        """Analyse the local part here, then collect the workers' parts, in input order.

        A batch deferred while the workers loaded is analysed here a slice at a time, and what
        is left of it once they are ready is split (their first second or two of a run: the
        worker would otherwise wait for the next batch). A worker that died (killed, out of
        memory) is not restarted: its part is analysed here, and so are later batches, with a
        warning.
        """
        slices: list[Analysis] = []
        if pending.deferred:
            texts, hints, at = pending.texts, pending.hints, 0
            while len(texts) - at > DEFERRED_SLICE and not self.ready() and not self.broken:
                end = at + DEFERRED_SLICE
                slices.append(analyse(scorer, language, matcher, texts[at:end], hints[at:end]))
                at = end
            pending = self.start(texts[at:], hints[at:], pending.local_share)
        texts, hints, n = pending.texts, pending.hints, pending.n_local
        result = analyse(scorer, language, matcher, texts[:n], hints[:n])
        for a, b, future in pending.remote:
            waited = time.perf_counter()
            try:
                part, started, ended = future.result()
            except BrokenProcessPool:
                self._lost_worker()
                part = analyse(scorer, language, matcher, texts[a:b], hints[a:b])
            else:
                waited = time.perf_counter() - waited
                if len(pending.remote) == 1:
                    self._balance(pending, waited, started, ended)
            result = result + part
        return Analysis.join([*slices, result]) if slices else result

    def _balance(
        self, pending: PendingAnalysis, waited: float, started: float, ended: float
    ) -> None:
        """Move ``commit_share`` towards the share at which neither process waits for the
        other, after a batch split between this process and one worker.

        This process waited ``waited`` s for the worker's part: the worker has too much. The
        worker sat idle between its last part and this one: this process has too much (its
        commit, the next read). Moving half the difference's worth of posts (at the measured
        speed) would even them out; an eighth of that is moved per batch, as the times of
        single batches are noisy and what one move changes shows only two batches later.
        Measured (bench/run.py --posts 200000 --only e2e, in turns, SQLite): from 0.25 the
        share settled at 0.15-0.21, and the runs were 3% faster (docs/performance.md).
        """
        idle = 0.0 if self._worker_free_at is None else max(0.0, started - self._worker_free_at)
        self._worker_free_at = ended
        if pending.local_share is not None or pending.n_local == len(pending.texts):
            return  # split evenly on purpose (nothing committed meanwhile), or not split
        remote_share = 1 - pending.n_local / len(pending.texts)
        whole = (ended - started) / remote_share  # the batch's analysis in one process
        if whole > 0:
            moved = self.commit_share + (waited - idle) / (2 * whole) / 8
            self.commit_share = min(max(moved, COMMIT_SHARE_RANGE[0]), COMMIT_SHARE_RANGE[1])

    def _lost_worker(self) -> None:
        if not self.broken:
            log.warning("an analysis worker died: analysing in this process from now on")
        self.broken = True

    def _start(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # Started by `sentimon run` before the flow (flows/runtime/workers.py), or now.
            key = worker_key(self.model_dir, self.brands_path, self.team_lexicon, self.processes)
            self._executor, self._ready = take_early(key) or start_workers(key)
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
