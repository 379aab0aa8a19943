"""`sentimon label export`, `train --base`, `score --model` and the team lexicon, end to end."""

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.cli import heavy_imports_of, one_error_line
from typer.testing import CliRunner

from db import repository
from db.engine import make_engine
from flows.cli import app
from flows.runtime.model_dirs import prepare_database
from pipeline.model.artifacts import save_model
from pipeline.records import LABELS, Batch, Post, Prediction, ScoredPost
from pipeline.text.tokenize import TextConfig, make_nlp, preprocess
from pipeline.training.train import TrainConfig, train_model

runner = CliRunner()
WORDS = {"negative": ["awful", "terrible", "hate"], "positive": ["great", "love", "superb"]}


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A tiny version with lexicon features, trained in a second on inline texts."""
    examples = [
        (f"the {thing} was {word}", label)
        for label, words in WORDS.items()
        for word in words
        for thing in ("room", "food", "staff", "phone", "gate")
    ] + [(f"the {thing} was there", "neutral") for thing in ("room", "food", "staff", "phone")]
    nlp = make_nlp()
    tokens = preprocess(nlp, [t for t, _ in examples], TextConfig())
    labels = [LABELS.index(y) for _, y in examples]
    config = TrainConfig(
        epochs=2,
        batch_size=8,
        min_freq=1,
        embed_dim=8,
        hidden_size=6,
        max_tokens=16,
        lexicon=True,
        lexicon_prior=1.0,
        threads=1,
    )
    result = train_model(tokens, labels, [1.0] * len(labels), tokens, labels, config)
    return save_model(tmp_path_factory.mktemp("m"), result, make_nlp(), TextConfig(), config, {})


def _fails_in_one_line(result, text, status=1):
    """One error line holding ``text``; exit 2 for a command line that cannot be right (a
    name nothing knows, a missing option or column), 1 when what it read was wrong."""
    assert result.exit_code == status, result.output
    assert "Traceback" not in result.output
    assert text in " ".join(result.output.split())


def _store_posts(data_dir):
    engine = make_engine(f"sqlite:///{data_dir / 'sentimon.db'}")
    prepare_database(engine, data_dir)  # registers and activates the bundled model
    with engine.begin() as conn:
        version = repository.active_model_version(conn).version
        items = []
        for i in range(12):
            top = 0.34 + i * 0.05
            rest = (1 - top) / 2
            items.append(
                ScoredPost(
                    post=Post(
                        source="reviews",
                        external_id=str(i),
                        text=f"post {i}" if i != 11 else "post 0",
                        created_at=datetime(2024, 1, 1, tzinfo=UTC),
                    ),
                    brands=("Acme",) if i % 2 else (),
                    prediction=Prediction("neutral", rest, top, rest, version),
                )
            )
        repository.commit_batch(conn, Batch("reviews", None, "12", items))
    engine.dispose()
    return version


def test_label_export_writes_the_least_sure_posts(data_dir, tmp_path):
    _fails_in_one_line(runner.invoke(app, ["label", "export"]), "no posts stored yet")
    version = _store_posts(data_dir)
    result = runner.invoke(app, ["label", "export", "--n", "5"])
    assert result.exit_code == 0, result.output
    (written,) = (data_dir / "labels").iterdir()
    out = " ".join(result.output.split())
    assert str(written) in out and f"sentimon train --base {version}" in out
    rows = list(csv.DictReader(written.open(encoding="utf-8")))
    assert len(rows) == 5 and all(r["label"] == "" for r in rows)
    assert rows[0]["text"] == "post 0"  # least sure; "post 11" repeats its text
    assert {r["brands"] for r in rows} == {"", "Acme"}  # both groups take turns
    assert "fewer than" not in out
    every = runner.invoke(app, ["label", "export", "--n", "500", "--out", "all.csv"])
    assert every.exit_code == 0, every.output
    said = " ".join(every.output.split())
    assert "fewer than the 500 asked for: that is every stored post of this selection" in said
    # A file that may hold a person's labels is never written over.
    labelled = Path("all.csv").read_text(encoding="utf-8").replace(",,", ",positive,", 1)
    Path("all.csv").write_text(labelled, encoding="utf-8")
    again = runner.invoke(app, ["label", "export", "--n", "5", "--out", "all.csv"])
    _fails_in_one_line(again, "--out all.csv exists already (it may hold labels)", 2)
    assert Path("all.csv").read_text(encoding="utf-8") == labelled
    result = runner.invoke(app, ["label", "export", "--brand", "Nobody", "--out", "x.csv"])
    _fails_in_one_line(result, "no posts mention brand 'Nobody'", 2)
    _fails_in_one_line(
        runner.invoke(app, ["label", "export", "--source", "shop"]),
        "no posts from source 'shop'",
        2,
    )


def test_score_with_a_model_directory_and_a_team_lexicon(tiny_model_dir, tmp_path, monkeypatch):
    text = "the room was zorgly"
    plain = runner.invoke(app, ["score", "--model", str(tiny_model_dir), text])
    assert plain.exit_code == 0, plain.output
    (tmp_path / "team.toml").write_text("[terms]\nzorgly = -4.0\n", encoding="utf-8")
    (tmp_path / "sentimon.toml").write_text('lexicon = "team.toml"\n', encoding="utf-8")
    team = runner.invoke(app, ["score", "--model", str(tiny_model_dir), text])
    assert team.exit_code == 0, team.output
    before, after = json.loads(plain.stdout), json.loads(team.stdout)
    assert after["score"] < before["score"]
    assert after["model_version"] == before["model_version"] == tiny_model_dir.name
    (tmp_path / "bad.toml").write_text("[terms]\nzorgly = 'awful'\n", encoding="utf-8")
    monkeypatch.setenv("SENTIMON_LEXICON", str(tmp_path / "bad.toml"))  # overrides the toml
    _fails_in_one_line(
        runner.invoke(app, ["score", "--model", str(tiny_model_dir), text]), "is not a number"
    )
    monkeypatch.delenv("SENTIMON_LEXICON")
    _fails_in_one_line(
        runner.invoke(app, ["score", "--model", "lstm-nope", text]),
        "neither a model directory nor a registered version",
        2,
    )


def test_train_base_mistakes_are_one_line(tiny_model_dir, tmp_path):
    result = runner.invoke(app, ["train", "--base", str(tiny_model_dir)])
    _fails_in_one_line(result, "--base needs --data", 2)
    result = runner.invoke(app, ["train", "--base", "lstm-nope", "--data", "x.csv"])
    assert result.exit_code == 2, result.output  # a usage mistake, as `run --input`
    one_error_line(result, "--data x.csv does not exist")
    rows = [
        f"review {i} {'great' if i % 2 else 'awful'},{'pos' if i % 2 else 'neg'}" for i in range(30)
    ]
    (tmp_path / "l.csv").write_text("body,verdict\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = runner.invoke(
        app, ["train", "--base", "lstm-nope", "--data", "l.csv", "--map", "text=body,label=verdict"]
    )
    _fails_in_one_line(result, "neither a model directory nor a registered version", 2)
    # The labels file is read first, before torch and Prefect load: its mistakes come first.
    result = runner.invoke(
        app, ["train", "--base", "lstm-nope", "--data", "l.csv", "--map", "text=body"]
    )
    _fails_in_one_line(result, "has no column 'label' or 'sentiment' for the label", 2)
    # Exported but not labelled yet: said before any flow starts, with what to do.
    (tmp_path / "todo.csv").write_text("text,label\ngreat,\nawful,\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "--base", str(tiny_model_dir), "--data", "todo.csv"])
    _fails_in_one_line(result, "0 labelled texts")
    assert "fill the label column" in " ".join(result.output.split())


def test_a_wrong_base_is_refused_before_torch_loads(tmp_path):
    """A misspelt version name answers in under a second, not after torch's ~4 s import."""
    rows = [f"review {i} {'great' if i % 2 else 'awful'},{i % 2}" for i in range(30)]
    (tmp_path / "l.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    status, imported, stderr = heavy_imports_of(
        ["train", "--base", "lstm-nope", "--data", "l.csv", "--labels", "0=negative,1=positive"],
        tmp_path,
    )
    assert (status, imported) == ("exit 2", "[]"), stderr
    assert " ".join(stderr.split()).startswith(
        "error: 'lstm-nope' is neither a model directory nor a registered version"
    )


