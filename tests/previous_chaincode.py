"""The chaincode of the previous state layout, taken from git history: what the upgrade tests start from."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

PREVIOUS = "cd15c1d"  # the last commit of main with layout version 1 (before qualified ids)
LAYOUT_2 = "271c0dc"  # the last commit of main with layout version 2 (member JWKs without kid)
LAYOUT_3 = "afae328"  # the last commit of main with layout version 3 (inferences without a name index)
REPO = Path(__file__).resolve().parents[1]


def extract_previous_chaincode(into: Path, commit: str = PREVIOUS) -> Path:
    """Unpack the chaincode/ of `commit` into `into`; returns that chaincode folder."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "chaincode/careledger_chaincode"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "chaincode"
