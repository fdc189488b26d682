"""Where things live: Fabric binaries and default configs (a cache outside the repo) and the state dir.

Standard library only: `make fabric` imports this before the virtualenv exists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FABRIC_VERSION = "3.1.5"
FABRIC_COMMIT = "86c1172bec37e6590c6b1ae6f847833df48d65fc"  # the v3.1.5 tag
FABRIC_CA_VERSION = "1.5.21"
FABRIC_BINARIES = (
    "peer",
    "orderer",
    "configtxgen",
    "configtxlator",
    "osnadmin",
    "fabric-ca-server",
    "fabric-ca-client",
)
# What the installer asks of each binary that can say its version (osnadmin cannot), and what it must answer.
FABRIC_VERSION_CHECKS = {
    "peer": (("version",), FABRIC_VERSION),
    "orderer": (("version",), FABRIC_VERSION),
    "configtxgen": (("-version",), FABRIC_VERSION),
    "configtxlator": (("version",), FABRIC_VERSION),
    "fabric-ca-server": (("version",), FABRIC_CA_VERSION),
    "fabric-ca-client": (("version",), FABRIC_CA_VERSION),
}
FABRIC_CONFIG_FILES = ("core.yaml", "orderer.yaml")  # Fabric's sampleconfig; our settings go on top

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILDERS_DIR = REPO_ROOT / "network" / "builders"


class SetupError(RuntimeError):
    """Something the network needs is missing; the message says how to get it."""


def fabric_home(env: Mapping[str, str] = os.environ) -> Path:
    default = Path.home() / ".cache" / "careledger" / f"fabric-{FABRIC_VERSION}"
    return Path(env.get("FABRIC_HOME") or default)


@dataclass(frozen=True)
class Fabric:
    bin_dir: Path
    config_dir: Path  # Fabric's sampleconfig core.yaml / orderer.yaml, our settings go on top

    def bin(self, name: str) -> str:
        return str(self.bin_dir / name)

    def missing(self) -> list[str]:
        """The binaries and config files that are not where they should be (empty when complete)."""
        gone = [str(self.bin_dir / b) for b in FABRIC_BINARIES if not os.access(self.bin_dir / b, os.X_OK)]
        return gone + [str(self.config_dir / f) for f in FABRIC_CONFIG_FILES if not (self.config_dir / f).is_file()]


def fabric_paths(env: Mapping[str, str] = os.environ) -> Fabric:
    """Where the binaries and sampleconfig are expected: FABRIC_BIN / FABRIC_SAMPLECONFIG, else FABRIC_HOME's."""
    home = fabric_home(env)
    return Fabric(
        bin_dir=Path(env.get("FABRIC_BIN") or home / "bin"),
        config_dir=Path(env.get("FABRIC_SAMPLECONFIG") or home / "config"),
    )


def locate_fabric() -> Fabric:
    fabric = fabric_paths()
    missing = fabric.missing()
    if missing:
        raise SetupError(
            f"Fabric is not installed: missing {', '.join(missing)}. Run `make fabric` (README: 'Installing "
            "Fabric' lists the ways it can get Fabric v3.1.5 and Fabric CA v1.5.21)."
        )
    return fabric


def state_dir() -> Path:
    return Path(os.environ.get("CARELEDGER_STATE", REPO_ROOT / "network" / "state"))
