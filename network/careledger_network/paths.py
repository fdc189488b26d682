"""Where things live: Fabric binaries and default configs (a cache outside the repo) and the state dir."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

FABRIC_VERSION = "3.1.5"
FABRIC_CA_VERSION = "1.5.21"
FABRIC_BINARIES = ("peer", "orderer", "configtxgen", "osnadmin", "fabric-ca-server", "fabric-ca-client")

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILDERS_DIR = REPO_ROOT / "network" / "builders"


class SetupError(RuntimeError):
    """Something the network needs is missing; the message says how to get it."""


def fabric_home() -> Path:
    return Path(os.environ.get("FABRIC_HOME", Path.home() / ".cache" / "careledger" / f"fabric-{FABRIC_VERSION}"))


@dataclass(frozen=True)
class Fabric:
    bin_dir: Path
    config_dir: Path  # Fabric's sampleconfig core.yaml / orderer.yaml, our settings go on top

    def bin(self, name: str) -> str:
        return str(self.bin_dir / name)


def locate_fabric() -> Fabric:
    bin_dir = Path(os.environ.get("FABRIC_BIN", fabric_home() / "bin"))
    config_dir = Path(os.environ.get("FABRIC_SAMPLECONFIG", fabric_home() / "config"))
    missing = [b for b in FABRIC_BINARIES if not (bin_dir / b).is_file()]
    if missing:
        hint = "run `make fabric`" if shutil.which("go") else "install Go (https://go.dev/dl), then `make fabric`"
        raise SetupError(
            f"Fabric binaries missing from {bin_dir}: {', '.join(missing)}. To get them, {hint}; "
            "or point FABRIC_BIN at a folder holding Fabric v3.1.5 and Fabric CA v1.5.21 binaries."
        )
    for name in ("core.yaml", "orderer.yaml"):
        if not (config_dir / name).is_file():
            raise SetupError(
                f"{config_dir / name} is missing: `make fabric` copies Fabric's sampleconfig there "
                "(or set FABRIC_SAMPLECONFIG to a folder holding core.yaml and orderer.yaml)."
            )
    return Fabric(bin_dir=bin_dir, config_dir=config_dir)


def state_dir() -> Path:
    return Path(os.environ.get("CARELEDGER_STATE", REPO_ROOT / "network" / "state"))
