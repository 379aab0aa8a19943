"""Content keys: retweets, quotes and copies share their original's key; short texts do not link."""

import pytest

from pipeline.records import MIN_WORDS_FOR_COPY, content_key

ORIGINAL = "@united lost my bag again and nobody at the desk can tell me where it is"


@pytest.mark.parametrize(
    "variant",
    [
        f"RT @angry_flyer: {ORIGINAL}",
        f"RT @a: RT @b: {ORIGINAL}",
        f"rt @angry_flyer {ORIGINAL}",
        f"“@angry_flyer: {ORIGINAL}”",
        f'"@angry_flyer: {ORIGINAL}"',
        f"{ORIGINAL} http://t.co/abc123",
        ORIGINAL.upper() + "!!!",
        ORIGINAL.replace("bag", "bag,"),
        ORIGINAL.replace(" ", "   "),
    ],
)
def test_retweets_quotes_and_copies_share_the_original_key(variant):
    key = content_key(variant)
    assert key.hash == content_key(ORIGINAL).hash
    assert key.linkable


def test_handles_inside_the_text_keep_two_customers_apart():
    assert content_key("@united thanks for the upgrade today").hash != (
        content_key("@delta thanks for the upgrade today").hash
    )


def test_short_texts_link_only_with_an_explicit_retweet_marker():
    assert not content_key("thanks so much!").linkable
    assert content_key("RT @someone: thanks so much!").linkable
    long_enough = " ".join(["word"] * MIN_WORDS_FOR_COPY)
    assert content_key(long_enough).linkable


@pytest.mark.parametrize("text", ["", "   ", "😀😀", "!!!", "لا أحب هذا"])
def test_degenerate_texts_get_a_key_of_their_own(text):
    key = content_key(text)
    assert len(key.hash) == 64
    assert content_key("😀😀").hash != content_key("😡😡").hash
