import pytest

from pipeline.text.normalize import normalize_text
from pipeline.text.tokenize import TextConfig, make_nlp, preprocess


@pytest.fixture(scope="module")
def nlp():
    return make_nlp()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("", ""),
        ("donâ€™t", "don't"),  # mojibake fixed, quote uncurled
        ("it’s", "it's"),
        ("fish &amp; chips", "fish & chips"),
        ("zero\u200bwidth", "zerowidth"),
        ("  many \n\t spaces ", "many spaces"),
        ("cafe\u0301", "café"),
    ],
)
def test_normalize(raw, clean):
    assert normalize_text(raw) == clean


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", []),
        ("@someone I can't believe it!!", ["<user>", "i", "ca", "n't", "believe", "it", "!!"]),
        ("see http://t.co/x or mail me@x.com", ["see", "<url>", "or", "mail", "<email>"]),
        ("soooo 12 :) 😀", ["soo", "<num>", ":)", "😀"]),
        ("NOT GOOD", ["not", "good"]),
    ],
)
def test_model_tokens(nlp, text, tokens):
    assert preprocess(nlp, [text], TextConfig()) == [tokens]


def test_text_config_round_trips_and_changes_tokens(nlp):
    config = TextConfig(lowercase=False, max_repeat=0)
    assert TextConfig.from_dict(config.to_dict()) == config
    assert preprocess(nlp, ["Soooo"], config) == [["Soooo"]]
