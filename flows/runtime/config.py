"""``sentimon.toml``: the named sources (and, for `sentimon serve`, their schedules).

```toml
[sources.reviews]
kind = "files"
path = "landing/reviews"          # inside this file's folder
map = { text = "review", created_at = "date", id = "uniqueID" }
encoding = "cp1252"               # CSV/JSONL bytes not in UTF-8 (default UTF-8)

[sources.shop]
kind = "sql"
url_env = "SHOP_DATABASE_URL"     # the URL (with its password) stays in the environment
table = "reviews"
cursor_column = "id"

[sources.social]
kind = "redis"
url = "redis://127.0.0.1:6379/0"
stream = "posts"
group = "sentimon"
```

Top-level keys come before the first table: ``lexicon = "team-lexicon.toml"`` names a team
lexicon (domain terms read when scoring; SENTIMON_LEXICON overrides it).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import ConfigError, UsageError, toml_syntax_error
from pipeline.sources.encoding import check_encoding
from pipeline.sources.validate import FIELDS

if TYPE_CHECKING:
    from flows.runtime.settings import Settings


class SourceConfig(BaseModel):
    """One ``[sources.NAME]`` table. Unknown keys are errors: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    kind: Literal["files", "sql", "redis"]
    # files
    path: str | None = None
    settle_seconds: float | None = None
    encoding: str | None = None  # of CSV and JSONL files (default UTF-8)
    # A single file rewritten or truncated since it was read: read it again from its start
    # instead of refusing (an export that overwrites its file each time).
    reread_changed: bool = False
    # sql and redis
    url: str | None = None
    url_env: str | None = None
    # sql
    table: str | None = None
    query: str | None = None
    cursor_column: str | None = None
    id_column: str | None = None
    # redis
    stream: str | None = None
    group: str = "sentimon"
    consumer: str | None = None
    claim_idle_ms: int | None = None
    # every kind
    column_map: dict[str, str] | None = Field(default=None, alias="map")
    batch_size: int = Field(default=500, ge=1)
    every_minutes: float | None = Field(default=None, gt=0)  # schedule for `sentimon serve`

    @field_validator("column_map")
    @classmethod
    def _our_fields(cls, mapping: dict[str, str] | None) -> dict[str, str] | None:
        # A misspelt field ("creatd_at") would leave the real one unmapped: posts stored with
        # the run's time and a text digest for id, and the corrected map stores them again.
        wrong = []
        for ours in mapping or {}:
            if ours not in FIELDS:
                close = difflib.get_close_matches(ours.lower(), FIELDS, n=1)
                wrong.append(f"{ours!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        if wrong:
            verb = "is not one of" if len(wrong) == 1 else "are not"
            raise ValueError(
                f"{', '.join(wrong)} {verb} our fields: write "
                f'ours = "their column", ours one of {", ".join(FIELDS)}'
            )
        return mapping

    @model_validator(mode="after")
    def _required_per_kind(self) -> SourceConfig:
        needs = {
            "files": ["path"],
            "sql": ["cursor_column"],
            "redis": ["stream"],
        }[self.kind]
        missing = [key for key in needs if getattr(self, key) in (None, "")]
        if self.kind in ("sql", "redis") and not (self.url or self.url_env):
            missing.append("url or url_env")
        if self.kind == "sql" and bool(self.table) == bool(self.query):
            missing.append("exactly one of table or query")
        if missing:
            raise ValueError(f"a {self.kind} source needs {', '.join(missing)}")
        if self.encoding is not None:
            if self.kind != "files":
                raise ValueError("encoding is for files sources (CSV and JSONL)")
            try:
                self.encoding = check_encoding(self.encoding)
            except UsageError as err:
                raise ValueError(str(err)) from None
        return self

    def resolved_url(self, name: str) -> str:
        """The connection URL, from ``url`` or the variable ``url_env`` names."""
        if self.url_env:
            value = os.environ.get(self.url_env)
            if not value:
                raise ConfigError(
                    f"source {name!r}: environment variable {self.url_env} is not set"
                )
            return value
        assert self.url is not None  # checked by the validator
        return self.url


class ProjectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    # A team lexicon file (pipeline/model/team_lexicon.py), relative to this file's folder.
    lexicon: str | None = None
    folder: Path = Path()  # the config file's folder: relative paths start here

    def source(self, name: str) -> SourceConfig:
        try:
            return self.sources[name]
        except KeyError:
            known = ", ".join(sorted(self.sources)) or "none"
            close = difflib.get_close_matches(name, list(self.sources), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            # A name nothing knows: a usage mistake (exit 2), as an unknown brand or version.
            raise UsageError(
                f"no source {name!r} in sentimon.toml ({hint}known: {known}); "
                "add a [sources.NAME] table or give --input"
            ) from None

    def files_path(self, name: str) -> Path:
        """A files source's folder, which must lie inside the config file's folder.

        A config is often edited by more people than the machine's owner; keeping its paths
        inside one tree stops it from pointing the ingester at arbitrary files.
        """
        cfg = self.source(name)
        root = self.folder.resolve()
        path = (root / (cfg.path or "")).resolve()
        if not path.is_relative_to(root):
            raise ConfigError(
                f"source {name!r}: path {cfg.path!r} lies outside {root}; "
                "files sources must stay inside the folder of sentimon.toml"
            )
        return path

    def lexicon_path(self) -> Path | None:
        """The team lexicon file ``lexicon`` names, or None."""
        return (self.folder / self.lexicon) if self.lexicon else None


def load_config(path: Path) -> ProjectConfig:
    """Read ``sentimon.toml``; a missing file is an empty config."""
    if not path.exists():
        return ProjectConfig(folder=path.parent)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} cannot be read: {err}") from err
    try:
        data = tomllib.loads(text)
        return ProjectConfig(folder=path.resolve().parent, **data)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(toml_syntax_error(path, text, err)) from err
    except ValidationError as err:
        raise ConfigError(f"{path}: {_first_error(err)}") from err


def _first_error(err: ValidationError) -> str:
    """Every mistake pydantic found, as ``where: what`` joined by "; ": a file with two typos
    is fixed in one round, not two."""
    return "; ".join(_described(error) for error in err.errors())


def _described(error: Any) -> str:
    loc = [str(part) for part in error["loc"]]
    where = ".".join(loc)
    if error["type"] == "extra_forbidden":
        # The keys that table takes, for a did-you-mean ("[source.x]" for "[sources.x]").
        if len(loc) == 1:
            known = [name for name in ProjectConfig.model_fields if name != "folder"]
        elif len(loc) == 3 and loc[0] == "sources":
            known = [f.alias or name for name, f in SourceConfig.model_fields.items()]
        else:
            known = []
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{where}: unknown key{hint}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def team_lexicon_path(settings: Settings) -> Path | None:
    """The team lexicon file: SENTIMON_LEXICON, else `lexicon` of sentimon.toml, else None."""
    if settings.lexicon is not None:
        return settings.lexicon
    return load_config(settings.config).lexicon_path()
