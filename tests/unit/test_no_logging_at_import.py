"""Libraries must not configure logging when imported (fabric-chaincode-python set the root logger to DEBUG)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "careledger",
        "fabric_gateway",
        "careledger_store",
        "careledger_chaincode.runtime",
        "careledger_chaincode.contracts",
    ],
)
def test_import_leaves_logging_alone(module: str) -> None:
    code = f"import logging\nimport {module}\nroot = logging.getLogger()\nprint(root.level, len(root.handlers))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(30), "0"]  # WARNING, no handlers: untouched
