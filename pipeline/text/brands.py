"""Brands file loading and brand matching with spaCy's PhraseMatcher on lower-cased tokens.

Matching whole tokens (not substrings) is what keeps "disunited" from counting as United; exclude
phrases remove a brand's matches that they overlap ("united states" is not United Airlines).
Case and punctuation around a phrase do not matter ("UNITED airlines!", "(@united)"), a
multi-word phrase also matches hyphenated ("united-airlines"), and the camel-case words of a
hashtag are matched as a phrase of their own ("#UnitedAirlinesSucks" mentions United Airlines,
"#UnitedStates" does not).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from pipeline.errors import ConfigError
from pipeline.text.normalize import normalize_text
from pipeline.text.tokenize import split_hashtag

_HASHTAG = re.compile(r"(?<![\w&])#(\w+)")


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
    """Finds the configured brands a Doc mentions.

    Build it with the nlp whose tokenizer makes the Docs it is given (the model version's):
    patterns and texts are then cut into tokens alike.
    """

    def __init__(self, nlp: Language, catalog: BrandCatalog) -> None:
        self.catalog = catalog
        self._match = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._exclude = PhraseMatcher(nlp.vocab, attr="LOWER")
        # Every lower-cased token of every pattern: a hashtag none of whose words is here
        # cannot mention a brand, and most hashtags are like that.
        self._words: set[str] = set()
        for brand in catalog.brands:
            patterns = [_pattern(nlp, p) for p in brand.patterns()]
            self._match.add(brand.name, patterns)
            self._words.update(t.lower_ for doc in patterns for t in doc)
            if brand.exclude:
                self._exclude.add(brand.name, [_pattern(nlp, p) for p in brand.exclude])

    def match(
        self, doc: Doc, hints: Iterable[str] = (), text: str | None = None
    ) -> tuple[str, ...]:
        """Brand names mentioned in ``doc`` plus those a source supplied, sorted, unique.

        ``text`` is ``doc.text`` when the caller has it (rebuilding it from the Doc is slow).
        """
        found = self._names(doc) | {self.catalog.canonical(h) for h in hints if h.strip()}
        text = doc.text if text is None else text
        if "#" in text:
            for body in _HASHTAG.findall(text):
                words = [w.lower() for w in split_hashtag(body)]
                if not self._words.isdisjoint(words):
                    found |= self._names(Doc(doc.vocab, words=words))
        return tuple(sorted(found))

    def _names(self, doc: Doc) -> set[str]:
        matches = self._match(doc)
        if not matches:
            return set()
        strings = doc.vocab.strings
        excluded: dict[str, list[tuple[int, int]]] = {}
        for key, start, end in self._exclude(doc):
            excluded.setdefault(strings[key], []).append((start, end))
        found = set()
        for key, start, end in matches:
            name = strings[key]
            if not any(s < end and start < e for s, e in excluded.get(name, ())):
                found.add(name)
        return found


def _pattern(nlp: Language, phrase: str) -> Doc:
    return nlp.make_doc(normalize_text(phrase))
