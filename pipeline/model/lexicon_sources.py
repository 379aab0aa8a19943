"""Word and emoji valences beyond VADER's, on VADER's -4..4 scale (training only).

Each source fills only what the ones before it lack, so VADER's human ratings always win and
the others add coverage. A model version saves the merged table (vocab.json), so scoring never
reads these files.

- ``textblob``: TextBlob's 2,918 senses of 1,528 words (polarity -1..1, mean over senses);
  PDDL; PyPI ``textblob``, ``en/en-sentiment.xml``.
- ``emoji``: the Emoji Sentiment Ranking v1.0 (969 emoji, from 1.6M tweets); CC BY-SA 4.0;
  npm ``sentiment@5.0.2``, ``build/Emoji_Sentiment_Data_v1.0.csv``.
- ``afinn``: AFINN-165 (3,382 words, -5..5); ODbL 1.0; npm ``sentiment@5.0.2``,
  ``languages/en/labels.json``.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import ConfigError

LEXICON_SOURCES = ("vader", "textblob", "emoji", "afinn")
_SCALE = 4.0  # VADER's bound
# An emoji seen this often in the ranking's tweets before its own counts are trusted; fewer
# occurrences shrink its valence towards 0 (its counts are added to as many neutral ones).
_EMOJI_PRIOR = 10
_NPM = "make lexicons"
# The file each of these lexicons reads from the npm package sentiment@5.0.2.
PACKAGE_FILES = {
    "afinn": "languages/en/labels.json",
    "emoji": "build/Emoji_Sentiment_Data_v1.0.csv",
}


def textblob_valences() -> dict[str, float]:
    """TextBlob's single-word polarities (mean over the word's senses) x 4."""
    spec = importlib.util.find_spec("textblob")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("lexicon 'textblob' needs the textblob package: `pip install textblob`")
    path = Path(next(iter(spec.submodule_search_locations))) / "en" / "en-sentiment.xml"
    senses: dict[str, list[float]] = defaultdict(list)
    # S314: the file of an installed package, not input from outside.
    for word in ET.parse(path).getroot().iter("word"):  # noqa: S314
        form = (word.get("form") or "").lower()
        if form and " " not in form:
            senses[form].append(float(word.get("polarity", "0")))
    return {
        form: round(_SCALE * sum(values) / len(values), 4)
        for form, values in senses.items()
        if any(values)
    }


def afinn_valences(folder: Path) -> dict[str, float]:
    """AFINN-165's single-word ratings x 4/5."""
    data = json.loads(_read(folder, PACKAGE_FILES["afinn"]))
    return {
        word.lower(): round(float(score) * _SCALE / 5, 4)
        for word, score in data.items()
        if " " not in word and score
    }


def emoji_valences(folder: Path) -> dict[str, float]:
    """Emoji Sentiment Ranking: (positive - negative) / (positive + negative + prior) x 4.

    Neutral occurrences are left out of the ratio: many tweets carry an emoji beside text of
    another mood, and counting them as neutral would pull every emoji towards 0.
    """
    rows = csv.DictReader(io.StringIO(_read(folder, PACKAGE_FILES["emoji"])))
    valences = {}
    for row in rows:
        positive, negative = int(row["Positive"]), int(row["Negative"])
        value = (positive - negative) / (positive + negative + _EMOJI_PRIOR)
        if row["Emoji"] and abs(value) >= 0.05:
            valences[row["Emoji"]] = round(_SCALE * value, 4)
    return valences


def check_package_files(sources: Sequence[str], folder: Path) -> None:
    """ConfigError when a lexicon of ``sources`` needs a file of the npm package that is not
    under ``folder``: said before a training run starts, not minutes into it."""
    for name in sources:
        if name in PACKAGE_FILES:
            _find(folder, PACKAGE_FILES[name])


def _read(folder: Path, name: str) -> str:
    return _find(folder, name).read_text(encoding="utf-8")


def _find(folder: Path, name: str) -> Path:
    for base in (folder, folder / "package"):
        if (base / name).is_file():
            return base / name
    raise ConfigError(f"{name} not found under {folder}: fetch the npm package there with `{_NPM}`")
