"""The tokenizer rules and model tokens of new model versions: a table of tricky inputs."""

import time
import tomllib
from pathlib import Path

import pytest
import spacy

from pipeline.text.tokenize import (
    BRAND_HANDLES,
    TextConfig,
    docs_tokens,
    make_docs,
    make_nlp,
    model_tokens,
    preprocess,
    split_hashtag,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def nlp():
    return make_nlp()


def tokens(nlp, text, config=None):
    return preprocess(nlp, [text], config or TextConfig())[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # empty and blank
        ("", []),
        ("   \n\t  ", []),
        # emoji only; modifiers dropped, runs kept as separate tokens
        ("😀😀", ["😀", "😀"]),
        ("👍🏽 ❤️", ["👍", "❤"]),
        # all caps
        ("WORST AIRLINE EVER", ["worst", "airline", "ever"]),
        # only URLs
        ("http://t.co/abc https://example.com/a?b=1 www.foo.com", ["<url>", "<url>", "<url>"]),
        ("mail me@example.com", ["mail", "<email>"]),
        # right to left
        ("שירות גרוע @united", ["שירות", "גרוע", "@united"]),
        ("شكرا جزيلا :)", ["شكرا", "جزيلا", ":)"]),
        # zero-width and control characters
        ("goo\u200bd fl\u200dight\x07", ["good", "flight"]),
        # HTML entities and mojibake
        ("fish &amp; chips &lt;3", ["fish", "&", "chips", "<3"]),
        ("donâ€™t", ["do", "n't"]),
        ("it’s “fine”", ["it", "'s", '"', "fine", '"']),
        # negations
        (
            "I can't, I cannot, I dont",
            ["i", "ca", "n't", ",", "i", "can", "not", ",", "i", "do", "n't"],
        ),
        ("NOT GOOD", ["not", "good"]),
        # emoticons, also elongated or glued to a word
        (":) :-( <3 ;-) :P", [":)", ":-(", "<3", ";-)", ":p"]),
        ("great:))))) </3", ["great", ":))", "</3"]),
        ("^_^ -__- D:", ["^_^", "-__-", "d:"]),
        # elongation
        ("soooo goooood!!!!!", ["soo", "good", "!!"]),
        ("why?!?!", ["why", "?!?!"]),
        # numbers
        (
            "2 hours late, $100 fee, 3.5 stars",
            ["<num>", "hours", "late", ",", "$", "<num>", "fee", ",", "<num>", "stars"],
        ),
        # handles: brand handles kept, other people masked
        ("@United @VirginAmerica @bob_smith", ["@united", "@virginamerica", "<user>"]),
        # hashtags: one token in the Doc, their camel-case words for the model
        ("#UnitedAirlinesSucks!", ["united", "airlines", "sucks", "!"]),
        (
            "#fail #iPhone6 #USAirways #neveragain",
            ["fail", "iphone", "<num>", "us", "airways", "neveragain"],
        ),
    ],
)
def test_model_tokens_of_tricky_inputs(nlp, text, expected):
    assert tokens(nlp, text) == expected


def test_fifty_thousand_characters(nlp):
    text = ("great flight :) " * 4000)[:50_000]
    started = time.perf_counter()
    result = tokens(nlp, text)
    assert time.perf_counter() - started < 5
    assert result[:4] == ["great", "flight", ":)", "great"]
    assert len(result) == 3 * 3125  # 16 characters per repeat
    assert tokens(nlp, "a" * 50_000) == ["aa"]


def test_hashtags_handles_and_emoticons_stay_one_doc_token(nlp):
    doc = next(make_docs(nlp, ["#UnitedAirlinesSucks! (@united) great:) wow!!!"]))
    assert [t.text for t in doc] == [
        "#UnitedAirlinesSucks",
        "!",
        "(",
        "@united",
        ")",
        "great",
        ":)",
        "wow",
        "!!!",
    ]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("UnitedAirlinesSucks", ["United", "Airlines", "Sucks"]),
        ("USAirways", ["US", "Airways"]),
        ("iPhone6s", ["iPhone", "6", "s"]),
        ("Flight_1549", ["Flight", "1549"]),
        ("neveragain", ["neveragain"]),
        ("FAIL", ["FAIL"]),
        ("日本", ["日本"]),
        ("", []),
    ],
)
def test_split_hashtag(body, words):
    assert split_hashtag(body) == words


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("split", ["united", "sucks"]),
        ("keep", ["#unitedsucks"]),
        ("both", ["#unitedsucks", "united", "sucks"]),
    ],
)
def test_hashtag_modes(nlp, mode, expected):
    assert tokens(nlp, "#UnitedSucks", TextConfig(hashtags=mode)) == expected


