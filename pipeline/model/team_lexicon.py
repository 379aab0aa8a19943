"""A team lexicon: domain terms with a valence, laid over a model's saved lexicon when scoring.

```toml
# sentimon-lexicon.toml: valences on VADER's scale, -4 (most negative) .. 4 (most positive)
[terms]
bricked = -3.0
slaps = 2.0
"#fail" = -2.5
```

A term is one model token (lower-cased; a hashtag also matches its word, as in the lexicon).
The model reads each token's valence as a feature and adds a lexicon prior to its logits, so a
term changes scores without retraining: the team's terms are added to a copy of the model
version's own lexicon, overriding the valence it had. The saved version is never changed.
"""

from __future__ import annotations

import copy
import hashlib
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import ConfigError
from pipeline.model.lexicon import Lexicon

if TYPE_CHECKING:  # loading and checking a lexicon file needs no torch (run's checks do it)
    from pipeline.model.predict import Scorer

MAX_VALENCE = 4.0
_KEYS = {"terms"}


@dataclass(frozen=True)
class TeamLexicon:
    """The terms of a team lexicon file, with the file's path and sha256 (recorded per run)."""

    path: Path
    sha256: str
    terms: dict[str, float]

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256, "terms": len(self.terms)}


def load_team_lexicon(path: Path) -> TeamLexicon:
    """Read and check a team lexicon file; ConfigError says what is wrong in one line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as err:
        raise ConfigError(
            f"team lexicon {path} not found: fix SENTIMON_LEXICON or `lexicon` in "
            "sentimon.toml, or remove it"
        ) from err
    except OSError as err:
        raise ConfigError(f"team lexicon {path} cannot be read: {err}") from err
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"team lexicon {path} is not valid TOML: {err}") from err
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(
            f"team lexicon {path}: unknown keys {unknown}; put the terms in a [terms] table, "
            "e.g. [terms] bricked = -3.0"
        )
    table = data.get("terms")
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"team lexicon {path} has no [terms] table: add e.g. bricked = -3.0")
    terms: dict[str, float] = {}
    for term, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(
                f"team lexicon {path}: {term!r} = {value!r} is not a number: give a valence "
                f"from {-MAX_VALENCE:g} to {MAX_VALENCE:g}"
            )
        if not -MAX_VALENCE <= float(value) <= MAX_VALENCE:
            raise ConfigError(
                f"team lexicon {path}: {term!r} = {value} is out of range: valences run from "
                f"{-MAX_VALENCE:g} to {MAX_VALENCE:g} (VADER's scale)"
            )
        key = term.strip().lower()
        if not key or len(key.split()) != 1:
            raise ConfigError(
                f"team lexicon {path}: {term!r} is not one word; terms are single tokens "
                "(a phrase never matches)"
            )
        terms[key] = float(value)
    return TeamLexicon(path.resolve(), hashlib.sha256(raw).hexdigest(), terms)


def overlay(lexicon: Lexicon, team: TeamLexicon) -> Lexicon:
    """A copy of ``lexicon`` with the team's terms added or overriding; ``lexicon`` unchanged."""
    return replace(
        lexicon,
        valence={**lexicon.valence, **team.terms},
        source=f"{lexicon.source} + team lexicon {team.path.name} ({team.sha256[:12]})",
        _seen={},
        _negating=set(),
    )


def apply_team_lexicon(scorer: Scorer, team: TeamLexicon) -> Scorer:
    """A scorer of the same version whose lexicon features and prior read the team's terms."""
    if scorer.vocab.lexicon is None:
        raise ConfigError(
            f"model {scorer.version} reads no lexicon features, so the team lexicon {team.path} "
            "cannot change its scores: unset SENTIMON_LEXICON (or `lexicon` in sentimon.toml)"
        )
    vocab = copy.copy(scorer.vocab)  # shares the token table; only the lexicon differs
    vocab.lexicon = overlay(scorer.vocab.lexicon, team)
    return replace(scorer, vocab=vocab, team_lexicon=team.describe())
