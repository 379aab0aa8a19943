import hashlib
import json
import re
import shutil

import numpy as np
import pytest
import torch

from pipeline.errors import ArtifactError
from pipeline.model import artifacts
from pipeline.model.artifacts import load_scorer, save_model
from pipeline.model.manifest import read_manifest
from pipeline.text.tokenize import TextConfig, preprocess

TEXTS = ["i love this flight", "", "the worst service at the gate", "i booked this flight"]
METRICS = {"test": {"accuracy": 0.5, "macro_f1": 0.4}}


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_result, pipeline_nlp, tiny_config):
    root = tmp_path_factory.mktemp("models")
    return save_model(root, tiny_result, pipeline_nlp, TextConfig(), tiny_config, METRICS)


@pytest.fixture
def copy(saved, tmp_path):
    """A private copy of the saved version that a test may damage."""
    return shutil.copytree(saved, tmp_path / "default")


def manifest_of(model_dir):
    return json.loads((model_dir / "manifest.json").read_text())


def test_layout_and_version_name(saved):
    weights = (saved / "weights.pt").read_bytes()
    assert re.fullmatch(r"lstm-\d{8}-[0-9a-f]{8}", saved.name)
    config = json.loads((saved / "config.json").read_text())
    behaviour = json.dumps(
        {"model": config["model"], "temperature": config["temperature"]}, sort_keys=True
    )
    # The id covers the weights and what else changes the scores (lexicon prior, temperature).
    assert saved.name.endswith(hashlib.sha256(weights + behaviour.encode()).hexdigest()[:8])
    files = manifest_of(saved)["files"]
    for name in ("weights.pt", "config.json", "vocab.json", "metrics.json"):
        assert files[name] == hashlib.sha256((saved / name).read_bytes()).hexdigest()
    assert "tokenizer/tokenizer" in files
    assert not [p for p in saved.parent.iterdir() if p.name.startswith(".")]  # no temp dir left


def test_round_trip_gives_the_same_probabilities(copy, tiny_scorer, pipeline_nlp):
    loaded = load_scorer(copy)  # renamed directory: the version lives inside
    tokens = preprocess(pipeline_nlp, TEXTS, TextConfig())
    np.testing.assert_array_equal(loaded.predict_proba(tokens), tiny_scorer.predict_proba(tokens))
    assert loaded.version == manifest_of(copy)["version"]
    assert loaded.temperature == tiny_scorer.temperature
    assert loaded.max_tokens == tiny_scorer.max_tokens
    assert [p.label for p in loaded.score_texts(TEXTS)] == [
        p.label for p in tiny_scorer.score_texts(TEXTS)
    ]


def test_weights_are_loaded_weights_only(copy, monkeypatch):
    calls = []
    real = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(artifacts.torch, "load", spy)
    load_scorer(copy)
    assert calls == [True]


def test_read_manifest(copy):
    info = read_manifest(copy)
    assert info.version == manifest_of(copy)["version"]
    assert info.sha256 == hashlib.sha256((copy / "manifest.json").read_bytes()).hexdigest()
    assert info.metrics == METRICS
    assert info.path == copy.resolve()
    assert info.created_at.tzinfo is not None


def test_flipped_byte_in_weights_is_refused(copy):
    data = bytearray((copy / "weights.pt").read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / "weights.pt").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=re.escape("weights.pt does not match its sha256")):
        load_scorer(copy)


def test_missing_vocab_is_refused(copy):
    (copy / "vocab.json").unlink()
    with pytest.raises(ArtifactError, match=re.escape("vocab.json is missing")):
        load_scorer(copy)


def test_missing_tokenizer_file_is_refused(copy):
    (copy / "tokenizer" / "tokenizer").unlink()
    with pytest.raises(ArtifactError, match="tokenizer/tokenizer is missing"):
        load_scorer(copy)


def test_missing_extra_file_listed_in_manifest_is_refused(copy):
    manifest = manifest_of(copy)
    manifest["files"]["notes/README.md"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=re.escape("notes/README.md is missing")):
        load_scorer(copy)


def test_edited_config_is_refused(copy):
    config = json.loads((copy / "config.json").read_text())
    config["temperature"] = 0.1
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match=re.escape("config.json does not match")):
        load_scorer(copy)


def test_manifest_must_list_the_weights(copy):
    manifest = manifest_of(copy)
    del manifest["files"]["weights.pt"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=re.escape("does not list ['weights.pt']")):
        load_scorer(copy)


def test_manifest_may_not_point_outside(copy):
    manifest = manifest_of(copy)
    manifest["files"]["../secret"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="points outside"):
        load_scorer(copy)


def test_unlisted_file_in_tokenizer_is_refused(copy):
    (copy / "tokenizer" / "extra.bin").write_bytes(b"x")
    with pytest.raises(
        ArtifactError, match=re.escape("tokenizer/extra.bin is not in manifest.json")
    ):
        load_scorer(copy)


def test_missing_directory_or_manifest(copy, tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        load_scorer(tmp_path / "nope")
    (copy / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match=re.escape("manifest.json is missing")):
        load_scorer(copy)
    with pytest.raises(ArtifactError, match=re.escape("manifest.json is missing")):
        read_manifest(copy)


def test_saving_the_same_model_again_keeps_the_saved_copy(
    saved, tmp_path, tiny_result, pipeline_nlp, tiny_config
):
    mine = shutil.copytree(saved, tmp_path / saved.name)  # the shared one must stay intact
    before = {p.name: p.read_bytes() for p in mine.iterdir() if p.is_file()}
    again = save_model(tmp_path, tiny_result, pipeline_nlp, TextConfig(), tiny_config, {})
    assert again == mine
    assert {p.name: p.read_bytes() for p in mine.iterdir() if p.is_file()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # A saved copy that no longer checks out is not silently kept.
    (mine / "metrics.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ArtifactError, match=re.escape("metrics.json")):
        save_model(tmp_path, tiny_result, pipeline_nlp, TextConfig(), tiny_config, METRICS)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_crash_while_saving_leaves_nothing(tmp_path, tiny_result, tiny_config, monkeypatch):
    class BrokenNlp:
        def to_disk(self, path):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_model(tmp_path, tiny_result, BrokenNlp(), TextConfig(), tiny_config, METRICS)
    assert list(tmp_path.iterdir()) == []
