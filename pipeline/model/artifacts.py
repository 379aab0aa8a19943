"""Model versions on disk: save a trained model as a verified directory, load it back to score.

Layout of ``<out_root>/<version>/`` (the directory may be renamed; the version is inside):
    weights.pt     state dict only (loaded with weights_only=True; no pickled code)
    config.json    model, training and text settings, version, created_at, temperature
    vocab.json     the tokens in id order
    tokenizer/     the spaCy pipeline (nlp.to_disk), so tokens are made as in training
    metrics.json   evaluation on the validation and test splits
    manifest.json  version, created_at and the sha256 of every file above
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import spacy
import torch
from spacy.language import Language

from pipeline.errors import ArtifactError
from pipeline.model.lstm import LSTMClassifier, ModelConfig
from pipeline.model.manifest import (
    CONFIG,
    FIX,
    MANIFEST,
    METRICS,
    TOKENIZER,
    VOCAB,
    WEIGHTS,
    check_sha,
    parse_manifest,
    read_file,
    sha256_bytes,
)
from pipeline.model.predict import Scorer
from pipeline.model.vocab import Vocabulary
from pipeline.text.tokenize import TextConfig, read_attributes_only
from pipeline.training.train import TrainConfig, TrainResult

FORMAT = 1
_REQUIRED = (WEIGHTS, CONFIG, VOCAB, METRICS)


def save_model(
    out_root: Path,
    result: TrainResult,
    nlp: Language,
    text_config: TextConfig,
    train_config: TrainConfig,
    metrics: dict[str, Any],
) -> Path:
    """Write ``out_root/lstm-YYYYMMDD-<sha256[:8] of weights and model config>/``; return it.

    Everything is written into a temporary sibling directory first and renamed at the end, so
    a crash leaves no half-written version behind. When that version is there already (the
    same model saved again the same day), the saved copy is verified and kept, and returned.
    """
    out_root.mkdir(parents=True, exist_ok=True)
    created_at = datetime.now(UTC).replace(microsecond=0)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=out_root))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; a model version is meant to be shared
        buffer = io.BytesIO()
        torch.save(result.model.state_dict(), buffer)
        weights = buffer.getvalue()
        (tmp / WEIGHTS).write_bytes(weights)
        # The weights alone do not make the model: the same weights with another lexicon prior
        # or temperature score differently, so the id covers those too.
        behaviour = json.dumps(
            {"model": result.model_config.to_dict(), "temperature": result.temperature},
            sort_keys=True,
        ).encode("utf-8")
        version = f"lstm-{created_at:%Y%m%d}-{sha256_bytes(weights + behaviour)[:8]}"
        config = {
            "format": FORMAT,
            "version": version,
            "created_at": created_at.isoformat(),
            "temperature": result.temperature,
            "best_epoch": result.best_epoch,
            "model": result.model_config.to_dict(),
            "train": train_config.to_dict(),
            "text": text_config.to_dict(),
        }
        _write_json(tmp / CONFIG, config)
        _write_json(tmp / VOCAB, result.vocab.to_dict())
        _write_json(tmp / METRICS, metrics)
        nlp.to_disk(tmp / TOKENIZER)
        files = {
            p.relative_to(tmp).as_posix(): sha256_bytes(p.read_bytes())
            for p in sorted(tmp.rglob("*"))
            if p.is_file()
        }
        manifest = {
            "format": FORMAT,
            "version": version,
            "created_at": created_at.isoformat(),
            "files": files,
        }
        _write_json(tmp / MANIFEST, manifest)
        final = out_root / version
        if final.exists():
            # The id hashes the weights and what scores with them, so this very model was saved
            # today already (same data, config and seed): running the same command again keeps
            # that copy, once it checks out, rather than failing after the training.
            verify_artifact(final)
            shutil.rmtree(tmp)
            return final
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def verify_artifact(model_dir: Path) -> dict[str, bytes]:
    """Check every manifest entry exists and matches its sha256; return the verified bytes.

    Raises ArtifactError naming the first bad file. Nothing is deserialised before this passes.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ArtifactError(f"model directory {model_dir} does not exist: {FIX}")
    manifest = parse_manifest(model_dir, read_file(model_dir, MANIFEST))
    files: dict[str, str] = manifest["files"]
    missing = [name for name in _REQUIRED if name not in files]
    if not any(name.startswith(f"{TOKENIZER}/") for name in files):
        missing.append(f"{TOKENIZER}/")
    if missing:
        raise ArtifactError(f"{model_dir}: manifest.json does not list {missing}: {FIX}")
    verified = {}
    for name, expected in files.items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise ArtifactError(f"{model_dir}: manifest entry {name!r} points outside: {FIX}")
        data = read_file(model_dir, name)
        check_sha(model_dir, name, data, expected)
        verified[name] = data
    # spaCy reads whatever it finds in tokenizer/, so nothing unlisted may sit there.
    for path in (model_dir / TOKENIZER).rglob("*"):
        name = path.relative_to(model_dir).as_posix()
        if path.is_file() and name not in files:
            raise ArtifactError(f"{model_dir}: {name} is not in manifest.json: {FIX}")
    return verified


def load_scorer(model_dir: Path) -> Scorer:
    """Verify a version directory, then build a Scorer from it (weights_only loading)."""
    model_dir = Path(model_dir)
    verified = verify_artifact(model_dir)
    try:
        config = json.loads(verified[CONFIG])
        vocab = Vocabulary.from_dict(json.loads(verified[VOCAB]))
        model_config = ModelConfig.from_dict(config["model"])
        train_config = TrainConfig.from_dict(config["train"])
        text_config = TextConfig.from_dict(config["text"])
        state = torch.load(io.BytesIO(verified[WEIGHTS]), map_location="cpu", weights_only=True)
        model = LSTMClassifier(model_config)
        model.load_state_dict(state, strict=True)
        nlp = read_attributes_only(spacy.load(model_dir / TOKENIZER))
    except Exception as err:
        raise ArtifactError(
            f"{model_dir} passed its sha256 checks but cannot be loaded ({err}); it was probably "
            f"written by another sentimon version: {FIX}"
        ) from err
    if model_config.vocab_size != len(vocab):
        raise ArtifactError(f"{model_dir}: vocab.json does not fit the model's config: {FIX}")
    model.eval()
    return Scorer(
        model=model,
        vocab=vocab,
        nlp=nlp,
        text_config=text_config,
        version=config["version"],
        temperature=float(config.get("temperature", 1.0)),
        max_tokens=train_config.max_tokens,
    )


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
