"""Preprocessing throughput on the bundled 38k-tweet corpus, next to spaCy's bare tokenizer.

    nice .venv/bin/python bench/tokenize_speed.py [--repeat 5] [--limit N] [--two-processes]

Rows, all in one process:
- spaCy's bare tokenizer: ``spacy.blank("en").tokenizer.pipe(texts)``, no normalisation;
- `pipeline.text.tokenize.preprocess`: normalise + the model's tokenizer + model tokens, what
  training and scoring run;
- the same with language identification (model tokens for English posts only);
- what a micro-batch of `sentimon run` does before the LSTM (flows/runtime/batch.py), 500 posts at a
  time: normalise, Docs, brand matching, language identification, model tokens.
- with ``--two-processes``: Docs and model tokens through ``nlp.pipe(n_process=2)``.
"cold" is the first pass with fresh pipelines (every cache empty); "warm" the fastest of the
next ``--repeat`` passes, the rows taking turns, as a long-running worker sees it. Times are CPU
seconds of this process, so that other processes on a shared machine skew them least. docs/s
counts texts; tokens/s counts the bare tokenizer's tokens (the same texts for every row).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import spacy

from pipeline.text.brand_file import load_brands
from pipeline.text.brands import BrandMatcher
from pipeline.text.language import LanguageIdentifier
from pipeline.text.normalize import normalize_text
from pipeline.text.tokenize import (
    TextConfig,
    make_docs,
    make_nlp,
    make_texts_and_docs,
    model_tokens,
    preprocess,
    text_tokens,
)
from pipeline.training.corpus import load_corpus

BRANDS = Path(__file__).resolve().parent.parent / "configs" / "brands.toml"
BATCH = 500  # posts per micro-batch, as `sentimon run` reads them


def bare_row(texts: list[str]) -> Callable[[], object]:
    bare = spacy.blank("en")
    return lambda: sum(len(doc) for doc in bare.tokenizer.pipe(texts, batch_size=256))


def preprocess_row(texts: list[str]) -> Callable[[], object]:
    nlp, config = make_nlp(), TextConfig()
    return lambda: preprocess(nlp, texts, config)


def language_row(texts: list[str]) -> Callable[[], object]:
    nlp, config, language = make_nlp(), TextConfig(), _language()

    def run() -> object:
        out = []
        for text in texts:
            normalized = normalize_text(text, config.normalization)
            if language.identify(normalized) == "en":
                out.append(text_tokens(nlp, normalized, config))
        return out

    return run


def batch_row(texts: list[str]) -> Callable[[], object]:
    nlp, config, language = make_nlp(), TextConfig(), _language()
    matcher = BrandMatcher(nlp, load_brands(BRANDS))

    def run() -> object:
        for start in range(0, len(texts), BATCH):
            normalized, docs = make_texts_and_docs(nlp, texts[start : start + BATCH], config)
            langs = language.identify_all(normalized)
            for doc, text in zip(docs, normalized, strict=True):
                matcher.match(doc, (), text)
            for text, lang in zip(normalized, langs, strict=True):
                if lang == "en":
                    text_tokens(nlp, text, config)
        return None

    return run


def two_process_row(texts: list[str]) -> Callable[[], object]:
    nlp, config = make_nlp(), TextConfig()
    return lambda: [
        model_tokens(d, config) for d in make_docs(nlp, texts, config, 1000, n_process=2)
    ]


def _language() -> LanguageIdentifier:
    language = LanguageIdentifier()
    language.identify("hola, qué tal estáis todos hoy")  # loads both models: not timed
    return language


def cpu_seconds(run: Callable[[], object]) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--two-processes", action="store_true", help="add an n_process=2 row")
    args = parser.parse_args()
    texts = load_corpus()["text"].tolist()[: args.limit]
    n_tokens = sum(len(doc) for doc in spacy.blank("en").tokenizer.pipe(texts))
    rows = {
        "spaCy bare tokenizer (`spacy.blank('en').tokenizer.pipe`)": bare_row,
        "`preprocess` (normalise + tokenise + model tokens)": preprocess_row,
        "`preprocess` + language identification": language_row,
        "micro-batch: + Docs and brand matching (flows/runtime/batch.py)": batch_row,
    }
    if args.two_processes:
        rows["`nlp.pipe(n_process=2)` + model tokens"] = two_process_row
    runs = {name: make(texts) for name, make in rows.items()}
    cold = {name: cpu_seconds(run) for name, run in runs.items()}
    warm = {name: float("inf") for name in runs}
    for _ in range(args.repeat):
        for name, run in runs.items():
            warm[name] = min(warm[name], cpu_seconds(run))

    print(f"{len(texts):,} texts, {n_tokens:,} spaCy tokens; CPU seconds, one process\n")
    print(
        "| pipeline | cold s | cold docs/s | warm s | warm docs/s | warm tokens/s | x bare (warm) |"
    )
    print("|---|---|---|---|---|---|---|")
    base = warm[next(iter(runs))]
    for name in runs:
        print(
            f"| {name} | {cold[name]:.2f} | {len(texts) / cold[name]:,.0f} | {warm[name]:.2f} | "
            f"{len(texts) / warm[name]:,.0f} | {n_tokens / warm[name]:,.0f} | "
            f"{base / warm[name]:.2f} |"
        )


if __name__ == "__main__":
    main()
