"""The per-process runtime: engine, model, spaCy pipeline and brand matcher, built once.

Prefect tasks receive ids and paths, never these objects; each process (a CLI run, a Dask
worker) builds its own runtime on first use and keeps it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from db import migrate, repository
from db.engine import make_engine
from flows.analysis import AnalysisPool
from flows.readahead import Readahead
from flows.settings import BUNDLED_MODEL, Settings
from pipeline.artifacts import read_manifest
from pipeline.brands import BrandMatcher, load_brands
from pipeline.errors import ArtifactError
from pipeline.language import LanguageIdentifier
from pipeline.predict import Scorer
from pipeline.trusted_model import check_registered, load_registered_scorer


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    scorer: Scorer
    matcher: BrandMatcher
    # Not English -> stored, not scored. Its models load on first use, not here.
    language: LanguageIdentifier = field(default_factory=LanguageIdentifier)
    # SENTIMON_WORKERS=N > 1: all but one part of each batch is analysed in worker processes.
    pool: AnalysisPool | None = None
    # With a pool: the next batch of a source, in analysis while the current one commits.
    readahead: Readahead = field(default_factory=Readahead)

    @property
    def model_version(self) -> str:
        return self.scorer.version


def prepare_database(engine: Engine) -> str:
    """Upgrade the schema to head and make sure a model version is active.

    On a new database the committed default model is registered and activated, so that a
    fresh install scores without training. Returns the active model's directory.
    """
    migrate.upgrade(engine)
    with engine.begin() as conn:
        active = repository.active_model_version(conn)
        if active is not None:
            return active.path
        info = read_manifest(BUNDLED_MODEL)
        repository.register_model_version(
            conn, info.version, str(info.path), info.sha256, info.metrics, activate=True
        )
        return str(info.path)


def resolve_model_dir(settings: Settings) -> Path:
    """The active model without writing anything: the database's choice if it has one."""
    url = settings.db_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return BUNDLED_MODEL
    engine = make_engine(url)
    try:
        if migrate.current_revision(engine) is None:
            return BUNDLED_MODEL
        with engine.connect() as conn:
            active = repository.active_model_version(conn)
    finally:
        engine.dispose()
    if active is None:
        return BUNDLED_MODEL
    check_registered(Path(active.path), active.version, active.sha256)
    return Path(active.path)


_RUNTIMES: dict[tuple[str, str], Runtime] = {}
_SCORERS: dict[tuple[str, str], Scorer] = {}
_LOCK = threading.Lock()


def get_scorer(rt: Runtime, version: str | None) -> Scorer:
    """The scorer of a registered model version (the active one when None), loaded once."""
    if version is None or version == rt.model_version:
        return rt.scorer
    with rt.engine.connect() as conn:
        row = repository.get_model_version(conn, version)
    key = (rt.settings.db_url, version)
    with _LOCK:
        if key not in _SCORERS:
            _SCORERS[key] = load_registered_scorer(Path(row.path), row.version, row.sha256)
        return _SCORERS[key]


def get_runtime(settings: Settings | None = None) -> Runtime:
    """Everything a batch needs, built once per process and database."""
    settings = settings or Settings()
    key = (settings.db_url, str(settings.brands))
    with _LOCK:
        if key not in _RUNTIMES:
            _RUNTIMES[key] = _build_runtime(settings)
        return _RUNTIMES[key]


def _build_runtime(settings: Settings) -> Runtime:
    engine = make_engine(settings.db_url)
    model_dir = Path(prepare_database(engine))
    if not model_dir.exists():
        raise ArtifactError(
            f"the active model's directory {model_dir} is missing: restore it or activate "
            "another version with `sentimon models activate VERSION`"
        )
    with engine.connect() as conn:
        active = repository.active_model_version(conn)
    assert active is not None  # prepare_database made sure of one
    scorer = load_registered_scorer(model_dir, active.version, active.sha256)
    # Brands are matched on Docs from the model's own tokenizer: one tokenisation per post.
    matcher = BrandMatcher(scorer.nlp, load_brands(settings.brands))
    workers = settings.workers
    pool = AnalysisPool(model_dir, settings.brands, workers) if workers > 1 else None
    return Runtime(settings=settings, engine=engine, scorer=scorer, matcher=matcher, pool=pool)
