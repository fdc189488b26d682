"""`make bench`: the whole benchmark in one run, one table, raw JSON and a chart under results/.

Workloads alternate between our Python client and the official Node client on the same functions,
then the contract's own transactions, envelope encryption next to raw AES-GCM, and authorized batch
scoring of 1,000 records next to plain XGBoost. The machine's load is sampled during the run.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from careledger_network.paths import REPO_ROOT, state_dir

from . import crypto_bench, growth, scoring
from .network_cpu import ROLES
from .runner import HEADER, Result, table_row
from .workloads import WORKLOADS, Bench

# The write workloads at 64 in flight run for about 10 s each: LevelDB compacts in bursts set off by what
# was written before, and a 2-3 s run would be charged a whole burst or none of it.
PLAN = [
    ("trivial-write", 1, 30),
    ("node-trivial-write", 1, 30),
    ("trivial-write", 16, 400),
    ("node-trivial-write", 16, 400),
    ("trivial-write", 64, 3000),
    ("node-trivial-write", 64, 3000),
    ("trivial-read", 1, 300),
    ("node-trivial-read", 1, 300),
    ("trivial-read", 16, 3000),
    ("node-trivial-read", 16, 3000),
    ("trivial-read", 64, 4000),
    ("node-trivial-read", 64, 4000),
    ("grant", 64, 2400),
    ("revoke", 64, 1200),
    ("request-access-1", 1, 30),
    ("request-access-1", 64, 2400),
    ("request-access-100", 16, 80),
    ("access-check", 16, 3000),
    ("create-record", 16, 300),
]


class LoadSampler:
    """Samples the machine's CPU use (from /proc/stat) every second while the bench runs."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _ticks() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    def _run(self) -> None:
        busy0, total0 = self._ticks()
        while not self._stop.wait(1.0):
            busy1, total1 = self._ticks()
            if total1 > total0:
                self.samples.append(100.0 * os.cpu_count() * (busy1 - busy0) / (total1 - total0))  # type: ignore[operator]
            busy0, total0 = busy1, total1

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        if not self.samples:
            return {}
        return {
            "mean_cpu_percent": round(sum(self.samples) / len(self.samples), 1),
            "max_cpu_percent": round(max(self.samples), 1),
        }


CPU_HEADER = f"{'workload':<28} {'conc':>4} {'client':>7} " + " ".join(f"{role:>9}" for role in ROLES)


def _cpu_row(r: dict[str, Any]) -> str:
    network = r["network_cpu_ms_per_op"]
    return f"{r['workload']:<28} {r['concurrency']:>4} {r['cpu_ms_per_op']:>7} " + " ".join(
        f"{network[role]:>9}" for role in ROLES
    )


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['workload']} c={r['concurrency']}" for r in rows]
    fig, (tps, lat) = plt.subplots(1, 2, figsize=(16, 0.45 * len(rows) + 2))
    tps.barh(
        labels,
        [r["ops_per_s"] for r in rows],
        color=["#d95f02" if "Node" in r["workload"] else "#1b9e77" for r in rows],
    )
    tps.set_xlabel("transactions / s")
    tps.invert_yaxis()
    lat.barh(labels, [r["p50_ms"] for r in rows], color="#7570b3", label="p50")
    lat.barh(
        labels,
        [r["p99_ms"] - r["p50_ms"] for r in rows],
        left=[r["p50_ms"] for r in rows],
        color="#cbc9e2",
        label="p50..p99",
    )
    lat.set_xscale("log")
    lat.set_xlim(left=0.5)
    lat.set_xlabel("latency, ms (log)")
    lat.invert_yaxis()
    lat.set_yticklabels([])
    lat.legend()
    fig.suptitle("CareLedger on the local 3-org network (2 cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> int:
    results_dir = Path(os.environ.get("CARELEDGER_RESULTS", REPO_ROOT / "results"))
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    bench = Bench(state_dir() / "profiles")
    rows: list[dict[str, Any]] = []
    with LoadSampler() as load:
        try:
            bench.register_users()
            print(HEADER, flush=True)
            for name, concurrency, operations in PLAN:
                result: Result = WORKLOADS[name](bench, concurrency, operations)
                rows.append(result.summary())
                print(table_row(rows[-1]), flush=True)
        finally:
            bench.close()
        print(f"\nwhere the CPU goes, ms per transaction:\n{CPU_HEADER}", flush=True)
        for r in rows:
            print(_cpu_row(r))
        print("\nenvelope encryption vs raw AES-256-GCM (MB/s):", flush=True)
        crypto_rows = crypto_bench.rows()
        for c in crypto_rows:
            print(
                f"  {int(c['size']):>8} B  encrypt {c['envelope_encrypt_mb_s']:>8} vs {c['raw_encrypt_mb_s']:>8} "
                f"({c['encrypt_ratio']}x)   decrypt {c['envelope_decrypt_mb_s']:>8} vs {c['raw_decrypt_mb_s']:>8} "
                f"({c['decrypt_ratio']}x)"
            )
        print("\nauthorized batch scoring of 1,000 records (seeding first):", flush=True)
        scored = scoring.batch_scoring(state_dir())
        print(
            f"  end to end {scored['end_to_end_records_per_s']} records/s ({scored['end_to_end_s']} s, "
            f"{scored['scoring_processes']} scoring processes) "
            f"vs plain XGBoost {scored['plain_xgboost_records_per_s']} records/s on the same rows\n"
            f"  CPU per record: {', '.join(f'{k} {v} ms' for k, v in scored['cpu_ms_per_record'].items())}; "
            f"{os.cpu_count()} cores allow at most {scored['cpu_bound_records_per_s']} records/s at that cost"
        )
        print("\ngrowth: 1,000 vs 100,000 audit events of one patient on the ledger:", flush=True)
        grown = growth.measure_growth(100_000)
        print(
            f"  request-access p50 {grown['at_1000']['request_access_p50_ms']} -> "
            f"{grown['at_large']['request_access_p50_ms']} ms "
            f"({grown['ratio_request_access']}x); access-log page p50 {grown['at_1000']['access_log_page_p50_ms']} -> "
            f"{grown['at_large']['access_log_page_p50_ms']} ms ({grown['ratio_access_log_page']}x)\n"
            f"  block bytes: {grown['block_bytes_per_record']} per record, {grown['block_bytes_per_grant']} per grant, "
            f"{grown['block_bytes_per_access_event']} per access event"
        )
    machine = {**load.summary(), "cores": os.cpu_count(), "loadavg": os.getloadavg()}
    print(f"\nmachine during the run: {machine}")
    doc = {
        "when": stamp,
        "machine": machine,
        "transactions": rows,
        "encryption": crypto_rows,
        "scoring": scored,
        "growth": grown,
    }
    (results_dir / f"bench-{stamp}.json").write_text(json.dumps(doc, indent=2) + "\n")
    chart(rows, results_dir / f"bench-{stamp}.png")
    print(f"raw results: {results_dir / f'bench-{stamp}.json'}; chart: {results_dir / f'bench-{stamp}.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
