import json

import pytest
import torch

from pipeline.model.vocab import PAD, PAD_ID, UNK, UNK_ID, TokenRules, Vocabulary, pad_batch

TOKENS = [["b", "a", "c"], ["a", "b", "d"], ["c", "a", "e"], ["b"]]  # a:3 b:3 c:2 d:1 e:1


def test_specials_come_first():
    vocab = Vocabulary.build(TOKENS)
    assert (PAD_ID, UNK_ID) == (0, 1)
    assert vocab.tokens[:2] == [PAD, UNK]


def test_build_orders_by_count_then_token_and_applies_min_freq():
    assert Vocabulary.build(TOKENS, min_freq=2).tokens == [PAD, UNK, "a", "b", "c"]
    assert Vocabulary.build(TOKENS, min_freq=1).tokens == [PAD, UNK, "a", "b", "c", "d", "e"]


def test_build_is_independent_of_input_order():
    assert Vocabulary.build(TOKENS, 1) == Vocabulary.build(list(reversed(TOKENS)), 1)


def test_max_size_counts_the_specials():
    vocab = Vocabulary.build(TOKENS, min_freq=1, max_size=4)
    assert vocab.tokens == [PAD, UNK, "a", "b"]
    assert len(vocab) == 4


def test_special_strings_in_text_are_not_counted_twice():
    vocab = Vocabulary.build([[PAD, UNK, "x"], [PAD, "x"]], min_freq=1)
    assert vocab.tokens == [PAD, UNK, "x"]


def test_encode_maps_unknown_and_empty_to_unk_and_truncates():
    vocab = Vocabulary.build(TOKENS, min_freq=2)
    assert vocab.encode(["a", "zzz", "c"]) == [2, UNK_ID, 4]
    assert vocab.encode([]) == [UNK_ID]
    assert vocab.encode(["a", "b", "c"], max_len=2) == [2, 3]


def test_dict_round_trip_through_json():
    vocab = Vocabulary.build(TOKENS, min_freq=1)
    again = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again == vocab
    assert again.encode(["e", "a"]) == vocab.encode(["e", "a"])


def test_a_vocabulary_must_start_with_the_specials():
    with pytest.raises(ValueError, match="starts with"):
        Vocabulary(["a", "b"])


def test_pad_batch_pads_right_with_pad_id():
    ids, lengths = pad_batch([[5, 6, 7], [8]])
    assert ids.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID]]
    assert lengths.tolist() == [3, 1]
    assert ids.dtype == lengths.dtype == torch.long


def test_token_rules_collapse_brands_keep_excludes_and_drop_emphasis():
    from pipeline.model.vocab import BRAND, TokenRules

    rules = TokenRules(
        brands=(("united",), ("jet", "blue"), ("united", "airlines")),
        keep=(("united", "states"),),
        drop=frozenset("!"),
    )
    tokens = ["I", "!", "!!", "?!", "United", "Airlines", "united", "states", "jet", "blue", "<3"]
    assert rules.apply(tokens) == ["I", "?", BRAND, "united", "states", BRAND, "<3"]
    assert rules.apply([]) == []
    assert TokenRules().apply(["a", "!"]) == ["a", "!"]
    assert TokenRules.from_dict(json.loads(json.dumps(rules.to_dict()))) == rules


def test_rules_apply_to_building_encoding_features_and_survive_json():
    from pipeline.model.lexicon import Lexicon
    from pipeline.model.vocab import BRAND, TokenRules

    rules = TokenRules(brands=(("apple",), ("google",)), drop=frozenset("!"))
    lexicon = Lexicon({"love": 3.2}, frozenset({"not"}), {})
    vocab = Vocabulary.build([["i", "love", "apple", "!"]] * 2, 2, lexicon=lexicon, rules=rules)
    assert BRAND in vocab.tokens and "apple" not in vocab.tokens and "!" not in vocab.tokens
    assert vocab.encode(["i", "love", "google", "!"]) == vocab.encode(["i", "love", "apple"])
    assert vocab.features(["love", "!", "google"]) == vocab.features(["love", "apple"])
    again = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again == vocab and again.rules == rules
    assert "rules" not in Vocabulary.build(TOKENS).to_dict()  # old layout when unused


def test_runs_of_a_repeated_symbol_token_are_capped_and_words_are_not():
    rules = TokenRules(max_run=2)
    assert rules.apply(["👎", "👎", "👎", "👎"]) == ["👎", "👎"]
    assert rules.apply(["so", "so", "so", "👎", "👍", "👎"]) == ["so", "so", "so", "👎", "👍", "👎"]
    assert rules.apply([]) == []
    assert TokenRules.from_dict(json.loads(json.dumps(rules.to_dict()))) == rules
    assert "max_run" not in TokenRules().to_dict()  # versions saved before it read the same


def test_extra_tokens_follow_the_corpus_part_without_repeats():
    vocab = Vocabulary.build([["b", "a", "a"]], min_freq=1, extra=["a", "z", "y", "x"], max_extra=2)
    assert vocab.tokens == [PAD, UNK, "a", "b", "z", "y"]
    assert vocab.corpus_size == 4


def test_the_corpus_part_survives_json_and_a_vocabulary_without_extras_counts_every_row():
    vocab = Vocabulary.build([["b", "a", "a"]], min_freq=1, extra=["z", "y"], max_extra=2)
    loaded = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert loaded.corpus_size == 4 and len(loaded) == 6
    plain = Vocabulary.from_dict(Vocabulary.build([["a"]], min_freq=1).to_dict())
    assert plain.corpus_size == len(plain)
