"""A registered model version is trusted by the registry, not by its own manifest.

manifest.json pins every file of a version directory, but whoever can edit the weights can
re-hash the manifest too. ``model_versions.sha256`` (written when the version was registered)
pins the manifest itself, so loading a registered version checks the two agree first. Kept
apart from pipeline/model/artifacts.py, which owns the artifact format; the check reads
manifest.json only (pipeline/model/manifest.py), without torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import ArtifactError
from pipeline.model.manifest import MANIFEST, sha256_bytes

if TYPE_CHECKING:
    from pipeline.model.predict import Scorer

_FIX = (
    "restore the directory from a backup, or activate another version with "
    "`sentimon models activate VERSION`"
)


def check_registered(model_dir: Path, version: str, sha256: str) -> None:
    """Refuse ``model_dir`` unless its manifest.json is the one registered for ``version``."""
    try:
        raw = (Path(model_dir) / MANIFEST).read_bytes()
    except OSError as err:
        raise ArtifactError(
            f"model version {version!r}: {model_dir}/{MANIFEST} cannot be read ({err}): {_FIX}"
        ) from err
    if sha256_bytes(raw) == sha256:
        return
    try:
        found = json.loads(raw).get("version")
    except (ValueError, AttributeError):
        found = None
    if found and found != version:
        raise ArtifactError(
            f"model version {version!r}: its directory {model_dir} now holds version "
            f"{found!r}: {_FIX}"
        )
    raise ArtifactError(
        f"model version {version!r}: {model_dir}/{MANIFEST} does not match the sha256 "
        f"registered in model_versions (changed since it was registered): {_FIX}"
    )


def load_registered_scorer(model_dir: Path, version: str, sha256: str) -> Scorer:
    """The scorer of a registered version, after its manifest was checked against the registry."""
    # Here, not at the top: the check alone (naming a version) must not wait for torch.
    from pipeline.model.artifacts import load_scorer

    check_registered(model_dir, version, sha256)
    scorer = load_scorer(model_dir)
    if scorer.version != version:  # the manifest matched, so only a bug gets here
        raise ArtifactError(f"{model_dir} holds {scorer.version!r}, not {version!r}: {_FIX}")
    return scorer
