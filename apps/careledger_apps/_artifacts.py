"""Where an app finds a registered model's artifact: the folder of model artifacts (MODEL_DIR), in which
training writes each model as `<model id>-<first 12 hex of its SHA-256>/model.json` beside its card. A file
is the artifact only if it hashes to the registry's SHA-256; a folder whose name merely matches is not."""

from __future__ import annotations

import hashlib
from pathlib import Path


def find_artifact(model_dir: Path, sha256: str) -> Path | None:
    for candidate in Path(model_dir).glob("*/model.json"):
        if candidate.parent.name.endswith(sha256[:12]) and hashlib.sha256(candidate.read_bytes()).hexdigest() == sha256:
            return candidate
    return None
