"""normalize_text: what each version repairs, and that the ASCII shortcut changes nothing."""

import re

import ftfy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.text.normalize import LATEST, VERSIONS, _full, normalize_text


def reference_v1(text: str) -> str:
    """Version 1 exactly as the first models were trained with it (the code of that release)."""
    invisible = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
    if not text:
        return ""
    fixed = invisible.sub("", ftfy.fix_text(text, normalization="NFC"))
    return re.sub(r"\s+", " ", fixed).strip()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("", ""),
        ("   \n\t ", ""),
        ("donâ€™t", "don't"),  # mojibake fixed, quote uncurled
        ("it’s “great”", 'it\'s "great"'),
        ("fish &amp; chips", "fish & chips"),
        ("R&amp;amp;D", "R&D"),  # escaped twice
        ("&lt;3 &#39;quoted&#39;", "<3 'quoted'"),
        ("<b>bold &amp; html</b>", "<b>bold &amp; html</b>"),  # real HTML: entities kept
        ("zero\u200bwidth\u2060joined\ufeff", "zerowidthjoined"),
        ("soft\u00adhyphen", "softhyphen"),
        ("bell\x07 and\x0bvtab", "bell andvtab"),
        ("  many \n\t spaces \r\n", "many spaces"),
        ("cafe\u0301", "café"),  # NFC
        ("ｆｕｌｌ width", "full width"),
        ("ﬁne", "fine"),  # ligature
        ("مرحبا بالعالم", "مرحبا بالعالم"),  # right to left, untouched
        ("שלום  עולם", "שלום עולם"),
    ],
)
def test_both_versions_repair_the_same(version, raw, clean):
    assert normalize_text(raw, version) == clean


@pytest.mark.parametrize(
    ("raw", "v1", "v2"),
    [
        ("👍🏽", "👍🏽", "👍"),  # skin tone
        ("❤️ it", "❤️ it", "❤ it"),  # variation selector 16
        ("👨\u200d💻", "👨💻", "👨💻"),  # zero-width joiner: two emoji in both
    ],
)
def test_version_2_drops_emoji_modifiers(raw, v1, v2):
    assert normalize_text(raw, 1) == v1
    assert normalize_text(raw, 2) == v2
    assert normalize_text(raw) == v2 and LATEST == 2


def test_unknown_version_is_refused():
    with pytest.raises(ValueError, match="unknown normalisation version 7"):
        normalize_text("x", 7)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_shortcut_returns_what_the_full_path_returns(text):
    for version in VERSIONS:
        assert normalize_text(text, version) == _full(text, version)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_version_1_never_changes(text):
    assert normalize_text(text, 1) == reference_v1(text)


def test_version_2_matches_version_1_on_the_corpus_sample():
    # Version 2's one-pass repair must do what ftfy's repeated passes do on real posts.
    texts = [
        "I canâ€™t believe @united lost my bag &amp;amp; my coat",
        "Google’s self-driving car… so cool 😍",
        "Honkin&amp;#x92; Mad: the driverless car",
        "Caf\u00e9 \u201cclosed\u201d again",
    ]
    assert [normalize_text(t, 2) for t in texts] == [normalize_text(t, 1) for t in texts]


def test_fifty_thousand_characters_stay_whole():
    text = ("good flight " * 5000)[:50_000]
    assert normalize_text(text) == text.strip()
