"""Out-of-domain signals: the sums, the figures, the verdict and the warning; the Scorer's count."""

import dataclasses

import pytest

from pipeline.model.domain_shift import (
    DomainSignals,
    ShiftThresholds,
    is_unfamiliar,
    measure,
    shift_warning,
    signal_figures,
    signals_markdown,
)
from pipeline.model.vocab import UNK_ID, TokenRules, Vocabulary

LOOSE = ShiftThresholds(max_unknown_token_share=0.1, min_mean_top_probability=0.5, min_posts=2)


def test_an_empty_batch_has_no_figures_and_no_verdict():
    signals = measure([], [], UNK_ID)
    assert signals == DomainSignals()
    assert signals.unknown_token_share is None
    assert signals.mean_top_probability is None
    assert not is_unfamiliar(signals, ShiftThresholds(min_posts=0))
    assert shift_warning("s", signals, ShiftThresholds(min_posts=0), "v1") is None
    assert signal_figures(signals) == {"unknown_token_share": None, "mean_top_probability": None}
    assert signals_markdown(signals, LOOSE, None) == ""


def test_empty_posts_count_as_scored_without_tokens():
    signals = measure([[], []], [0.5, 0.7], UNK_ID)
    assert (signals.n_scored, signals.n_tokens, signals.n_unknown) == (2, 0, 0)
    assert signals.unknown_token_share is None
    assert signals.mean_top_probability == pytest.approx(0.6)


def test_all_unknown_tokens():
    signals = measure([[UNK_ID] * 3, [UNK_ID]], [0.4, 0.4], UNK_ID)
    assert signals.unknown_token_share == 1.0
    assert is_unfamiliar(signals, LOOSE)


def test_share_is_over_tokens_and_mean_over_posts():
    signals = measure([[5, UNK_ID, 7, 8], [UNK_ID, 9]], [0.9, 0.6], UNK_ID)
    assert signals.unknown_token_share == pytest.approx(2 / 6)
    assert signals.mean_top_probability == pytest.approx(0.75)


def test_parts_add_up_to_the_whole():
    ids = [[2, UNK_ID], [3], [UNK_ID, UNK_ID, 4]]
    tops = [0.9, 0.5, 0.7]
    whole = measure(ids, tops, UNK_ID)
    parts = measure(ids[:1], tops[:1], UNK_ID) + measure(ids[1:], tops[1:], UNK_ID)
    assert parts.n_tokens == whole.n_tokens and parts.n_unknown == whole.n_unknown
    assert parts.mean_top_probability == pytest.approx(whole.mean_top_probability)


def test_from_figures_gives_back_the_sums():
    signals = DomainSignals(n_scored=40, n_tokens=517, n_unknown=33, top_probability_sum=29.7)
    again = DomainSignals.from_figures(
        40, 517, signals.unknown_token_share, signals.mean_top_probability
    )
    assert again.n_unknown == 33
    assert again.top_probability_sum == pytest.approx(29.7)
    assert DomainSignals.from_figures(3, 0, None, None) == DomainSignals(3, 0, 0, 0.0)


def test_measure_needs_one_probability_per_post():
    with pytest.raises(ValueError, match="one top probability"):
        measure([[1]], [], UNK_ID)


def test_either_figure_beyond_its_threshold_is_unfamiliar():
    familiar = DomainSignals(n_scored=10, n_tokens=100, n_unknown=5, top_probability_sum=8.0)
    unknown_words = DomainSignals(n_scored=10, n_tokens=100, n_unknown=20, top_probability_sum=8)
    hedging = DomainSignals(n_scored=10, n_tokens=100, n_unknown=5, top_probability_sum=4.0)
    assert not is_unfamiliar(familiar, LOOSE)
    assert is_unfamiliar(unknown_words, LOOSE)
    assert is_unfamiliar(hedging, LOOSE)


def test_too_few_posts_get_no_verdict():
    few = measure([[UNK_ID]], [0.34], UNK_ID)
    assert not is_unfamiliar(few, LOOSE)
    assert is_unfamiliar(few, ShiftThresholds(min_posts=1))


def test_the_warning_names_the_source_the_figures_and_the_way_to_adapt():
    signals = DomainSignals(n_scored=120, n_tokens=1000, n_unknown=230, top_probability_sum=66)
    warning = shift_warning("shop`reviews", signals, ShiftThresholds(), "lstm-1")
    assert warning is not None
    assert "source `shop'reviews`" in warning  # a backtick in a name cannot break markdown
    assert "23.0% of its tokens are unknown" in warning
    assert "(> 6.5%)" in warning
    assert "mean top probability is 0.55 (< 0.61)" in warning
    assert "`sentimon label export --n 300 --source shop'reviews`" in warning
    assert "`sentimon train --base lstm-1 --data FILE.csv" in warning
    markdown = signals_markdown(signals, ShiftThresholds(), warning)
    assert "Unknown token share 23.0% (warns above 6.5%)" in markdown
    assert f"> **Warning:** {warning}" in markdown


def test_scorer_counts_unknown_tokens_of_what_the_model_reads(tiny_scorer):
    known = tiny_scorer.vocab.tokens[2:6]
    tokens = [known, ["zzqx", "qqvv", known[0]], []]
    predictions, signals = tiny_scorer.score_with_signals(tokens)
    assert predictions == tiny_scorer.score_token_lists(tokens)
    # The empty post is scored (UNK stands in for it) but has no tokens to count.
    assert (signals.n_scored, signals.n_tokens, signals.n_unknown) == (3, 7, 2)
    tops = [max(p.p_negative, p.p_neutral, p.p_positive) for p in predictions]
    assert signals.mean_top_probability == pytest.approx(sum(tops) / 3)


def test_scorer_counts_tokens_after_the_vocabulary_rules(tiny_scorer):
    vocab = tiny_scorer.vocab
    rules = TokenRules(brands=(("acme", "corp"),), drop=frozenset("!"))
    scorer = dataclasses.replace(tiny_scorer, vocab=Vocabulary(vocab.tokens, vocab.lexicon, rules))
    # "acme corp" is one <brand> (not in this vocabulary: unknown); "!!" and "!" go, so the
    # second post has no tokens.
    _, signals = scorer.score_with_signals([["acme", "corp", "!!"], ["!!", "!"]])
    assert (signals.n_tokens, signals.n_unknown) == (1, 1)


def test_scorer_signals_of_nothing(tiny_scorer):
    assert tiny_scorer.score_with_signals([]) == ([], DomainSignals())


def test_scorer_counts_only_the_tokens_within_max_tokens(tiny_scorer):
    _, signals = tiny_scorer.score_with_signals([["zzqx"] * 100])
    assert signals.n_tokens == signals.n_unknown == tiny_scorer.max_tokens


def test_rows_from_pretrained_vectors_count_as_unknown_to_training():
    # ids 0-3 from the corpus, 4 and 5 kept from pretrained vectors, 1 is <unk>
    signals = measure([[2, 3, 4], [5, 1]], [0.9, 0.5], unknown_id=1, trained_rows=4)
    assert signals.n_unknown == 3 and signals.n_tokens == 5
    assert measure([[2, 3, 4], [5, 1]], [0.9, 0.5], unknown_id=1).n_unknown == 1
