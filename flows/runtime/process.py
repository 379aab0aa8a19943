"""The per-process runtime: engine, model, spaCy pipeline and brand matcher, built once.

Prefect tasks receive ids and paths, never these objects; each process (a CLI run, a Dask
worker) builds its own runtime on first use and keeps it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from db import repository
from db.engine import make_engine
from flows.runtime.analysis import AnalysisPool
from flows.runtime.config import team_lexicon_path
from flows.runtime.model_dirs import missing_active_model, prepare_database
from flows.runtime.readahead import Readahead
from flows.runtime.settings import (
    Settings,
    model_dir_of,
)
from flows.runtime.workers import freeze_loaded_objects
from pipeline.errors import ArtifactError
from pipeline.model.artifacts import load_scorer
from pipeline.model.predict import Scorer
from pipeline.model.team_lexicon import TeamLexicon, apply_team_lexicon, load_team_lexicon
from pipeline.model.trusted_model import load_registered_scorer
from pipeline.text.brand_file import load_brands
from pipeline.text.brands import BrandMatcher
from pipeline.text.language import LanguageIdentifier


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


def load_team(path: Path | None) -> TeamLexicon | None:
    return load_team_lexicon(path) if path is not None else None


def load_scoring_model(
    model_dir: Path, team_lexicon: Path | None, registered: tuple[str, str] | None = None
) -> Scorer:
    """A version's scorer, with the team lexicon (if any) laid over its own lexicon.

    ``registered`` (version, sha256 from model_versions): the directory must hold exactly the
    version the registry recorded (pipeline/model/trusted_model.py); a directory the user names
    themselves has its manifest only.
    """
    scorer = (
        load_registered_scorer(model_dir, *registered) if registered else load_scorer(model_dir)
    )
    team = load_team(team_lexicon)
    return apply_team_lexicon(scorer, team) if team is not None else scorer


_RUNTIMES: dict[tuple[str, ...], Runtime] = {}
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
            _SCORERS[key] = load_scoring_model(
                model_dir_of(row.path, rt.settings.data_dir),
                team_lexicon_path(rt.settings),
                (row.version, row.sha256),
            )
        return _SCORERS[key]


def get_runtime(settings: Settings | None = None) -> Runtime:
    """Everything a batch needs, built once per process and database."""
    settings = settings or Settings()
    key = (settings.db_url, str(settings.brands), str(settings.lexicon), str(settings.config))
    with _LOCK:
        if key not in _RUNTIMES:
            _RUNTIMES[key] = _build_runtime(settings)
        return _RUNTIMES[key]


def _build_runtime(settings: Settings) -> Runtime:
    engine = make_engine(settings.db_url)
    model_dir = Path(prepare_database(engine, settings.data_dir))
    if not model_dir.exists():
        raise ArtifactError(missing_active_model(model_dir))
    with engine.connect() as conn:
        active = repository.active_model_version(conn)
    assert active is not None  # prepare_database made sure of one
    lexicon = team_lexicon_path(settings)
    workers = settings.workers
    pool = AnalysisPool(model_dir, settings.brands, workers, lexicon) if workers > 1 else None
    if pool is not None:
        pool.warm()  # the workers load their model while this process loads its own
    try:
        scorer = load_scoring_model(model_dir, lexicon, (active.version, active.sha256))
        # Brands are matched on Docs from the model's own tokenizer: one tokenisation per post.
        matcher = BrandMatcher(scorer.nlp, load_brands(settings.brands))
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    runtime = Runtime(settings=settings, engine=engine, scorer=scorer, matcher=matcher, pool=pool)
    freeze_loaded_objects()
    return runtime
