"""Which model version directory a command means: a path, a registered name, or the active one;
and making sure a database has an active one (`prepare_database`).

Apart from flows/runtime/process.py, which loads models, so that a wrong name or a tampered
registry entry is refused before torch and spaCy are imported (seconds), and `models list`
answers without them.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from db import migrate, repository
from db.engine import make_engine
from flows.runtime.settings import (
    BUNDLED_MODEL,
    BUNDLED_MODEL_REF,
    Settings,
    model_dir_of,
    model_path_ref,
)
from pipeline.errors import ArtifactError, UnknownModelVersionError
from pipeline.model.manifest import read_manifest
from pipeline.model.trusted_model import check_registered


def bundled_model_replaced(ref: str, version: str) -> bool:
    """Whether ``ref`` names the bundled model directory, which now holds another version."""
    if ref != BUNDLED_MODEL_REF:
        return False
    try:
        return read_manifest(BUNDLED_MODEL).version != version
    except ArtifactError:
        return False  # a broken install: loading the active version will say what is wrong


def resolve_model_dir(settings: Settings) -> Path:
    """The active model without writing anything: the database's choice if it has one."""
    url = settings.db_url
    if _no_file_yet(url):
        return BUNDLED_MODEL
    engine = make_engine(url)
    try:
        if migrate.current_revision(engine) is None:
            return BUNDLED_MODEL
        with engine.connect() as conn:
            active = repository.active_model_version(conn)
    finally:
        engine.dispose()
    if active is None or bundled_model_replaced(active.path, active.version):
        return BUNDLED_MODEL  # the next `sentimon run` or `init` registers and activates it
    model_dir = model_dir_of(active.path, settings.data_dir)
    if not model_dir.exists():
        raise ArtifactError(missing_active_model(model_dir))
    check_registered(model_dir, active.version, active.sha256)
    return model_dir


def missing_active_model(model_dir: Path) -> str:
    return (
        f"the active model's directory {model_dir} is missing: restore it or activate "
        "another version with `sentimon models activate VERSION`"
    )


def resolve_model(model: str | None, settings: Settings) -> Path:
    """A model directory from a path, a registered version name, or (None) the active model.

    Reads the database only if it exists: naming a version never creates one.
    """
    if model is None:
        return resolve_model_dir(settings)
    path = Path(model)
    if path.is_dir():
        return path
    url = settings.db_url
    if not _no_file_yet(url):
        engine = make_engine(url)
        try:
            if migrate.current_revision(engine) is not None:
                with engine.connect() as conn:
                    for row in repository.list_model_versions(conn):
                        if row.version == model:
                            model_dir = model_dir_of(row.path, settings.data_dir)
                            check_registered(model_dir, row.version, row.sha256)
                            return model_dir
        finally:
            engine.dispose()
    # The CLI adds where the registered versions are listed (flows/cli/errors.py).
    raise UnknownModelVersionError(
        f"{model!r} is neither a model directory nor a registered version"
    )


def registered_version(version: str, settings: Settings) -> repository.ModelVersionRow:
    """The registry's row of ``version``; UnknownModelVersionError (naming the known ones) when
    it is not registered, or when there is no results database yet."""
    url = settings.db_url
    engine = None
    try:
        if not _no_file_yet(url):
            engine = make_engine(url)
            if migrate.current_revision(engine) is not None:
                with engine.connect() as conn:
                    return repository.get_model_version(conn, version)
    finally:
        if engine is not None:
            engine.dispose()
    raise UnknownModelVersionError(
        f"model version {version!r} is not registered: there is no results database yet "
        "(`sentimon init` or a first `sentimon run` makes one)"
    )


def _no_file_yet(url: str) -> bool:
    """A SQLite database whose file does not exist: connecting would create it, and these
    lookups never write."""
    return url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists()


def prepare_database(engine: Engine, data_dir: Path) -> str:
    """Upgrade the schema to head and make sure a model version is active.

    On a new database the committed default model is registered and activated, so that a
    fresh install scores without training. When the active version is the bundled model and an
    upgrade of sentimon brought another one, the new bundled version is registered and
    activated: the old one's files are gone with the old install. Returns the active model's
    directory (``data_dir`` resolves a path model_versions records relative to it).
    """
    migrate.upgrade(engine)
    with engine.begin() as conn:
        active = repository.active_model_version(conn)
        if active is not None and not bundled_model_replaced(active.path, active.version):
            return str(model_dir_of(active.path, data_dir))
        info = read_manifest(BUNDLED_MODEL)
        ref = model_path_ref(info.path, data_dir)
        repository.register_model_version(
            conn, info.version, ref, info.sha256, info.metrics, activate=True
        )
        return str(model_dir_of(ref, data_dir))
