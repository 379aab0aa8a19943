import pytest

from pipeline.brands import BrandMatcher, load_brands
from pipeline.errors import ConfigError
from pipeline.tokenize import make_nlp

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


@pytest.fixture(scope="module")
def matcher(tmp_path_factory):
    path = tmp_path_factory.mktemp("b") / "brands.toml"
    path.write_text(BRANDS)
    nlp = make_nlp()
    m = BrandMatcher(nlp, load_brands(path))
    return lambda text, hints=(): m.match(nlp.make_doc(text), hints)


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


def test_source_hints_are_mapped_to_configured_names(matcher):
    assert matcher("no brand here", ("@UNITED", "Acme")) == ("Acme", "United Airlines")


def test_bad_brands_file_is_a_clear_error(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text('[[brands]]\nname = "X"\naliases = "x"\n')
    with pytest.raises(ConfigError, match=r"X\.aliases must be a list"):
        load_brands(path)
    with pytest.raises(ConfigError, match="not found"):
        load_brands(tmp_path / "missing.toml")
