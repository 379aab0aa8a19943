from pathlib import Path

import pytest
import spacy

from pipeline.errors import ConfigError
from pipeline.text.brand_file import load_brands
from pipeline.text.brands import BrandMatcher
from pipeline.text.tokenize import TextConfig, make_docs, make_nlp

BUNDLED = Path(__file__).resolve().parents[3] / "configs" / "brands.toml"

BRANDS = """
[[brands]]
name = "United Airlines"
aliases = ["united airlines", "united air"]
handles = ["@united"]
hashtags = ["#united", "#unitedairlines"]
exclude = ["united states", "united nations"]

[[brands]]
name = "Apple"
aliases = ["apple"]
exclude = ["apple pie"]
"""

# Both tokenizers a model version may bring: this release's rules and the first release's
# (plain spacy.blank("en"), which the committed default model was saved with).
TOKENIZERS = {"current": make_nlp, "first release": lambda: spacy.blank("en")}


def matcher_for(path, make):
    nlp = make()
    m = BrandMatcher(nlp, load_brands(path))
    config = TextConfig()

    def match(text, hints=()):
        return m.match(next(make_docs(nlp, [text], config)), hints)

    return match


@pytest.fixture(scope="module", params=list(TOKENIZERS))
def matcher(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("b") / "brands.toml"
    path.write_text(BRANDS)
    return matcher_for(path, TOKENIZERS[request.param])


@pytest.fixture(scope="module", params=list(TOKENIZERS))
def bundled(request):
    return matcher_for(BUNDLED, TOKENIZERS[request.param])


@pytest.mark.parametrize(
    ("text", "brands"),
    [
        ("United Airlines lost my bag", ("United Airlines",)),
        ("UNITED airlines!", ("United Airlines",)),
        ("thanks @United", ("United Airlines",)),
        ("#United #UnitedAirlines", ("United Airlines",)),
        ("disunited states", ()),
        ("the united states of america", ()),
        ("@united_fan hello", ()),
        ("apple pie and united nations", ()),
        ("Apple and united air", ("Apple", "United Airlines")),
        ("", ()),
    ],
)
def test_brand_variants_and_near_misses(matcher, text, brands):
    assert matcher(text) == brands


@pytest.mark.parametrize(
    ("text", "brands"),
    [
        # case and punctuation variants
        ("United Airlines lost my bag", ("United Airlines",)),
        ("UNITED airlines!", ("United Airlines",)),
        ("flying united-airlines today", ("United Airlines",)),
        ("(@united) why", ("United Airlines",)),
        ("@UNITED: thx", ("United Airlines",)),
        ("#United.", ("United Airlines",)),
        ("I love United Airlines' new app", ("United Airlines",)),
        ("“United Airlines” again", ("United Airlines",)),
        ("united\u200b airlines", ("United Airlines",)),  # zero-width space
        # hashtags: whole, or their camel-case words
        ("#UnitedAirlinesSucks", ("United Airlines",)),
        ("#JetBlueRocks", ("JetBlue",)),
        ("#iPhoneLife", ("Apple",)),
        # several brands in one post
        (
            "@JetBlue beats @AmericanAir and jet blue beats US Airways",
            (
                "American Airlines",
                "JetBlue",
                "US Airways",
            ),
        ),
        # near misses: substrings, other handles, unconfigured words
        ("disunited", ()),
        ("the reunited band", ()),
        ("@united_fan @unitedway", ()),
        ("#unitedway #UnitedFront", ()),
        ("united we stand", ()),
        ("pineapple and applesauce", ()),
        ("googled it", ()),
        ("jetblues", ()),
        ("email me at united@example.com", ()),
        ("http://united.com/deals", ()),
        # exclude phrases win
        ("the United States government", ()),
        ("#UnitedStates", ()),
        ("United Nations and the United Kingdom", ()),
        ("apple pie in the big apple", ()),
        ("#BigApple #AppleJuice", ()),
        ("apple juice on my iPhone", ("Apple",)),  # excluded "apple", but "iphone" counts
        # no spaces between words in Japanese / Chinese: a change of script ends one
        ("JetBlueの座席は広い", ("JetBlue",)),
        ("我喜欢JetBlue", ("JetBlue",)),
        ("@JetBlueありがとう", ("JetBlue",)),
        ("JetBluesの歌", ()),
        ("ユナイテッドの便", ()),
    ],
)
def test_bundled_brands_near_misses(bundled, text, brands):
    assert bundled(text) == brands


def test_source_hints_are_mapped_to_configured_names(matcher):
    assert matcher("no brand here", ("@UNITED", "Acme", " ")) == ("Acme", "United Airlines")


def test_bad_brands_file_is_a_clear_error(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text('[[brands]]\nname = "X"\naliases = "x"\n')
    with pytest.raises(ConfigError, match=r"X\.aliases must be a list"):
        load_brands(path)
    with pytest.raises(ConfigError, match="not found"):
        load_brands(tmp_path / "missing.toml")


def test_a_misspelt_key_in_the_brands_file_is_an_error_not_lost_mentions(tmp_path):
    path = tmp_path / "brands.toml"
    path.write_text('[[brands]]\nname = "Acme"\nhandels = ["@acmeco"]\n', encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"unknown key 'handels' in brand Acme \(did you mean 'handles'\?\)"
    ):
        load_brands(path)
    path.write_text('[[brands]]\nname = "Acme"\n\n[brand]\nname = "Other"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown key 'brand' \(did you mean 'brands'\?\)"):
        load_brands(path)
    path.write_text('[[brands]]\nname = "Acme"\nhandles = ["@acmeco"]\n', encoding="utf-8")
    assert load_brands(path).brands[0].handles == ("@acmeco",)
