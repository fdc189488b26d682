"""Raft vs BFT ordering, in one run: each brings up its own network (own state folder, the consortium's
ports, one after the other), measures the trivial write alone and at 64 in flight, and tears it down.

    python -m careledger_bench.consensus [--operations 2000] [--json FILE]

Prints numbers only: the time to bring each network up, the lone submit p50 and tx/s at 64 in flight.
The BFT network is network/consortium.yaml with one orderer each run by the orderer org and every
application organization (careledger_network.bft.spread_orderers). Needs the default ports free.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from careledger_network.bft import spread_orderers
from careledger_network.consortium import DEFAULT_PATH, RAFT, parse
from careledger_network.network import Network

from .runner import HEADER, table_row
from .workloads import Bench


def measure(consensus: str, doc: dict[str, Any], root: Path, operations: int) -> dict[str, Any]:
    """Bring a network up in `root`/<consensus>, run the trivial write at 1 and 64 in flight, tear it down."""
    state = root / consensus
    os.environ["CARELEDGER_STATE"] = str(state)  # the runner's network CPU accounting reads it
    network = Network(parse(doc), state, echo=lambda _line: None)
    started = time.monotonic()
    network.up()
    up_seconds = time.monotonic() - started
    bench = Bench(state / "profiles")
    try:
        bench.register_users()
        lone = bench.trivial_write(1, 30).summary()
        loaded = bench.trivial_write(64, operations).summary()
    finally:
        bench.close()
        network.down()
    return {
        "consensus": consensus,
        "orderers": len(network.c.orderers),
        "up_s": round(up_seconds, 1),
        "rows": [lone, loaded],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m careledger_bench.consensus", description=__doc__.split("\n")[0])
    parser.add_argument("--operations", type=int, default=2000, help="trivial writes at 64 in flight")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    raft_doc = yaml.safe_load(DEFAULT_PATH.read_text())
    results = []
    with tempfile.TemporaryDirectory(prefix="careledger-consensus-") as root:
        for consensus, doc in ((RAFT, raft_doc), ("bft", spread_orderers(raft_doc))):
            result = measure(consensus, doc, Path(root), args.operations)
            results.append(result)
            print(f"\n{consensus}: {result['orderers']} orderers, network up in {result['up_s']} s")
            print(HEADER)
            for row in result["rows"]:
                print(table_row(row))
    print()
    for result in results:
        lone, loaded = result["rows"]
        print(
            f"{result['consensus']:<5} up {result['up_s']:>5} s   lone submit p50 {lone['p50_ms']:>6} ms   "
            f"trivial write at 64 in flight {loaded['ops_per_s']:>6} tx/s ({loaded['errors']} errors)"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