def test_a_new_version_worse_than_its_base_is_said():
    from flows.cli.train import worse_than_base

    def held(base, new, binary):
        key = "sign_accuracy" if binary else "macro_f1"
        extra = {"sign_accuracy": 0.0} if binary else {}
        return {
            "base": {**extra, key: base, "n": 15},
            "adapted": {**extra, key: new, "n": 15},
        }

    assert worse_than_base(held(0.8, 0.8, binary=True)) is None
    assert worse_than_base(held(0.7, 0.9, binary=False)) is None
    said = worse_than_base(held(0.533, 0.333, binary=False))
    assert said is not None and "macro-F1 0.333 against 0.533" in said and "15 held-out" in said
    said = worse_than_base(held(0.9, 0.8, binary=True))
    assert said is not None and "accuracy of the score's sign 0.800 against 0.900" in said


def test_held_out_labels_that_cannot_tell_and_a_missing_polar_class_are_said():
    from flows.cli.train import untaught, untested

    def held(n, classes):
        return {"base": {"n": n, "classes": classes}, "adapted": {"n": n, "classes": classes}}

    assert untested(held(90, ["negative", "positive"])) is None
    # 19 neutral labels and one positive: 6 held out, all neutral, read "1.000".
    said = untested(held(6, ["neutral"]))
    assert said is not None and said.startswith("the 6 held-out labels (all neutral) cannot tell")
    said = untested(held(12, ["negative", "positive"]))
    assert said is not None and "(fewer than 30)" in said
    assert untaught({"train_labels": {"negative": 50, "neutral": 40, "positive": 60}}) is None
    assert untaught({"train_labels": {"negative": 50, "positive": 60}}) is None  # star ratings
    said = untaught({"train_labels": {"neutral": 13, "positive": 1}})
    assert said is not None and said.startswith("the labels hold no negative text")
    assert "call many of them neutral or positive" in said


