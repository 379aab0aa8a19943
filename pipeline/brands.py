"""Brands file loading and brand matching with spaCy's PhraseMatcher on lower-cased tokens.

Matching whole tokens (not substrings) is what keeps "disunited" from counting as United; exclude
phrases remove a brand's matches that they overlap ("united states" is not United Airlines).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from pipeline.errors import ConfigError


@dataclass(frozen=True)
class Brand:
    name: str
    aliases: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def phrases(self) -> tuple[str, ...]:
        return (self.name, *self.aliases, *self.handles, *self.hashtags)


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
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigError(f"brands file {path} not found: set SENTIMON_BRANDS") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"brands file {path} is not valid TOML: {err}") from err
    entries = data.get("brands")
    if not isinstance(entries, list):
        raise ConfigError(f"brands file {path} needs [[brands]] tables")
    brands = []
    for i, entry in enumerate(entries):
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"brands file {path}: brand #{i + 1} has no name")
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


class BrandMatcher:
    """Finds the configured brands a Doc mentions."""

    def __init__(self, nlp: Language, catalog: BrandCatalog) -> None:
        self.catalog = catalog
        self._match = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._exclude = PhraseMatcher(nlp.vocab, attr="LOWER")
        for brand in catalog.brands:
            self._match.add(brand.name, [nlp.make_doc(p) for p in brand.phrases()])
            if brand.exclude:
                self._exclude.add(brand.name, [nlp.make_doc(p) for p in brand.exclude])

    def match(self, doc: Doc, hints: Iterable[str] = ()) -> tuple[str, ...]:
        """Brand names mentioned in ``doc`` plus those a source supplied, sorted, unique."""
        vocab = doc.vocab.strings
        excluded: dict[str, list[tuple[int, int]]] = {}
        for key, start, end in self._exclude(doc):
            excluded.setdefault(vocab[key], []).append((start, end))
        found = {self.catalog.canonical(h) for h in hints}
        for key, start, end in self._match(doc):
            name = vocab[key]
            if any(s < end and start < e for s, e in excluded.get(name, ())):
                continue
            found.add(name)
        return tuple(sorted(found))
