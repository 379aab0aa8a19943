import dataclasses

import numpy as np
import pytest

from pipeline.records import LABELS, Prediction
from pipeline.text.tokenize import TextConfig, preprocess

TEXTS = [
    "i love this flight",
    "",
    "worst service at the gate, i hate it, the worst flight ever, awful awful awful",
    "i booked this flight",
    "   ",
    "@united you are amazing today http://t.co/x and the crew was wonderful",
    "terrible",
]


def test_probabilities_are_in_input_order_whatever_the_batching(tiny_scorer, pipeline_nlp):
    tokens = preprocess(pipeline_nlp, TEXTS, TextConfig())
    together = dataclasses.replace(tiny_scorer, batch_size=2).predict_proba(tokens)
    alone = np.vstack([tiny_scorer.predict_proba([t]) for t in tokens])
    np.testing.assert_allclose(together, alone, rtol=1e-6, atol=1e-9)
    assert together.shape == (len(TEXTS), 3)
    # Texts that differ get different rows: a batch-order mix-up could not go unseen.
    assert len({tuple(np.round(row, 6)) for row in together}) >= 5


def test_empty_texts_and_token_lists_score(tiny_scorer):
    predictions = tiny_scorer.score_texts(["", "   "])
    assert len(predictions) == 2
    assert all(p.label in LABELS for p in predictions)
    assert tiny_scorer.predict_proba([[]]).shape == (1, 3)
    assert tiny_scorer.predict_proba([]).shape == (0, 3)


def test_predictions_are_consistent(tiny_scorer):
    predictions = tiny_scorer.score_texts(TEXTS)
    assert len(predictions) == len(TEXTS)
    for p in predictions:
        assert isinstance(p, Prediction)
        probs = [p.p_negative, p.p_neutral, p.p_positive]
        assert sum(probs) == pytest.approx(1.0, abs=1e-9)
        assert all(0.0 <= x <= 1.0 for x in probs)
        assert p.score == pytest.approx(p.p_positive - p.p_negative)
        assert p.label == LABELS[int(np.argmax(probs))]
        assert p.model_version == "lstm-test-0000"


def test_tiny_model_tells_clear_texts_apart(tiny_scorer):
    predictions = tiny_scorer.score_texts(["i love this flight", "i hate this flight"])
    labels = [p.label for p in predictions]
    assert labels == ["positive", "negative"]


def test_score_texts_matches_score_token_lists(tiny_scorer, pipeline_nlp):
    tokens = preprocess(pipeline_nlp, TEXTS, TextConfig())
    assert tiny_scorer.score_texts(TEXTS) == tiny_scorer.score_token_lists(tokens)


def test_temperature_flattens_without_changing_labels(tiny_scorer):
    hot = dataclasses.replace(tiny_scorer, temperature=5.0)
    cold, warm = tiny_scorer.score_texts(TEXTS), hot.score_texts(TEXTS)
    assert [p.label for p in cold] == [p.label for p in warm]
    top = [max(p.p_negative, p.p_neutral, p.p_positive) for p in cold]
    flat = [max(p.p_negative, p.p_neutral, p.p_positive) for p in warm]
    assert all(f < t for f, t in zip(flat, top, strict=True))


def test_truncation_matches_training(tiny_scorer):
    long = ["love"] + ["flight"] * 40
    cut = dataclasses.replace(tiny_scorer, max_tokens=1)
    np.testing.assert_allclose(cut.predict_proba([long]), tiny_scorer.predict_proba([["love"]]))


def test_exact_length_batches_agree_with_padded_ones(tiny_scorer, pipeline_nlp):
    import torch

    from pipeline.model.predict import batch_logits, encode_all

    texts = ["", "love", "i hate this flight", "the new phone is great honestly", "ok " * 40]
    texts = texts * 7  # several texts of each length, batches cut inside a length too
    tokens = preprocess(pipeline_nlp, texts, TextConfig())
    ids, features = encode_all(tiny_scorer.vocab, tokens, tiny_scorer.max_tokens)
    tiny_scorer.model.eval()
    padded = batch_logits(tiny_scorer.model, ids, features, batch_size=4)
    exact = batch_logits(tiny_scorer.model, ids, features, batch_size=4, exact_lengths=True)
    torch.testing.assert_close(exact, padded, rtol=0, atol=1e-5)
    assert torch.equal(exact.argmax(dim=-1), padded.argmax(dim=-1))
    # The Scorer takes the exact-length path.
    probs = tiny_scorer.predict_proba(tokens)
    expected = torch.softmax(padded.double() / tiny_scorer.temperature, dim=-1).numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-5)


def test_exact_length_batches_reach_the_module_in_a_few_sizes_and_each_text_scores_as_alone(
    tiny_scorer, pipeline_nlp
):
    import torch

    from pipeline.model.predict import SHAPE_BATCH_SIZES, batch_logits, encode_all

    # 7 texts of one length, 3 of another, 1 of a third: batches of 8, 3 and 1 rows, the first
    # filled up with a copy of its first text.
    texts = ["i hate this flight"] * 7 + ["love it"] * 3 + ["meh"]
    texts[1], texts[5], texts[8] = "i love this flight", "the phone is great", "hate it"
    tokens = preprocess(pipeline_nlp, texts, TextConfig())
    ids, features = encode_all(tiny_scorer.vocab, tokens, tiny_scorer.max_tokens)
    tiny_scorer.model.eval()
    sizes: list[int] = []
    hook = tiny_scorer.model.register_forward_pre_hook(lambda _, args: sizes.append(len(args[0])))
    try:
        together = batch_logits(tiny_scorer.model, ids, features, exact_lengths=True)
    finally:
        hook.remove()
    assert sorted(sizes) == [1, 3, 8] and set(sizes) <= set(SHAPE_BATCH_SIZES)
    alone = torch.cat(
        [
            batch_logits(tiny_scorer.model, [ids[k]], None if features is None else [features[k]])
            for k in range(len(ids))
        ]
    )
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-6)
