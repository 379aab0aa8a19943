"""Training hyperparameters (`TrainConfig`), read and checked without torch: `sentimon train`
refuses a missing or misspelt config file in a second, before Prefect and torch load."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.model.lstm_choices import POOLINGS, PRIOR_MODES

FREEZE_MODES = ("none", "pretrained", "extra")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters; saved beside the weights. See configs/lstm.toml for why each value."""

    seed: int = 13
    epochs: int = 8
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    min_freq: int = 2
    max_vocab: int = 20000
    embed_dim: int = 100
    hidden_size: int = 96
    num_layers: int = 1
    dropout: float = 0.3
    patience: int = 2
    max_tokens: int = 64
    grad_clip: float = 1.0
    schedule: str = "constant"  # or "linear": decay to zero over `epochs`
    calibrate: bool = True
    threads: int = 2
    # Seeds the train/validation/test split only, so that trying another training seed keeps
    # the same test texts.
    split_seed: int = 13
    lexicon: bool = False  # VADER lexicon features per token (pipeline.model.lexicon)
    lexicon_head: bool = False  # and their summary straight into the classifier head
    lexicon_prior: float = 0.0  # weight of the lexicon's compound added to the logits
    # Its weight when the compound is negative (unset: lexicon_prior).
    lexicon_prior_negative: float | None = None
    # The prior's compound weighs valences 0.5 before the first "but" and 1.5 after it (VADER).
    prior_but_rule: bool = False
    prior_mode: str = "logits"  # how (pipeline.model.lstm.PRIOR_MODES)
    word_dropout: float = 0.0  # share of tokens replaced by <unk> in training
    text_dropout: float = 0.0  # share of texts read through their lexicon features only
    pooling: str = "maxmean"
    label_smoothing: float = 0.0
    # Annotator confidence: "weight" scales each sample's loss by it, "ignore" does not.
    confidence: str = "weight"
    # Brand names/aliases/handles/hashtags of the brands file become one <brand> token.
    mask_brands: bool = False
    # "!" tokens are left out of the model's input: emphasis must never flip a label.
    drop_exclamations: bool = False
    # Pretrained word vectors the embeddings start from (pipeline.model.vectors), "" for none. With
    # vectors, embed_dim is theirs, and ``extra_vectors`` of their most frequent words beyond
    # the corpus vocabulary get rows too.
    vectors: str = ""
    extra_vectors: int = 0
    # Lexicons merged into the features' valences (pipeline.model.lexicon.load_lexicon),
    # VADER first;
    # "afinn" and "emoji" read the npm package sentiment@5.0.2 from ``lexicon_dir``.
    lexicons: tuple[str, ...] = ("vader",)
    lexicon_dir: str = ""
    # Runs of one repeated symbol token ("👎👎👎") kept up to this length, 0 for no cap.
    max_token_run: int = 0
    # Which embedding rows training may change: "none" frozen, "pretrained" freezes the rows
    # that came from the vectors (the rest, e.g. <brand>, emoji, learn), "extra" freezes only
    # the rows beyond the corpus vocabulary (corpus words fine-tune, others keep their place
    # in the vector space).
    freeze_embeddings: str = "none"

    def __post_init__(self) -> None:
        object.__setattr__(self, "lexicons", tuple(self.lexicons))  # TOML gives a list
        if self.schedule not in ("constant", "linear"):
            raise ConfigError(f"unknown schedule {self.schedule!r}: use 'constant' or 'linear'")
        if self.prior_mode not in PRIOR_MODES:
            raise ConfigError(
                f"unknown prior_mode {self.prior_mode!r}: use one of {list(PRIOR_MODES)}"
            )
        if self.pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {self.pooling!r}: use one of {list(POOLINGS)}")
        if self.freeze_embeddings not in FREEZE_MODES:
            raise ConfigError(
                f"unknown freeze_embeddings {self.freeze_embeddings!r}: use one of "
                f"{list(FREEZE_MODES)}"
            )
        if self.confidence not in ("weight", "ignore"):
            raise ConfigError(f"unknown confidence {self.confidence!r}: use 'weight' or 'ignore'")
        if (self.lexicon_head or self.lexicon_prior or self.lexicon_prior_negative) and (
            not self.lexicon
        ):
            raise ConfigError("lexicon_head and lexicon_prior need lexicon = true")
        if self.lexicon_prior < 0 or (self.lexicon_prior_negative or 0) < 0:
            raise ConfigError("lexicon_prior and lexicon_prior_negative cannot be negative")
        positive = ("epochs", "batch_size", "min_freq", "embed_dim", "hidden_size", "num_layers")
        too_small = [
            name for name in (*positive, "max_tokens", "threads") if getattr(self, name) < 1
        ]
        shares = ("dropout", "word_dropout", "text_dropout", "label_smoothing")
        bad_shares = [name for name in shares if not 0 <= getattr(self, name) < 1]
        if too_small or bad_shares:
            raise ConfigError(
                f"training settings out of range: {too_small or bad_shares} (counts must be "
                f">= 1, {', '.join(shares)} in [0, 1))"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            close = [m for name in unknown for m in difflib.get_close_matches(name, known, n=1)]
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise ConfigError(
                f"unknown training settings {unknown}{hint}: the known ones are {sorted(known)}"
            )
        try:
            return cls(**data)
        except TypeError as err:  # e.g. epochs = "8": a comparison in __post_init__ fails
            raise ConfigError(f"training settings of the wrong type: {err}") from err

    @classmethod
    def from_toml(cls, path: Path) -> TrainConfig:
        """Read the ``[train]`` table of a TOML file; keys left out keep their defaults."""
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as err:
            raise ConfigError(f"training config {path} does not exist: check the path") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"training config {path} is not valid TOML: {err}") from err
        if not isinstance(data.get("train"), dict):
            raise ConfigError(f"{path} has no [train] table: see configs/lstm.toml for one")
        try:
            return cls.from_dict(data["train"])
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from err
