"""VADER lexicon features per token, fed to the LSTM beside the word embeddings.

Why: the training corpus is tweets about a handful of topics, so a word the model never saw in
training ("superb", "dreadful") would otherwise be an anonymous <unk>. The VADER lexicon (MIT
licence, shipped inside the `vaderSentiment` package) rates ~7,500 words, emoticons and (through
their descriptions) ~3,500 emoji by human judgement, independently of our corpus, so its
valences carry sentiment into domains the corpus does not cover.

Each token gets `NUM_FEATURES` numbers (see `Lexicon.features`):
    0 valence / 4            the word's mean human rating, in [-1, 1]; 0 for words not rated
    1 negated valence / 4    as 0, times VADER's -0.74 when a negation precedes it closely
    2 negation               1.0 for "not", "n't", "never", ... else 0
    3 intensity              +1 for boosters ("very"), -1 for dampeners ("slightly"), else 0

The table is saved inside each model version (vocab.json), so a version scores the same
whatever vaderSentiment release is installed later.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pipeline.errors import ConfigError

NUM_FEATURES = 4
# VADER's own constants: a negated word keeps 74% of its strength with the opposite sign, and a
# negation reaches three words ahead ("not at all good").
NEGATION_SCALAR = -0.74
NEGATION_WINDOW = 3
_MAX_VALENCE = 4.0
# spaCy splits "don't" into "do" + "n't" and "dont" into "do" + "nt"; VADER's list has whole words.
_EXTRA_NEGATORS = ("n't", "nt")
# Distinct tokens whose lookups are remembered; a stream's long tail must not grow it forever.
_CACHE_LIMIT = 200_000
FeatureRow = tuple[float, ...]  # the NUM_FEATURES of one token, in order


@dataclass(frozen=True)
class Lexicon:
    """Token -> valence (VADER scale, -4..4), the negation words and the intensifiers."""

    valence: dict[str, float]
    negators: frozenset[str]
    intensity: dict[str, float]
    source: str = "vaderSentiment"
    # Tokens that do not count towards the negation window: spaCy makes "I'm" two tokens,
    # VADER's window counts it as one word ("can't say I'm happy" is negated in VADER).
    clitics: frozenset[str] = frozenset()
    # Token -> its FeatureRow where no negation reaches it: scoring looks the same few thousand
    # words up millions of times. A text without negation (most) is then a list of these shared
    # rows: three dict probes and lower() per token were a tenth of the pipeline's time, and a
    # new tuple per token made work for the garbage collector.
    _seen: dict[str, FeatureRow] = field(default_factory=dict, compare=False, repr=False)
    # The tokens of _seen that are negations, as written (their lower-case form is in
    # ``negators``): one set lookup per text tells whether any negation needs the loop.
    _negating: set[str] = field(default_factory=set, compare=False, repr=False)

    def lookup(self, token: str) -> float:
        """The valence of a model token; a hashtag counts as its word ("#love" as "love")."""
        key = token.lower()
        found = self.valence.get(key)
        if found is None and key.startswith("#"):
            found = self.valence.get(key[1:])
        return found if found is not None else 0.0

    def features(self, tokens: Sequence[str], max_len: int | None = None) -> list[FeatureRow]:
        """One feature row per token (after truncation to ``max_len``), as documented above.

        An empty token list gives one row of zeros, matching the single ``<unk>`` id that
        `Vocabulary.encode` gives it.
        """
        kept = tokens[:max_len]
        if not kept:
            return [(0.0, 0.0, 0.0, 0.0)]
        seen = self._seen
        found = list(map(seen.get, kept))
        if None in found:
            if len(seen) >= _CACHE_LIMIT:
                seen.clear()
            found = [
                row if row is not None else seen.setdefault(token, self._row(token))
                for row, token in zip(found, kept, strict=True)
            ]
        rows = cast("list[FeatureRow]", found)
        if self._negating.isdisjoint(kept) and kept[0] not in self.clitics:
            # No negation in the text (most texts): no token is within a negation's reach, and
            # each row is its token's cached plain row, shared, not a new tuple per token.
            return rows
        last_negation = -(NEGATION_WINDOW + 1)
        clitics = self.clitics
        i = -1  # words so far, clitics not counted
        for position, token in enumerate(kept):
            if token not in clitics:
                i += 1
            row = rows[position]
            if i - last_negation <= NEGATION_WINDOW:
                valence, _, negation, intensity = row
                rows[position] = (valence, valence * NEGATION_SCALAR, negation, intensity)
            if row[2]:
                last_negation = i
        return rows

    def _row(self, token: str) -> FeatureRow:
        """The token's row where no negation reaches it."""
        key = token.lower()
        valence = self.lookup(key) / _MAX_VALENCE
        negation = 1.0 if key in self.negators else 0.0
        if negation:
            self._negating.add(token)
        return (valence, valence, negation, self.intensity.get(key, 0.0))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (saved in each model version)."""
        data: dict[str, Any] = {
            "source": self.source,
            "valence": dict(sorted(self.valence.items())),
            "negators": sorted(self.negators),
            "intensity": dict(sorted(self.intensity.items())),
        }
        if self.clitics:  # left out when empty, so versions saved before it read the same
            data["clitics"] = sorted(self.clitics)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lexicon:
        return cls(
            valence={str(k): float(v) for k, v in data["valence"].items()},
            negators=frozenset(data["negators"]),
            intensity={str(k): float(v) for k, v in data["intensity"].items()},
            source=str(data.get("source", "vaderSentiment")),
            clitics=frozenset(data.get("clitics", ())),
        )


CLITICS = frozenset({"'m", "'s", "'re", "'ve", "'ll", "'d"})


def load_lexicon(sources: Sequence[str] = ("vader",), folder: Path | None = None) -> Lexicon:
    """VADER's lexicon, with the valences of further ``sources`` (pipeline.model.lexicon_sources)
    added where VADER has none, and clitics left out of the negation window.

    ``folder`` holds the npm package ``sentiment@5.0.2`` (sources "afinn" and "emoji").
    Only ``("vader",)`` gives exactly `load_vader_lexicon`, as versions before this saved.
    """
    from pipeline.model import lexicon_sources

    vader = load_vader_lexicon()
    if list(sources) == ["vader"]:
        return vader
    unknown = sorted(set(sources) - set(lexicon_sources.LEXICON_SOURCES))
    if unknown or not sources or sources[0] != "vader":
        raise ConfigError(
            f"lexicons = {list(sources)}: start with 'vader', then any of "
            f"{list(lexicon_sources.LEXICON_SOURCES[1:])}"
        )
    needs_folder = {"afinn", "emoji"} & set(sources)
    if needs_folder and folder is None:
        raise ConfigError(
            f"lexicons {sorted(needs_folder)} need lexicon_dir: a folder with the npm package "
            "sentiment@5.0.2"
        )
    valence = dict(vader.valence)
    for name in sources[1:]:
        if name == "textblob":
            extra = lexicon_sources.textblob_valences()
        elif name == "afinn":
            extra = lexicon_sources.afinn_valences(Path(str(folder)))
        else:
            extra = lexicon_sources.emoji_valences(Path(str(folder)))
        for token, value in extra.items():
            valence.setdefault(token, value)
    source = " + ".join([vader.source, *sources[1:]])
    return Lexicon(valence, vader.negators, vader.intensity, source=source, clitics=CLITICS)


def load_vader_lexicon() -> Lexicon:
    """The lexicon of the installed vaderSentiment package, emoji included, keys lower-cased."""
    try:
        from vaderSentiment import vaderSentiment as vader
    except ImportError as err:
        raise ConfigError(
            "lexicon features need the 'vaderSentiment' package: run "
            "`pip install vadersentiment==3.3.2` (or `make install`), or set lexicon = false "
            "in the [train] table"
        ) from err
    folder = Path(vader.__file__).parent
    valence: dict[str, float] = {}
    for line in (folder / "vader_lexicon.txt").read_text(encoding="utf-8").splitlines():
        word, _, rest = line.partition("\t")
        if word and rest:
            # ":D" and ":d" both exist; tokens are lower-cased, so the first rating wins.
            valence.setdefault(word.lower(), float(rest.split("\t")[0]))
    for emoji, description in _emoji_descriptions(folder / "emoji_utf8_lexicon.txt"):
        rated = [valence[w] for w in description.lower().split() if w in valence]
        if rated and emoji not in valence:
            # VADER itself reads an emoji as its description's words; their mean is the
            # closest single-token equivalent ("face with tears of joy" -> joy's 2.8 / 1).
            valence[emoji] = round(sum(rated) / len(rated), 4)
    negators = frozenset(w.lower() for w in vader.NEGATE) | frozenset(_EXTRA_NEGATORS)
    intensity = {
        word: (1.0 if scalar > 0 else -1.0)
        for word, scalar in vader.BOOSTER_DICT.items()
        if " " not in word  # multi-word dampeners ("kind of") never match one token
    }
    try:
        version = importlib.metadata.version("vaderSentiment")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return Lexicon(valence, negators, intensity, source=f"vaderSentiment {version}")


def _emoji_descriptions(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        emoji, _, description = line.partition("\t")
        if emoji and description:
            pairs.append((emoji, description))
    return pairs
