import dataclasses
import json

import pytest
import torch

from pipeline.model.lexicon import NEGATION_SCALAR, NUM_FEATURES, Lexicon, load_vader_lexicon
from pipeline.model.lstm import LSTMClassifier, ModelConfig
from pipeline.model.vocab import Vocabulary, pad_batch, pad_features


@pytest.fixture(scope="module")
def vader():
    return load_vader_lexicon()


@pytest.fixture
def small():
    return Lexicon(
        valence={"good": 2.0, "bad": -2.0, ":)": 2.0},
        negators=frozenset({"not", "n't"}),
        intensity={"very": 1.0, "slightly": -1.0},
    )


def test_vader_lexicon_has_words_emoticons_emoji_and_negators(vader):
    assert vader.valence["good"] == pytest.approx(1.9)
    assert vader.valence["horrible"] < -2
    assert vader.valence[":)"] > 0
    assert vader.valence["😍"] > 0  # from the emoji's description ("smiling face with heart-eyes")
    assert {"not", "n't", "nt", "never"} <= vader.negators
    assert vader.intensity["very"] == 1.0 and vader.intensity["slightly"] == -1.0
    assert len(vader.valence) > 7000
    assert vader.source.startswith("vaderSentiment")


def test_features_of_a_plain_rated_word(small):
    rows = small.features(["good", "day"])
    assert rows == [(0.5, 0.5, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0)]


def test_negation_flips_the_next_three_tokens_only(small):
    rows = small.features(["not", "a", "very", "good", "day", "bad"])
    assert rows[0][2] == 1.0  # "not" is a negator
    assert rows[2][3] == 1.0  # "very" boosts
    assert rows[3][1] == pytest.approx(0.5 * NEGATION_SCALAR)  # "good", 3 after "not"
    assert rows[3][0] == 0.5  # the plain valence is kept beside it
    assert rows[5][1] == -0.5  # "bad" is 5 tokens after "not": out of reach


def test_spacy_style_negation_and_case_and_hashtags(small):
    rows = small.features(["do", "n't", "GOOD", "#bad"])
    assert rows[2][1] == pytest.approx(0.5 * NEGATION_SCALAR)
    assert rows[3][0] == -0.5


def test_empty_and_truncated(small):
    assert small.features([]) == [(0.0,) * NUM_FEATURES]
    assert len(small.features(["good", "bad", "good"], max_len=2)) == 2


def test_round_trip_inside_the_vocabulary(small):
    vocab = Vocabulary.build([["good", "day"]], min_freq=1, lexicon=small)
    again = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again == vocab
    assert again.features(["not", "good"]) == small.features(["not", "good"])
    assert Vocabulary.build([["good"]], min_freq=1).features(["good"]) is None


def test_unknown_words_keep_their_lexicon_features(small):
    vocab = Vocabulary.build([["day"]], min_freq=1, lexicon=small)
    assert vocab.encode(["bad"]) == [1]  # <unk>
    assert vocab.features(["bad"])[0][0] == -0.5


def test_model_reads_the_features_and_they_matter():
    torch.manual_seed(0)
    config = ModelConfig(
        vocab_size=10,
        embed_dim=4,
        hidden_size=3,
        dropout=0.0,
        lexicon_features=4,
        lexicon_head=True,
    )
    model = LSTMClassifier(config).eval()
    ids, lengths = pad_batch([[2, 3], [4]])
    quiet = pad_features([[(0.0,) * 4] * 2, [(0.0,) * 4]])
    loud = pad_features([[(1.0, 1.0, 0.0, 0.0)] * 2, [(-1.0, -1.0, 0.0, 0.0)]])
    assert model(ids, lengths, quiet).shape == (2, 3)
    assert not torch.allclose(model(ids, lengths, quiet), model(ids, lengths, loud))
    with pytest.raises(ValueError, match="lexicon features"):
        model(ids, lengths)


def test_padding_rows_of_features_change_nothing():
    torch.manual_seed(0)
    config = ModelConfig(
        vocab_size=10,
        embed_dim=4,
        hidden_size=3,
        dropout=0.0,
        lexicon_features=4,
        lexicon_head=True,
    )
    model = LSTMClassifier(config).eval()
    rows = [(0.5, 0.5, 0.0, 1.0), (-0.2, 0.1, 1.0, 0.0)]
    ids, lengths = pad_batch([[2, 3], [4, 5, 6, 7]])
    batch = model(ids, lengths, pad_features([rows, rows * 2]))
    alone = model(*pad_batch([[2, 3]]), pad_features([rows]))
    torch.testing.assert_close(batch[:1], alone)


def test_feature_rows_stay_aligned_with_ids_under_token_rules(small):
    from pipeline.model.predict import encode_all
    from pipeline.model.vocab import BRAND, TokenRules

    rules = TokenRules(brands=(("jet", "blue"),), drop=frozenset("!"))
    vocab = Vocabulary.build([["fly", BRAND, "good"]] * 2, lexicon=small, rules=rules)
    tokens = [["fly", "jet", "blue", "!", "!!", "good", "!"], ["!"], []]
    ids, features = encode_all(vocab, tokens, max_tokens=None)
    assert [len(i) for i in ids] == [len(f) for f in features] == [3, 1, 1]
    assert ids[0] == vocab.encode(["fly", BRAND, "good"])
    assert features[0][2][0] == 0.5  # "good" keeps its own row after the rewrites