def test_settings_change_tokens(nlp):
    text = "@united Soooo GOOD #BestDay :)))"
    assert tokens(nlp, text) == ["@united", "soo", "good", "best", "day", ":))"]
    raw = TextConfig(lowercase=False, max_repeat=0, keep_handles=(), hashtags="keep")
    assert tokens(nlp, text, raw) == ["<user>", "Soooo", "GOOD", "#BestDay", ":)))"]


def test_text_config_round_trips_and_validates():
    config = TextConfig(lowercase=False, hashtags="both", keep_handles=("@Acme", " @acme "))
    assert config.keep_handles == ("@acme",)
    assert TextConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="hashtags='tags'"):
        TextConfig(hashtags="tags")
    with pytest.raises(ValueError, match="unknown text settings"):
        TextConfig.from_dict({"emoji": "drop"})


def test_a_config_saved_before_the_new_fields_reads_as_the_old_behaviour():
    old = {
        "lowercase": True,
        "mask_emails": True,
        "mask_numbers": True,
        "mask_urls": True,
        "mask_users": True,
        "max_repeat": 2,
    }
    config = TextConfig.from_dict(old)
    assert config.normalization == 1
    assert config.keep_handles == ()
    assert config.hashtags == "keep"
    assert not config.cap_symbol_runs and not config.unify_negations


def test_default_brand_handles_are_the_bundled_brands_files_handles():
    brands = tomllib.loads((ROOT / "configs" / "brands.toml").read_text())["brands"]
    handles = {h.lower() for b in brands for h in b.get("handles", [])}
    assert set(BRAND_HANDLES) == handles
    assert TextConfig().keep_handles == tuple(sorted(handles))


def test_n_process_gives_the_same_docs(nlp):
    texts = ["#UnitedSucks :)", "donâ€™t go", "", "@united thx"] * 3
    one = [[t.text for t in d] for d in make_docs(nlp, texts)]
    two = [[t.text for t in d] for d in make_docs(nlp, texts, n_process=2, batch_size=4)]
    assert one == two


@pytest.mark.parametrize(
    "config", [TextConfig(), TextConfig.from_dict({}), TextConfig(hashtags="both", lowercase=False)]
)
def test_preprocess_gives_exactly_the_tokens_of_the_docs(config):
    # preprocess takes model tokens chunk by chunk (a cache); they must be the Docs' tokens.
    from pipeline.training.corpus import load_corpus

    texts = [
        *load_corpus()["text"].sample(n=3000, random_state=3).tolist(),
        "a  b\tc\nd",
        " lead and trail ",
        "#United!! great:)))) <3 @united's :-( don't  stop",
        "",
    ]
    for nlp in (make_nlp(), spacy.blank("en")):
        from_docs = [model_tokens(doc, config) for doc in make_docs(nlp, texts, config)]
        assert preprocess(nlp, texts, config) == from_docs
        assert preprocess(nlp, texts, config) == from_docs  # and again, from the cache
        # The pipeline reads the tokens of the Docs it made for brand matching.
        assert docs_tokens(list(make_docs(nlp, texts, config)), config) == from_docs


def test_a_vocabulary_reading_only_sentimon_s_attributes_gives_the_same_tokens_and_brands():
    # The pipelines of make_nlp and load_scorer compute 5 of spaCy's 23 lexeme attributes: every
    # model token and brand match must be what a vocabulary computing all of them gives.
    from pipeline.text.brand_file import load_brands
    from pipeline.text.brands import BrandMatcher
    from pipeline.training.corpus import load_corpus

    texts = [
        *load_corpus()["text"].sample(n=3000, random_state=5).tolist(),
        "call 555-1234 or mail me@x.org, see https://t.co/abc and www.delta.com 1,000 times",
        "@Delta @united thx!!! #DeltaAirlines soooo 3rd time",
    ]
    brands = load_brands(ROOT / "configs" / "brands.toml")
    lean, full = make_nlp(), make_nlp()
    full.vocab.lex_attr_getters = dict(spacy.blank("en").vocab.lex_attr_getters)  # spaCy's own
    assert len(lean.vocab.lex_attr_getters) == 5 < len(full.vocab.lex_attr_getters)
    found = {}
    for name, nlp in {"lean": lean, "full": full}.items():
        docs = list(make_docs(nlp, texts, TextConfig()))
        matcher = BrandMatcher(nlp, brands)
        found[name] = (
            docs_tokens(docs, TextConfig()),
            [matcher.match(doc, (), doc.text) for doc in docs],
        )
    assert found["lean"] == found["full"]
    assert any(found["lean"][1]), "the sample holds brand mentions"
