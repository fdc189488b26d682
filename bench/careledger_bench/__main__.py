"""careledger-bench (or python -m careledger_bench) [WORKLOAD[:CONCURRENCY[:OPERATIONS]] ...] [--json FILE]

Runs workloads against the running local network and prints one row each. Example:
    python -m careledger_bench request-access-1:64:1000 request-access-100:8:60 grant:32:400

careledger-bench scoring-offline [--help]: authorized batch scoring without a network (by stage, serial
and with scoring processes, at 1,000 and 20,000 records).
careledger-bench store-offline [--help]: the record store's uploads/s with replication off and on (S3Proxy),
and the scrub's blobs/s, without a network.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from careledger_network.paths import state_dir

from .runner import HEADER, table_row
from .workloads import WORKLOADS, Bench


def main(argv: list[str]) -> int:
    if argv[:1] == ["scoring-offline"]:  # no network: careledger_bench.scoring_offline
        from .scoring_offline import main as scoring_offline

        return scoring_offline(argv[1:])
    if argv[:1] == ["store-offline"]:  # no network: careledger_bench.store_offline
        from .store_offline import main as store_offline

        return store_offline(argv[1:])
    out_file = None
    if "--json" in argv:
        i = argv.index("--json")
        if i + 1 >= len(argv):
            print("--json needs a file name", file=sys.stderr)
            return 2
        out_file = Path(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("workloads:", ", ".join(WORKLOADS))
        return 0 if argv else 2
    specs = []
    for spec in argv:
        name, *rest = spec.split(":")
        if name not in WORKLOADS:
            print(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}", file=sys.stderr)
            return 2
        try:
            numbers = [int(n) for n in rest]
        except ValueError:
            numbers = []
        if len(rest) > 2 or len(numbers) != len(rest) or any(n < 1 for n in numbers):
            print(f"{spec!r}: write WORKLOAD[:CONCURRENCY[:OPERATIONS]] with positive integers", file=sys.stderr)
            return 2
        specs.append((name, numbers[0] if numbers else 16, numbers[1] if len(numbers) > 1 else 200))
    bench = Bench(state_dir() / "profiles")
    results = []
    try:
        bench.register_users()
        print(HEADER)
        for name, concurrency, operations in specs:
            r = WORKLOADS[name](bench, concurrency, operations)
            s = r.summary()
            results.append(s)
            print(table_row(s), flush=True)
            print("    network CPU ms/op: " + ", ".join(f"{k} {v}" for k, v in r.network_cpu_ms_per_op.items()))
            for sample in r.error_samples:
                print(f"    error: {sample}")
    finally:
        bench.close()
    if out_file:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def entry() -> None:
    """The `careledger-bench` command."""
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    entry()
