"""A model version keeps the tokens (and so the predictions) it was trained with.

The tokenizer rules travel in ``tokenizer/`` (nlp.to_disk), the model-token settings and the
normalisation version in ``config.json``; neither is read from this release's defaults.
"""

import dataclasses
import re
from pathlib import Path

import ftfy
import numpy as np
import pytest
import spacy

from pipeline.model.artifacts import load_scorer, save_model
from pipeline.text import tokenize
from pipeline.text.tokenize import TextConfig, make_nlp, preprocess

TEXTS = [
    "#UnitedAirlinesSucks!! @united lost my bag :(((",
    "i love this flight soooo much 😍👍🏽 great:)",
    "dont book @JetBlue, 2 hrs late http://t.co/x",
    "donâ€™t &amp; won't <3",
    "",
]
METRICS = {"test": {"accuracy": 0.5}}


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_result, tiny_config):
    root = tmp_path_factory.mktemp("versions")
    return save_model(root, tiny_result, make_nlp(), TextConfig(), tiny_config, METRICS)


def changed_defaults(monkeypatch):
    """What a later release might do: other tokenizer rules and other TextConfig defaults."""
    monkeypatch.setattr(tokenize, "_TOKEN_MATCH", r"(?:zzz)$")
    monkeypatch.setattr(tokenize, "_SUFFIXES", [r"!"])
    monkeypatch.setattr(tokenize, "_HASH_PREFIX", "#")
    new = {
        "lowercase": False,
        "max_repeat": 0,
        "normalization": 1,
        "keep_handles": (),
        "hashtags": "keep",
        "cap_symbol_runs": False,
        "unify_negations": False,
    }
    defaults = tuple(new.get(f.name, f.default) for f in dataclasses.fields(TextConfig) if f.init)
    monkeypatch.setattr(TextConfig.__init__, "__defaults__", defaults)


def test_changed_defaults_leave_a_saved_version_alone(saved, monkeypatch):
    before = load_scorer(saved)
    tokens_before = preprocess(before.nlp, TEXTS, before.text_config)
    probs_before = before.predict_proba(tokens_before)

    changed_defaults(monkeypatch)
    # The change is real: today's defaults now tokenise these texts differently ...
    assert preprocess(make_nlp(), TEXTS, TextConfig()) != tokens_before
    # ... but the saved version still makes its own tokens and predictions.
    after = load_scorer(saved)
    tokens_after = preprocess(after.nlp, TEXTS, after.text_config)
    assert tokens_after == tokens_before
    np.testing.assert_array_equal(after.predict_proba(tokens_after), probs_before)
    assert [p.label for p in after.score_texts(TEXTS)] == [
        p.label for p in before.score_texts(TEXTS)
    ]


def test_saved_pipeline_records_its_rules(saved):
    nlp = spacy.load(saved / "tokenizer")
    assert nlp.meta["sentimon_rules"] == tokenize.RULES
    assert [t.text for t in nlp.make_doc("#UnitedSucks great:)")] == ["#UnitedSucks", "great", ":)"]


# The first release's model tokens, copied from its pipeline/tokenize.py: the reference that the
# committed default model (trained with them) must keep getting.
_LEGACY_ELONGATED = re.compile(r"(\w)\1{2,}")
_LEGACY_INVISIBLE = re.compile(
    "[\u200b-\u200d\u2060\ufeff\u00ad\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
)


def legacy_normalize(text):
    if not text:
        return ""
    fixed = _LEGACY_INVISIBLE.sub("", ftfy.fix_text(text, normalization="NFC"))
    return re.sub(r"\s+", " ", fixed).strip()


def legacy_tokens(doc):
    out = []
    for token in doc:
        if token.is_space:
            continue
        text = token.text
        if token.like_url:
            out.append("<url>")
        elif token.like_email:
            out.append("<email>")
        elif text.startswith("@") and len(text) > 1:
            out.append("<user>")
        elif token.like_num:
            out.append("<num>")
        else:
            out.append(_LEGACY_ELONGATED.sub(lambda m: m.group(1) * 2, text.lower()))
    return out


FIRST_RELEASE = Path(__file__).parent / "data" / "first_release"


@pytest.mark.slow
def test_a_first_release_model_keeps_its_first_release_tokens():
    """The tokenizer and text config of the first committed model version (copied from git
    history into tests/pipeline/data/first_release) still give exactly the old tokens."""
    import json

    from pipeline.training.corpus import load_corpus

    nlp = spacy.load(FIRST_RELEASE / "tokenizer")
    config = TextConfig.from_dict(json.loads((FIRST_RELEASE / "text_config.json").read_text()))
    assert (config.normalization, config.keep_handles, config.hashtags) == (1, (), "keep")
    texts = [*TEXTS, *load_corpus()["text"].sample(n=3000, random_state=1).tolist()]
    blank = spacy.blank("en")
    expected = [legacy_tokens(doc) for doc in blank.pipe(legacy_normalize(t) for t in texts)]
    assert preprocess(nlp, texts, config) == expected
