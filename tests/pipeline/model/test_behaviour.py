"""Behavioural tests of the committed default model (slow: they load models/default).

What a brand team relies on, stated as tests:
- negation moves the score down ("good" -> "not good");
- swapping one brand of the brands file for another changes nothing: the model reads every
  brand name, alias, handle and hashtag of the file it was trained with as one <brand> token,
  so the tolerance is float noise (1e-6). Brands that are not in the file (e.g. "Delta") are
  ordinary words to the model; that they shift scores is measured, not promised
  (docs/model-card.md);
- adding exclamation marks never flips the label (the model does not read "!");
- an emoji-only post whose emoji are clearly polar is not neutral, and repeating an emoji adds
  emphasis once, not once per copy.
"""

from pathlib import Path

import pytest

from pipeline.model.artifacts import load_scorer
from pipeline.text.brand_file import load_brands
from pipeline.training.corpus import load_splits

REPO = Path(__file__).resolve().parents[3]
DEFAULT = REPO / "models" / "default"

pytestmark = pytest.mark.slow

NEGATION_PAIRS = [
    ("the service was good", "the service was not good"),
    ("I like this phone", "I don't like this phone"),
    ("great flight today", "not a great flight today"),
    ("the update is good", "the update is not good"),
    ("I love the new design", "I do not love the new design"),
    ("the crew was helpful", "the crew was not helpful"),
    ("this app works well", "this app doesn't work well"),
    ("the food was nice", "the food was never nice"),
    ("happy with the battery", "not happy with the battery"),
    ("the seats are comfortable", "the seats are not comfortable"),
    ("a good experience overall", "not a good experience overall"),
    ("I would recommend it", "I would not recommend it"),
    ("the staff were friendly", "the staff weren't friendly"),
    ("the camera is amazing", "the camera isn't amazing"),
]

# Emoji-only posts whose emoji are clearly polar, with the label a person gives them.
EMOJI = {
    "👍👍👍": "positive",
    "😍😍": "positive",
    "❤️❤️❤️": "positive",
    "👎👎👎": "negative",
    "😡😡": "negative",
    "😭😭😭": "negative",
}

BRAND_TEMPLATES = [
    "I just flew with {b} and it was fine",
    "{b} lost my bag again",
    "thank you {b} for the upgrade",
    "{b} announced a new product today",
    "can't believe how bad {b} is",
    "love {b} so much",
    "what time does {b} open",
    "{b} customer service is amazing",
    "is anyone else having trouble with {b} today?",
    "{b}",
]


@pytest.fixture(scope="module")
def scorer():
    return load_scorer(DEFAULT)


def scores(scorer, texts):
    return [p.score for p in scorer.score_texts(texts)]


def test_negation_moves_the_score_down(scorer):
    plain = scores(scorer, [p for p, _ in NEGATION_PAIRS])
    negated = scores(scorer, [n for _, n in NEGATION_PAIRS])
    failures = [
        (n, round(a, 3), round(b, 3))
        for (_, n), a, b in zip(NEGATION_PAIRS, plain, negated, strict=True)
        if not b < a
    ]
    assert not failures, f"negation did not lower the score: {failures}"


def test_swapping_brands_of_the_brands_file_changes_nothing(scorer):
    catalog = load_brands(REPO / "configs" / "brands.toml")
    # Each brand's name and aliases, as people write them.
    names = [p for brand in catalog.brands for p in (brand.name, *brand.aliases)]
    assert len(names) > 10
    for template in BRAND_TEMPLATES:
        predictions = scorer.score_texts([template.format(b=name) for name in names])
        first = predictions[0]
        for name, pred in zip(names, predictions, strict=True):
            assert pred.label == first.label, (template, name)
            assert abs(pred.score - first.score) <= 1e-6, (template, name, pred.score)


def test_exclamation_marks_never_flip_the_label(scorer):
    splits, _ = load_splits()
    texts = [
        *splits["test"]["text"].head(300),
        "waiting at the gate",
        "the app crashed",
        "my flight is at 6",
        "",
    ]
    base = [p.label for p in scorer.score_texts(texts)]
    for suffix in ("!", "!!!", " !", " !!!!!!"):
        labels = [p.label for p in scorer.score_texts([t + suffix for t in texts])]
        flipped = [(t, a, b) for t, a, b in zip(texts, base, labels, strict=True) if a != b]
        assert not flipped, f"{suffix!r} flipped {len(flipped)} labels, e.g. {flipped[:3]}"


def test_clearly_polar_emoji_alone_are_not_neutral(scorer):
    labels = {text: p.label for text, p in zip(EMOJI, scorer.score_texts(list(EMOJI)), strict=True)}
    wrong = {text: label for text, label in labels.items() if label != EMOJI[text]}
    assert not wrong, f"emoji-only posts read wrongly: {wrong}"


def test_a_repeated_emoji_counts_once_more_not_once_per_copy(scorer):
    once, twice, many = scorer.score_texts(["👎", "👎👎", "👎" * 12])
    assert twice.score < once.score  # the repeat adds emphasis
    assert many.score == pytest.approx(twice.score, abs=1e-9)  # and only once