def test_lexicon_compound_is_vaders_normalisation_of_the_negation_aware_sum():
    from pipeline.model.lstm import lexicon_compound

    # Feature 1 holds valence / 4 after negation; two tokens of the second text are padding.
    features = torch.tensor(
        [[[0.0, 0.5, 0, 0], [0.0, -0.25, 0, 0]], [[0.0, 0.75, 0, 0], [0.0, 9.0, 0, 0]]]
    )
    mask = torch.tensor([[True, True], [True, False]])
    total = torch.tensor([(0.5 - 0.25) * 4, 0.75 * 4])  # VADER's sum, on its -4..4 scale
    expected = total / torch.sqrt(total * total + 15.0)
    torch.testing.assert_close(lexicon_compound(features, mask), expected)


def test_lexicon_prior_adds_its_weighted_compound_to_the_logits_and_nothing_else():
    import dataclasses

    from pipeline.model.lstm import lexicon_compound

    config = ModelConfig(vocab_size=10, embed_dim=4, hidden_size=3, lexicon_features=4)
    plain = LSTMClassifier(config).eval()
    with_prior = LSTMClassifier(dataclasses.replace(config, lexicon_prior=1.5)).eval()
    with_prior.load_state_dict(plain.state_dict())
    rows = [(0.5, 0.5, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0), (-0.5, 0.37, 0.0, 0.0)]
    ids, lengths = pad_batch([[2, 3, 4], [5]])
    features = pad_features([rows, rows[:1]])
    mask = torch.tensor([[True, True, True], [True, False, False]])
    c = lexicon_compound(features, mask)
    shift = 1.5 * torch.stack([-c, torch.zeros_like(c), c], dim=-1)
    with torch.inference_mode():
        torch.testing.assert_close(
            with_prior(ids, lengths, features), plain(ids, lengths, features) + shift
        )
    assert c[0] > 0 > -c[1]  # a positive text leans positive; the prior is not a constant


def test_polarity_prior_moves_the_score_and_leaves_neutral_alone():
    from pipeline.model.lstm import lexicon_compound

    config = ModelConfig(vocab_size=10, embed_dim=4, hidden_size=3, lexicon_features=4)
    plain = LSTMClassifier(config).eval()
    polar = LSTMClassifier(
        dataclasses.replace(config, lexicon_prior=2.0, prior_mode="polarity")
    ).eval()
    polar.load_state_dict(plain.state_dict())
    rows = [(0.5, 0.5, 0.0, 0.0), (-0.75, -0.75, 0.0, 0.0)]
    ids, lengths = pad_batch([[2, 3], [4, 5]])
    features = pad_features([rows[:1] * 2, rows[1:] * 2])
    with torch.inference_mode():
        before = torch.softmax(plain(ids, lengths, features), dim=-1)  # [2, 3]
        after = torch.softmax(polar(ids, lengths, features), dim=-1)
    torch.testing.assert_close(after[:, 1], before[:, 1])  # neutral unchanged
    score_shift = (after[:, 2] - after[:, 0]) - (before[:, 2] - before[:, 0])
    c = lexicon_compound(features, torch.ones(2, 2, dtype=torch.bool))
    assert score_shift[0] > 0 > score_shift[1] and c[0] > 0 > c[1]


def test_a_negative_compound_can_weigh_more_than_a_positive_one():
    from pipeline.model.lstm import lexicon_compound

    config = ModelConfig(
        vocab_size=10, embed_dim=4, hidden_size=3, lexicon_features=4, lexicon_prior=1.0
    )
    plain = LSTMClassifier(dataclasses.replace(config, lexicon_prior=0.0)).eval()
    split = LSTMClassifier(dataclasses.replace(config, lexicon_prior_negative=3.0)).eval()
    split.load_state_dict(plain.state_dict())
    rows = [(0.5, 0.5, 0.0, 0.0), (-0.5, -0.5, 0.0, 0.0)]
    ids, lengths = pad_batch([[2], [3]])
    features = pad_features([rows[:1], rows[1:]])
    c = lexicon_compound(features, None)
    assert c[0] > 0 > c[1]
    weighted = torch.stack([1.0 * c[0], 3.0 * c[1]])
    with torch.inference_mode():
        torch.testing.assert_close(
            split(ids, lengths, features),
            plain(ids, lengths, features)
            + torch.stack([-weighted, torch.zeros(2), weighted], dim=-1),
        )
    assert config.prior_weights() == (1.0, 1.0)  # unset: one weight both ways
    assert config.without_prior().has_prior is False
    split_config = dataclasses.replace(config, lexicon_prior_negative=3.0)
    assert split_config.without_prior().has_prior is False


