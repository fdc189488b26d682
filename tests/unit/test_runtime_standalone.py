"""The chaincode runtime is usable for any chaincode: importing it loads none of CareLedger's contracts
nor anything of the client."""

from __future__ import annotations

import subprocess
import sys


def test_the_runtime_imports_without_the_contracts_or_the_client() -> None:
    probe = (
        "import sys, careledger_chaincode.runtime, careledger_chaincode.runtime.testing; "
        "print(sorted(m for m in sys.modules if m.startswith(('careledger_chaincode.contracts', 'careledger.'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
