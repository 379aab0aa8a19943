"""Settings, read once at the edge from ``SENTIMON_*`` environment variables."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.errors import ConfigError
from pipeline.model.domain_shift import (
    MAX_UNKNOWN_TOKEN_SHARE,
    MIN_MEAN_TOP_PROBABILITY,
    ShiftThresholds,
)

# The wheel ships the repository's models/default and configs/ files under this folder of the
# pipeline package (pyproject.toml, force-include); the program never writes there.
PACKAGE_DATA = "_bundled"


def bundled(relative: str) -> Path:
    """A file the wheel ships as package data, by its path in the repository.

    In an installed wheel it lies in ``pipeline/_bundled``; an editable install of a checkout
    has no copy, so the repository's own folder beside the package is used.
    """
    package = resources.files("pipeline")
    shipped = package.joinpath(PACKAGE_DATA, *relative.split("/"))
    if shipped.is_dir() or shipped.is_file():
        return Path(str(shipped))  # pip installs wheels unzipped: a real directory
    return Path(str(package)).parent / relative


BUNDLED_MODEL = bundled("models/default")
BUNDLED_BRANDS = bundled("configs/brands.toml")
DEFAULT_TRAIN_CONFIG = bundled("configs/lstm.toml")

# model_versions.path of the bundled model: it moves with the installation, so it is recorded
# by name; a version under the data directory is recorded relative to it (a moved data folder
# keeps working), any other directory as it was given.
BUNDLED_MODEL_REF = "bundled:models/default"


# `sentimon demo`'s source and the landing folder it reads, under SENTIMON_DATA_DIR.
DEMO_SOURCE = "demo"


def demo_landing(data_dir: Path) -> Path:
    return data_dir / "landing" / DEMO_SOURCE


def model_path_ref(model_dir: Path, data_dir: Path) -> str:
    """What model_versions.path records for ``model_dir``."""
    model_dir = Path(model_dir).resolve()
    if model_dir == BUNDLED_MODEL.resolve():
        return BUNDLED_MODEL_REF
    if model_dir.is_relative_to(data_dir.resolve()):
        return model_dir.relative_to(data_dir.resolve()).as_posix()
    return str(model_dir)


def model_dir_of(ref: str, data_dir: Path) -> Path:
    """The directory a model_versions.path names (the inverse of ``model_path_ref``)."""
    if ref.startswith("bundled:"):
        return bundled(ref.removeprefix("bundled:"))
    path = Path(ref)
    return path if path.is_absolute() else data_dir / path


def default_workers() -> int:
    """One analysis process per core, at most 4 (docs/performance.md: 1.6x on 2 cores)."""
    return max(1, min(os.cpu_count() or 1, 4))


class Settings(BaseSettings):
    """All optional; see README "Configuration".

    The database URL is a SecretStr so that a password in it never reaches a log or a repr.
    """

    # SENTIMON_CONFIG= (empty) means unset, not the path ".": a folder, or a database in it.
    model_config = SettingsConfigDict(env_prefix="SENTIMON_", extra="ignore", env_ignore_empty=True)

    database_url: SecretStr | None = None
    data_dir: Path = Path("sentimon-data")
    brands: Path = BUNDLED_BRANDS
    config: Path = Path("sentimon.toml")
    # Processes that analyse a batch: N > 1 cuts each batch in N parts, N - 1 of them analysed
    # in worker processes (docs/performance.md); 1 keeps everything in this process (and is
    # right on Dask workers, which are processes already). Default: the cores, at most 4.
    workers: int = Field(default_factory=default_workers, ge=1, le=64)
    # When a source's text counts as unlike the training data (pipeline/model/domain_shift.py says
    # how the defaults were measured; bench/ood_thresholds.py measures them for any model).
    max_unknown_token_share: float = Field(default=MAX_UNKNOWN_TOKEN_SHARE, gt=0, le=1)
    min_mean_top_probability: float = Field(default=MIN_MEAN_TOP_PROBABILITY, ge=0, lt=1)
    # A team lexicon (pipeline/model/team_lexicon.py) laid over the model's lexicon when scoring;
    # overrides `lexicon` in sentimon.toml.
    lexicon: Path | None = None

    @property
    def db_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'sentimon.db'}"

    @property
    def shift_thresholds(self) -> ShiftThresholds:
        return ShiftThresholds(self.max_unknown_token_share, self.min_mean_top_probability)

    @property
    def models_dir(self) -> Path:
        """Where `sentimon train` writes new model versions."""
        return self.data_dir / "models"


def load_settings() -> Settings:
    """The SENTIMON_* settings; a value of the wrong kind is one ConfigError naming it (what
    every command reads them with: a traceback would otherwise be the whole answer)."""
    try:
        settings = Settings()
    except ValidationError as err:
        first = err.errors()[0]
        name = "SENTIMON_" + "_".join(str(part) for part in first["loc"]).upper()
        raise ConfigError(f"{name}={first.get('input')!r}: {first['msg']}") from None
    # A URL SQLAlchemy cannot parse, or of another database, is one line here rather than a
    # traceback from whichever command first opens it (`sentimon run` checks more, later).
    from flows.runtime.preflight import check_database_url

    check_database_url(settings.db_url)
    return settings