def test_the_but_rule_weighs_the_clause_after_the_first_but():
    from pipeline.model.lstm import contrast_weights, lexicon_compound

    but = 7
    ids = torch.tensor([[2, but, 3, but, 4], [2, 3, 4, 5, 6]])
    expected = torch.tensor([[0.5, 1.0, 1.5, 1.5, 1.5], [1.0] * 5])
    torch.testing.assert_close(contrast_weights(ids, but), expected)
    assert contrast_weights(ids[1:], but) is None  # no "but" in the batch: nothing to weigh
    # "good, but bad": VADER's 0.5 x 2 - 1.5 x 2 leans negative where the plain sum is 0.
    features = torch.tensor([[[0.0, 0.5, 0, 0], [0.0, 0.0, 0, 0], [0.0, -0.5, 0, 0]]])
    good_but_bad = torch.tensor([[3, but, 4]])
    assert lexicon_compound(features, None) == 0
    total = torch.tensor([(0.5 * 0.5 - 1.5 * 0.5) * 4])
    torch.testing.assert_close(
        lexicon_compound(features, None, (good_but_bad, but)),
        total / torch.sqrt(total * total + 15.0),
    )
    # A padded batch weighs the same steps: padding is masked, not counted as a clause.
    mask = torch.tensor([[True, True, True]])
    torch.testing.assert_close(
        lexicon_compound(features, mask, (good_but_bad, but)),
        lexicon_compound(features, None, (good_but_bad, but)),
    )


def test_unknown_prior_mode_is_refused():
    with pytest.raises(ValueError, match="unknown prior_mode"):
        ModelConfig(vocab_size=10, lexicon_features=4, lexicon_prior=1.0, prior_mode="gate")


def test_a_prior_needs_lexicon_features():
    with pytest.raises(ValueError, match="lexicon_prior"):
        ModelConfig(vocab_size=10, lexicon_prior=1.0)


def test_encode_with_features_equals_encode_and_features_also_on_repeated_calls(small):
    from pipeline.model.vocab import BRAND, TokenRules

    rules = TokenRules(brands=(("jet", "blue"),), drop=frozenset("!"))
    vocab = Vocabulary.build([["fly", BRAND, "good"]] * 2, lexicon=small, rules=rules)
    tokens = ["Not", "GOOD", "jet", "Blue", "!!", "good", "bad", "?!", "NOT", "good"]
    for max_len in (None, 4):
        for _ in range(2):  # the second pass reads the token caches the first one filled
            ids, rows = vocab.encode_with_features(tokens, max_len)
            assert ids == vocab.encode(tokens, max_len)
            assert rows == vocab.features(tokens, max_len)
    ids, rows = vocab.encode_with_features(tokens)
    assert rows is not None and rows[1][1] == pytest.approx(0.5 * NEGATION_SCALAR)
    assert vocab.encode_with_features([]) == ([1], [(0.0,) * NUM_FEATURES])


def test_clitics_do_not_count_towards_the_negation_window(vader):
    from pipeline.model.lexicon import CLITICS

    tokens = ["ca", "n't", "say", "i", "'m", "happy"]
    plain = vader.features(tokens)
    with_clitics = dataclasses.replace(vader, clitics=CLITICS).features(tokens)
    assert plain[-1][1] > 0  # "happy" is four tokens after "n't": outside the window
    assert with_clitics[-1][1] < 0  # three words after it, as VADER counts: negated


def test_more_lexicons_fill_only_what_vader_lacks(tmp_path, vader):
    from pipeline.model.lexicon import load_lexicon

    (tmp_path / "languages" / "en").mkdir(parents=True)
    (tmp_path / "languages" / "en" / "labels.json").write_text('{"good": -5, "zork": 5}')
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "Emoji_Sentiment_Data_v1.0.csv").write_text(
        "Emoji,Unicode codepoint,Occurrences,Position,Negative,Neutral,Positive,Unicode name,"
        "Unicode block\n👎,0x1f44e,258,0.5,128,51,79,THUMBS DOWN SIGN,x\n"
    )
    merged = load_lexicon(("vader", "textblob", "emoji", "afinn"), tmp_path)
    assert merged.valence["good"] == vader.valence["good"]  # VADER's rating wins
    assert merged.valence["zork"] == 4.0  # AFINN's 5 on VADER's scale
    assert merged.valence["👎"] == pytest.approx(4 * (79 - 128) / (79 + 128 + 10), abs=1e-3)
    assert "textblob" in merged.source and merged.clitics
    assert load_lexicon(("vader",)) == vader


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        (("textblob",), "start with 'vader'"),
        (("vader", "sentiwordnet"), "start with 'vader'"),
        (("vader", "afinn"), "need lexicon_dir"),
    ],
)
def test_bad_lexicon_lists_are_config_errors(sources, message):
    from pipeline.errors import ConfigError
    from pipeline.model.lexicon import load_lexicon

    with pytest.raises(ConfigError, match=message):
        load_lexicon(sources)


def test_missing_npm_files_say_how_to_fetch_them(tmp_path):
    from pipeline.errors import ConfigError
    from pipeline.model.lexicon import load_lexicon

    with pytest.raises(ConfigError, match=r"make lexicons"):
        load_lexicon(("vader", "afinn"), tmp_path)
