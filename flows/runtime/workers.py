"""The analysis worker processes: how they start, what each loads, and a start made early.

A worker loads torch, spaCy, the model and the language identifier: ~2 s of one core. The
pool (flows/runtime/analysis.py) starts its workers when the runtime is built, so a run's
first batches were analysed by the pipeline process alone while they loaded; `sentimon run`
calls `start_early` as soon as its checks pass instead, and the workers load while Prefect and
the flow start. This module imports neither torch nor spaCy: the command has not loaded them
yet when it starts the workers, and the spawned workers import it first.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from flows.runtime.parent_death import end_with_parent, interrupts_ignored

if TYPE_CHECKING:
    from pipeline.analysis import Analysis
    from pipeline.model.predict import Scorer
    from pipeline.text.brands import BrandMatcher
    from pipeline.text.language import LanguageIdentifier

log = logging.getLogger(__name__)

# What a worker sends back: the analysis of its part, and when (time.monotonic, the same clock
# in every process of the machine) it started and finished it.
WorkerResult = tuple["Analysis", float, float]
# What the workers load: the model directory, the brands file and the team lexicon (or None),
# as strings (they are pickled to each worker), and how many processes analyse (workers + 1).
WorkerKey = tuple[str, str, str | None, int]


def worker_key(
    model_dir: Path, brands_path: Path, team_lexicon: Path | None, processes: int
) -> WorkerKey:
    return (
        str(Path(model_dir).resolve()),
        str(Path(brands_path).resolve()),
        str(Path(team_lexicon).resolve()) if team_lexicon is not None else None,
        processes,
    )


def start_workers(key: WorkerKey) -> tuple[ProcessPoolExecutor, list[Future[None]]]:
    """``processes - 1`` worker processes, spawned now; one future per worker, done once it
    has loaded what it analyses with."""
    model_dir, brands_path, team_lexicon, processes = key
    # spawn, not fork: a forked copy of a process holding torch threads and database
    # connections is not safe, and the worker needs none of this process's state.
    executor = ProcessPoolExecutor(
        max_workers=processes - 1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(model_dir, brands_path, team_lexicon),
    )
    # One task per worker spawns each (the executor starts a process per task while none is
    # idle); each is done once its worker's initializer has run. Spawned with interrupts
    # ignored: Ctrl-C in the terminal is for the command, which stops its workers itself.
    with interrupts_ignored():
        ready = [executor.submit(_ready) for _ in range(processes - 1)]
    return executor, ready


_EARLY: dict[WorkerKey, tuple[ProcessPoolExecutor, list[Future[None]]]] = {}
_EARLY_LOCK = threading.Lock()


def start_early(key: WorkerKey) -> None:
    """Start the workers of ``key`` now, for the pool that `take_early` gives them to."""
    with _EARLY_LOCK:
        if key not in _EARLY:
            _EARLY[key] = start_workers(key)


def take_early(key: WorkerKey) -> tuple[ProcessPoolExecutor, list[Future[None]]] | None:
    """The workers `start_early` started for ``key``, if any. Workers started for another
    key (a model activated meanwhile) are stopped: nothing would use them."""
    with _EARLY_LOCK:
        found = _EARLY.pop(key, None)
        others = list(_EARLY.values())
        _EARLY.clear()
    for executor, _ in others:
        executor.shutdown(wait=False, cancel_futures=True)
    return found


# The worker process's own runtime, built by _init_worker.
_WORKER: tuple[Scorer, LanguageIdentifier, BrandMatcher] | None = None
_FROZEN = False


def freeze_loaded_objects() -> None:
    """Exempt what is alive now (torch, spaCy, the model and its vocabulary: hundreds of
    thousands of objects) from the garbage collector's full passes, once per process.

    Each full pass walked them all although they live as long as the process: ~8% of the
    analysis (bench/gc_freeze.py). Once only, so that a process building many runtimes (the
    tests) does not pin each one.
    """
    global _FROZEN
    if not _FROZEN:
        _FROZEN = True
        gc.freeze()


def _init_worker(model_dir: str, brands_path: str, team_lexicon: str | None = None) -> None:
    global _WORKER
    started = time.perf_counter()
    # First: a parent killed outright (SIGKILL) would leave this ~470 MB process waiting on its
    # queue for good; one killed while this process was still importing ends it here.
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:  # None: called here, not in a worker
        end_with_parent(parent.pid)
    from pipeline.model.artifacts import load_scorer
    from pipeline.model.team_lexicon import apply_team_lexicon, load_team_lexicon
    from pipeline.text.brand_file import load_brands
    from pipeline.text.brands import BrandMatcher
    from pipeline.text.language import LanguageIdentifier

    scorer = load_scorer(Path(model_dir))
    if team_lexicon is not None:
        scorer = apply_team_lexicon(scorer, load_team_lexicon(Path(team_lexicon)))
    matcher = BrandMatcher(scorer.nlp, load_brands(Path(brands_path)))
    language = LanguageIdentifier()
    language.load()  # now, not in the first part it analyses: `ready` means ready
    _WORKER = (scorer, language, matcher)
    freeze_loaded_objects()
    log.debug("analysis worker ready in %.1f s", time.perf_counter() - started)


def _ready() -> None:
    """A no-op: submitting it makes the executor spawn a worker, which runs its initializer."""


def analyse_in_worker(texts: list[str], hints: list[Sequence[str]]) -> WorkerResult:
    from pipeline.analysis import analyse

    assert _WORKER is not None, "the pool's initializer builds the worker runtime"
    started = time.monotonic()
    return analyse(*_WORKER, texts, hints), started, time.monotonic()
