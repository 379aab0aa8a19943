import hashlib

import numpy as np
import pandas as pd
import pytest

from pipeline.training.devsets import load_uci
from pipeline.training.evaluation import (
    TOOLS,
    compare_on_sentences,
    compare_tools,
    evaluate_devsets,
    length_bin,
    summarise_tools,
    without_adaptation_texts,
)

TEXTS = (
    ["I love this phone, it is wonderful"] * 20
    + ["this airline is terrible, I hate the delays"] * 20
    + ["the flight leaves at noon from gate four today and boards about half an hour before"] * 20
)
LABELS = [2] * 20 + [0] * 20 + [1] * 20
TOPICS = ["apple"] * 20 + ["airline"] * 40


def one_hot(labels, p=0.8):
    probs = np.full((len(labels), 3), (1 - p) / 2)
    probs[np.arange(len(labels)), labels] = p
    return probs


def test_length_bins():
    assert length_bin("") == "1-10 words"
    assert length_bin("a " * 10) == "1-10 words"
    assert length_bin("a " * 11) == "11-20 words"
    assert length_bin("a " * 21) == "21+ words"


def test_perfect_model_beside_the_baselines():
    report = compare_tools(TEXTS, LABELS, one_hot(LABELS), TOPICS)
    assert report["n"] == 60
    assert set(report["tools"]) == set(TOOLS)
    model = report["tools"]["model"]
    assert model["macro_f1"] == 1.0 and model["spearman"] == pytest.approx(1.0)
    assert model["ece"] == pytest.approx(0.2)  # always 80% sure, always right
    assert report["tools"]["vader"]["ece"] is None
    # VADER gets the two clear texts right and calls the timetable neutral.
    assert report["tools"]["vader"]["confusion"] == [[20, 0, 0], [0, 20, 0], [0, 0, 20]]
    # Slices with fewer than 30 texts are left out: apple has 20.
    assert list(report["slices"]["topic"]) == ["airline"]
    assert report["slices"]["topic"]["airline"]["model"]["n"] == 40
    # 40 texts of 7-8 words; the 20 timetable texts (17 words) are too few for a slice.
    assert list(report["slices"]["length"]) == ["1-10 words"]
    assert report["slices"]["length"]["1-10 words"]["vader"]["macro_f1"] == pytest.approx(2 / 3)


def test_a_wrong_model_scores_low_and_keeps_its_own_numbers():
    wrong = [2 - y for y in LABELS]  # positive <-> negative
    report = compare_tools(TEXTS, LABELS, one_hot(wrong))
    assert report["tools"]["model"]["spearman"] == pytest.approx(-1.0)
    assert report["tools"]["model"]["macro_f1"] == pytest.approx(1 / 3)
    assert "topic" not in report["slices"]


def test_summarise_tools_and_bad_input():
    summary = summarise_tools(TEXTS, LABELS, one_hot(LABELS))
    assert set(summary) == set(TOOLS)
    assert summary["model"] == {"n": 60, "accuracy": 1.0, "macro_f1": 1.0, "spearman": 1.0}
    with pytest.raises(ValueError, match="equally long"):
        compare_tools(TEXTS[:2], LABELS, one_hot(LABELS))


def test_compare_on_sentences_by_hand():
    texts = [
        "I love this, it is wonderful",
        "this is terrible, I hate it",
        "the box arrived on tuesday",
        "it works",
    ]
    labels = [1, 0, 1, 0]
    probs = np.array(
        [
            [0.1, 0.2, 0.7],  # score 0.6: positive, right
            [0.6, 0.3, 0.1],  # -0.5: negative, right
            [0.2, 0.6, 0.2],  # 0: read as negative, wrong; neutral
            [0.25, 0.5, 0.25],  # 0: negative, right; neutral
        ]
    )
    result = compare_on_sentences(texts, labels, probs)
    assert set(result) == set(TOOLS)
    # AUC: positives score {0.6, 0}, negatives {-0.5, 0}: 3 pairs right, 1 tie -> 3.5 / 4.
    assert result["model"] == pytest.approx(
        {"n": 4, "accuracy": 0.75, "auc": 0.875, "neutral_share": 0.5}
    )
    # The lexicons rate the first two and nothing in the last two (score 0, neutral).
    for name in ("vader", "textblob"):
        assert result[name] == pytest.approx(
            {"n": 4, "accuracy": 0.75, "auc": 0.875, "neutral_share": 0.5}
        )
    with pytest.raises(ValueError, match="equally long"):
        compare_on_sentences(texts[:3], labels, probs)


def test_evaluate_devsets_scores_each_source(uci_dir, tiny_scorer):
    result = evaluate_devsets(tiny_scorer, load_uci(uci_dir))
    assert list(result) == ["amazon", "imdb", "yelp"]
    assert [result[s]["model"]["n"] for s in result] == [2, 3, 2]  # empty rows dropped
    assert set(result["imdb"]) == set(TOOLS)


def test_texts_a_fine_tuned_version_trained_on_are_left_out_of_its_test_split(tmp_path):
    test = pd.DataFrame(
        {
            "text": ["@united lost my bag", "great crew, thanks", "seat was fine"],
            "label": ["negative", "positive", "neutral"],
        }
    )
    labels = tmp_path / "labels.csv"
    # The export's texts come back with another retweet prefix and case: the same text.
    labels.write_text('body,mark\n"RT @x: @United lost my bag!",neg\nunrelated post,pos\n')
    data = {
        "path": str(labels),
        "sha256": hashlib.sha256(labels.read_bytes()).hexdigest(),
        "column_map": {"text": "body", "label": "mark"},
        "label_map": None,
    }
    kept, note = without_adaptation_texts(test, {"adaptation": {"data": data}})
    assert kept["text"].tolist() == ["great crew, thanks", "seat was fine"]
    assert (
        note
        == "1 test texts this version was fine-tuned on (labels.csv) are left out of the test split"
    )

    assert without_adaptation_texts(test, {"corpus": {}}) == (test, None)  # trained from scratch
    labels.write_text("body,mark\nedited,neg\n")  # changed since: the note says so
    same, note = without_adaptation_texts(test, {"adaptation": {"data": data}})
    assert same is test and "gone or has changed" in note
