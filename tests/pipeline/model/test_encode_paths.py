"""The scorer's encoding shortcuts give exactly what the plain rules give.

`TokenRules.apply` and `Lexicon.features` take C-looped shortcuts for the common case (no
repeated token, no brand phrase, no negation) and share cached rows between texts; the
references below are the rules written as plain loops, checked on the default model's own rules
and lexicon over corpus texts and the edge cases the shortcuts must not take."""

from pathlib import Path

import pytest

from pipeline.model.artifacts import load_scorer
from pipeline.model.lexicon import NEGATION_SCALAR, NEGATION_WINDOW, Lexicon
from pipeline.model.vocab import BRAND, TokenRules
from pipeline.text.tokenize import preprocess
from pipeline.training.corpus import load_corpus

DEFAULT = Path(__file__).resolve().parents[3] / "models" / "default"
EDGE_CASES = [
    "'s good",  # a clitic first, no negation: the loop's start reaches it
    "'s not good",  # a clitic first: inside the window of no negation (the loop's start)
    "I don't love @united",
    "United Airlines is not great!!!",
    "👎👎👎👎👎 never again 💩💩💩",
    "Ain't nobody happy. NOT GOOD. Never ever good",
    "#UnitedSucks not cool @AmericanAir @americanair big apple apple",
    "",
    "!!!",
    "not not not good bad",
]


def reference_apply(rules: TokenRules, tokens: list[str]) -> list[str]:
    if rules.max_run:
        capped, run = [], 0
        for i, token in enumerate(tokens):
            run = run + 1 if i and token == tokens[i - 1] else 1
            if run <= rules.max_run or any(c.isalnum() for c in token):
                capped.append(token)
        tokens = capped
    tokens = [
        t if any(c.isalnum() for c in t) else "".join(c for c in t if c not in rules.drop)
        for t in tokens
    ]
    tokens = [t for t in tokens if t]
    phrases = sorted(
        [(p, False) for p in rules.keep] + [(p, True) for p in rules.brands],
        key=lambda e: (-len(e[0]), e[1]),
    )
    lowered, out, i = [t.lower() for t in tokens], [], 0
    while i < len(tokens):
        for phrase, is_brand in phrases:
            if phrase and tuple(lowered[i : i + len(phrase)]) == phrase:
                out.extend([BRAND] if is_brand else tokens[i : i + len(phrase)])
                i += len(phrase)
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def reference_features(lexicon: Lexicon, tokens: list[str]) -> list[tuple[float, ...]]:
    if not tokens:
        return [(0.0, 0.0, 0.0, 0.0)]
    rows, last_negation, i = [], -(NEGATION_WINDOW + 1), -1
    for token in tokens:
        if token not in lexicon.clitics:
            i += 1
        key = token.lower()
        valence = lexicon.lookup(key) / 4.0
        is_negator = key in lexicon.negators
        negated = i - last_negation <= NEGATION_WINDOW
        rows.append(
            (
                valence,
                valence * NEGATION_SCALAR if negated else valence,
                1.0 if is_negator else 0.0,
                lexicon.intensity.get(key, 0.0),
            )
        )
        if is_negator:
            last_negation = i
    return rows


@pytest.fixture(scope="module")
def scorer():
    return load_scorer(DEFAULT)


@pytest.fixture(scope="module")
def token_lists(scorer):
    texts = [*load_corpus()["text"].sample(n=4000, random_state=5).tolist(), *EDGE_CASES]
    return preprocess(scorer.nlp, texts, scorer.text_config)


def test_rules_give_what_the_plain_rules_give(scorer, token_lists):
    rules = scorer.vocab.rules
    assert rules.brands and rules.drop and rules.max_run  # the default's rules use every step
    for _ in range(2):  # the second time from the caches
        for tokens in token_lists:
            assert rules.apply(tokens) == reference_apply(rules, tokens), tokens


def test_features_give_what_the_negation_loop_gives(scorer, token_lists):
    lexicon = scorer.vocab.lexicon
    assert lexicon is not None and lexicon.clitics
    kept = [scorer.vocab.rules.apply(tokens) for tokens in token_lists]
    negated = 0
    for _ in range(2):  # the second time from the cached rows
        for tokens in kept:
            rows = lexicon.features(tokens)
            expected = reference_features(lexicon, tokens)
            # Equal as floats and in sign (-0.0 is what a negated unrated word gets).
            assert [[repr(v) for v in row] for row in rows] == [
                [repr(v) for v in row] for row in expected
            ], tokens
            negated += any(row[1] != row[0] for row in rows)
    assert negated > 100  # the loop's path was taken, not only the shortcut
    # A shared cached row is never changed by a negated text.
    assert lexicon.features(["good"]) == reference_features(lexicon, ["good"])
