"""The brands file: which brands to watch and the phrases that mention each.

Plain TOML and dataclasses, no spaCy: a report reads the brand names and phrases without the
start-up cost of the matcher (pipeline/text/brands.py).
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ConfigError, toml_syntax_error

_BRAND_KEYS = ("name", "aliases", "handles", "hashtags", "exclude")


@dataclass(frozen=True)
class Brand:
    name: str
    aliases: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def phrases(self) -> tuple[str, ...]:
        return (self.name, *self.aliases, *self.handles, *self.hashtags)

    def patterns(self) -> tuple[str, ...]:
        """What the matcher looks for: the phrases, and multi-word ones hyphenated too."""
        phrases = self.phrases()
        hyphenated = ("-".join(p.split()) for p in phrases if len(p.split()) > 1)
        return tuple(dict.fromkeys((*phrases, *hyphenated)))


@dataclass(frozen=True)
class BrandCatalog:
    brands: tuple[Brand, ...] = field(default_factory=tuple)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.brands)

    def canonical(self, hint: str) -> str:
        """A source-supplied brand value -> the configured name it denotes, or itself."""
        lowered = hint.strip().lower()
        for brand in self.brands:
            if lowered in (p.lower() for p in brand.phrases()):
                return brand.name
        return hint.strip()


def load_brands(path: Path) -> BrandCatalog:
    """Read a brands TOML file (``[[brands]]`` tables); raise ConfigError on any defect."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ConfigError(
            f"brands file {path} not found: set SENTIMON_BRANDS to your brands file"
        ) from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"brands file {path} cannot be read: {err}") from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"brands file {toml_syntax_error(path, text, err)}") from err
    entries = data.get("brands")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"brands file {path} needs [[brands]] tables")
    _refuse_unknown_keys(path, "", list(data), ("brands",))  # a [brand] typo, say
    brands = []
    for i, entry in enumerate(entries):
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"brands file {path}: brand #{i + 1} has no name")
        # A misspelt key ("handels") would drop its phrases, and with them every mention they
        # find, without a word: refused as sentimon.toml refuses its unknown keys.
        _refuse_unknown_keys(path, f" in brand {name.strip()}", list(entry), _BRAND_KEYS)
        lists = {}
        for key in ("aliases", "handles", "hashtags", "exclude"):
            value = entry.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"brands file {path}: {name}.{key} must be a list of strings")
            lists[key] = tuple(v.strip() for v in value if v.strip())
        brands.append(Brand(name=name.strip(), **lists))
    names = [b.name for b in brands]
    if len(set(names)) != len(names):
        raise ConfigError(f"brands file {path}: brand names must be unique")
    return BrandCatalog(tuple(brands))


def _refuse_unknown_keys(path: Path, where: str, keys: list[str], known: tuple[str, ...]) -> None:
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"brands file {path}: unknown key {key!r}{where}{hint}; "
                f"the keys are {', '.join(known)}"
            )
