"""The chaincode of earlier state layouts, taken from git history: what the upgrade tests start from."""

from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

PREVIOUS = "cd15c1d"  # the last commit of main with layout version 1 (before qualified ids)
LAYOUT_2 = "271c0dc"  # the last commit of main with layout version 2 (member JWKs without kid)
LAYOUT_3 = "afae328"  # the last commit of main with layout version 3 (inferences without a name index)
LAYOUT_5 = "4edf4dd"  # the last commit of main with layout version 5 (whole events under the patient)
LAYOUT_6 = "2cbb42f"  # the last commit of main with layout version 6 (a use-log key per inference)
LAYOUT_7 = "5777d93"  # the last commit of main with layout version 7 (a name key per inference)
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


@dataclass(frozen=True)
class PreviousChaincode:
    """An earlier chaincode, importable beside the current one under a package name of its own."""

    contracts: ModuleType
    runtime: ModuleType
    testing: ModuleType

    def new_ledger(self) -> Any:
        return self.testing.MemoryLedger(self.runtime.Router(self.contracts.all_contracts()))


def load_previous_chaincode(into: Path, commit: str, package: str) -> PreviousChaincode:
    """The chaincode of `commit`, imported as `package` (e.g. careledger_chaincode_layout2)."""
    extract_previous_chaincode(into, commit)
    (into / "chaincode" / "careledger_chaincode").rename(into / package)
    sys.path.insert(0, str(into))
    try:
        modules = [importlib.import_module(f"{package}.{m}") for m in ("contracts", "runtime", "runtime.testing")]
    finally:
        sys.path.remove(str(into))
    return PreviousChaincode(*modules)


class OldActor:
    """A member calling an earlier chaincode's in-memory ledger (its own runtime's identity type)."""

    def __init__(self, ledger: Any, member_id: str, msp: str, role: str, runtime: ModuleType) -> None:
        attrs = {"role": role, "member_id": member_id}
        self.identity = runtime.ClientIdentity(msp_id=msp, certificate_pem=b"", attributes=attrs)
        self.ledger, self.member_id = ledger, member_id

    def ok(self, function: str, *args: Any, transient: dict[str, Any] | None = None) -> Any:
        encoded = [a if isinstance(a, str) else json.dumps(a) for a in args]
        if transient is None:  # the oldest runtime's ledger takes no transient data
            outcome = self.ledger.invoke(self.identity, function, *encoded)
        else:
            private = {k: (v if isinstance(v, str) else json.dumps(v)).encode() for k, v in transient.items()}
            outcome = self.ledger.invoke(self.identity, function, *encoded, transient=private)
        assert outcome.status == 200, f"{function}: {outcome.message}"
        return json.loads(outcome.payload) if outcome.payload else None