def test_a_class_too_small_for_the_folds_is_said():
    from flows.cli.train import fewer_folds

    split = {"folds": 5, "train_labels": {"negative": 90, "positive": 110}}
    assert fewer_folds(split, 5) is None
    said = fewer_folds({"folds": 1, "train_labels": {"negative": 90, "neutral": 1}}, 5)
    assert said == (
        "note: one fine-tune instead of 5: the labels trained on hold only 1 neutral text(s) "
        "(each fine-tune needs every class); label more neutral texts for steadier results"
    )
    said = fewer_folds({"folds": 3, "train_labels": {"negative": 3, "positive": 80}}, 5)
    assert said is not None and said.startswith("note: 3 fine-tunes averaged instead of 5")


@pytest.mark.slow
def test_train_base_registers_an_inactive_version(prefect_server, tiny_model_dir, tmp_path):
    rows = ["review,stars"] + [
        f"the {thing} was {word} {n},{5 if label == 'positive' else 1}"
        for n in range(4)
        for label, words in WORDS.items()
        for word in words
        for thing in ("bed", "soup", "desk")
    ]
    rows.append("not labelled yet,")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    args = ["train", "--base", str(tiny_model_dir), "--data", "labels.csv"]
    args += ["--map", "text=review,label=stars", "--labels", "1=negative,5=positive"]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["version"] != tiny_model_dir.name
    assert set(out["metrics"]) == {"base", "adapted"}
    assert "sign_accuracy" in out["metrics"]["adapted"]
    # The progress says which of the folds' fine-tunes an epoch belongs to.
    progress = " ".join(result.stderr.split())
    assert "fine-tune 1, epoch 1:" in progress and "fine-tune 2, epoch 1:" in progress
    listed = runner.invoke(app, ["models", "list"]).stdout
    assert out["version"] in listed and f"* {out['version']}" not in listed
    # Its figure is on the labels kept aside, with the base's beside it, not a test split's.
    adapted_line = next(line for line in listed.splitlines() if out["version"] in line)
    n_aside = out["metrics"]["adapted"]["n"]
    assert f"on {n_aside} held-out team labels ({tiny_model_dir.name}: " in adapted_line
    assert "test macro-F1" not in adapted_line
    scored = runner.invoke(app, ["score", "--model", out["version"], "great"])
    assert json.loads(scored.stdout)["model_version"] == out["version"]
    # The same labels again: the same weights, so the same version, kept as it is.
    again = runner.invoke(app, [*args, "--format", "json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout.strip().splitlines()[-1])["version"] == out["version"]
    bad = runner.invoke(app, ["train", "--base", out["version"], "--data", "labels.csv"])
    _fails_in_one_line(bad, "has no column 'text' for the text", 2)
    # One text of a class: one fine-tune instead of five, and the output says why.
    (tmp_path / "one-neutral.csv").write_text(
        "\n".join([*rows, "the desk was fine,3"]) + "\n", encoding="utf-8"
    )
    args = ["train", "--base", str(tiny_model_dir), "--data", "one-neutral.csv"]
    args += ["--map", "text=review,label=stars", "--labels", "1=negative,3=neutral,5=positive"]
    single = runner.invoke(app, args)
    assert single.exit_code == 0, single.output
    assert "note: one fine-tune instead of 5: the labels trained on hold only 1 neutral" in (
        " ".join(single.stdout.split())
    )
