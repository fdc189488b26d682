"""The chaincode of the previous state layout, taken from git history: what the upgrade tests start from."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

PREVIOUS = "cd15c1d"  # the last commit of main with the previous state layout
REPO = Path(__file__).resolve().parents[1]


def extract_previous_chaincode(into: Path) -> Path:
    """Unpack the previous commit's chaincode/ into `into`; returns that chaincode folder."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", PREVIOUS, "chaincode/careledger_chaincode"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "chaincode"
