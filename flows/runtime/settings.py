"""Settings, read once at the edge from ``SENTIMON_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.model.domain_shift import (
    MAX_UNKNOWN_TOKEN_SHARE,
    MIN_MEAN_TOP_PROBABILITY,
    ShiftThresholds,
)

# The repository root: the committed default model and example brands file live there.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUNDLED_MODEL = PROJECT_ROOT / "models" / "default"
BUNDLED_BRANDS = PROJECT_ROOT / "configs" / "brands.toml"
DEFAULT_TRAIN_CONFIG = PROJECT_ROOT / "configs" / "lstm.toml"


class Settings(BaseSettings):
    """All optional; see README "Configuration".

    The database URL is a SecretStr so that a password in it never reaches a log or a repr.
    """

    model_config = SettingsConfigDict(env_prefix="SENTIMON_", extra="ignore")

    database_url: SecretStr | None = None
    data_dir: Path = Path("sentimon-data")
    brands: Path = BUNDLED_BRANDS
    config: Path = Path("sentimon.toml")
    # Processes that analyse a batch: N > 1 cuts each batch in N parts, N - 1 of them analysed
    # in worker processes (README "Performance"); 1 keeps everything in this process (and is
    # right on Dask workers, which are processes already).
    workers: int = Field(default=1, ge=1, le=64)
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
