"""`careledger`: every CareLedger flow from a shell.

Who you are: --org and --user (a wallet identity of the local network), or --profile FILE.
Output is human-readable, or JSON with --json. Exit codes:
    0 done   1 refused by the ledger or a store   2 bad input   3 not found   4 network unavailable
    5 integrity failure (tampered or mismatched data)
"""

from __future__ import annotations

from importlib.metadata import entry_points

# Each module registers its commands on `main` when imported.
from . import _audit, _consent, _members, _models, _proxies, _records, _requests, _wallet
from ._base import main

# Commands other installed CareLedger packages add the same way (the models package: `model verify`, `model
# trace`, `inference verify`), found by entry point so that this package does not import them.
for _plugin in entry_points(group="careledger.cli"):
    _plugin.load()

__all__ = ["main"]
del _audit, _consent, _members, _models, _proxies, _records, _requests, _wallet
