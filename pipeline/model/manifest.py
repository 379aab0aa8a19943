"""What a model version directory says about itself: its file names and manifest.json.

Kept apart from pipeline/model/artifacts.py (saving and loading weights) so that naming or
checking a version (`sentimon train --base NAME`, `models list`, the registry's trust check)
does not import torch and spaCy: that import alone takes seconds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.errors import ArtifactError

WEIGHTS, CONFIG, VOCAB, METRICS, MANIFEST, TOKENIZER = (
    "weights.pt",
    "config.json",
    "vocab.json",
    "metrics.json",
    "manifest.json",
    "tokenizer",
)
FIX = "restore the directory from a backup or train a new version with `sentimon train`"


@dataclass(frozen=True)
class ModelInfo:
    """What the model registry records about a version directory."""

    version: str
    path: Path
    sha256: str  # of manifest.json's bytes, which pin every other file
    created_at: datetime
    metrics: dict[str, Any]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(model_dir: Path) -> ModelInfo:
    """Version, manifest sha256, created_at and metrics of a version directory (registry)."""
    model_dir = Path(model_dir).resolve()
    raw = read_file(model_dir, MANIFEST)
    manifest = parse_manifest(model_dir, raw)
    metrics_bytes = read_file(model_dir, METRICS)
    check_sha(model_dir, METRICS, metrics_bytes, manifest["files"].get(METRICS))
    try:
        created_at = datetime.fromisoformat(manifest["created_at"])
        metrics = json.loads(metrics_bytes)
    except (ValueError, TypeError) as err:
        raise ArtifactError(f"{model_dir}: manifest or metrics unreadable ({err}): {FIX}") from err
    return ModelInfo(manifest["version"], model_dir, sha256_bytes(raw), created_at, metrics)


def read_file(model_dir: Path, name: str) -> bytes:
    try:
        return (model_dir / name).read_bytes()
    except FileNotFoundError as err:
        raise ArtifactError(f"{model_dir}: {name} is missing: {FIX}") from err
    except OSError as err:
        raise ArtifactError(f"{model_dir}: {name} cannot be read ({err}): {FIX}") from err


def parse_manifest(model_dir: Path, raw: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(raw)
        if not isinstance(manifest.get("files"), dict) or not manifest.get("version"):
            raise ValueError("no version or files")
    except (ValueError, AttributeError) as err:
        raise ArtifactError(f"{model_dir}: manifest.json is malformed ({err}): {FIX}") from err
    return manifest


def check_sha(model_dir: Path, name: str, data: bytes, expected: str | None) -> None:
    if expected is None:
        raise ArtifactError(f"{model_dir}: manifest.json does not list {name}: {FIX}")
    if sha256_bytes(data) != expected:
        raise ArtifactError(
            f"{model_dir}: {name} does not match its sha256 in manifest.json (changed or "
            f"corrupted): {FIX}"
        )
