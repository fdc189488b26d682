"""A closed-loop load runner: keep N operations in flight until a count is reached; report tx/s,
latency percentiles, client CPU per operation and errors."""

from __future__ import annotations

import resource
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from careledger_network.paths import state_dir

from .network_cpu import NetworkCPU


@dataclass
class Result:
    workload: str
    concurrency: int
    operations: int
    seconds: float
    errors: int
    latencies_ms: list[float] = field(repr=False)
    client_cpu_s: float
    units_per_op: int = 1  # e.g. access decisions per transaction
    error_samples: list[str] = field(default_factory=list)
    network_cpu_ms_per_op: dict[str, float] = field(default_factory=dict)  # by role: peer, orderer, ...
    quiet_after_s: float = 0.0  # how long the network took to go idle before this workload started

    @property
    def ops_per_s(self) -> float:
        return (self.operations - self.errors) / self.seconds if self.seconds else 0.0

    @property
    def units_per_s(self) -> float:
        return self.ops_per_s * self.units_per_op

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    @property
    def cpu_ms_per_op(self) -> float:
        return 1000 * self.client_cpu_s / max(1, self.operations)

    def summary(self) -> dict[str, Any]:
        doc = {k: v for k, v in asdict(self).items() if k != "latencies_ms"}
        doc.update(
            ops_per_s=round(self.ops_per_s, 1),
            units_per_s=round(self.units_per_s, 1),
            p50_ms=round(self.percentile(50), 1),
            p90_ms=round(self.percentile(90), 1),
            p99_ms=round(self.percentile(99), 1),
            mean_ms=round(statistics.fmean(self.latencies_ms), 1) if self.latencies_ms else None,
            cpu_ms_per_op=round(self.cpu_ms_per_op, 2),
        )
        return doc


HEADER = (
    f"{'workload':<28} {'conc':>4} {'ops':>6} {'tx/s':>8} {'units/s':>9} "
    f"{'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'cpu ms/op':>9} {'errors':>6}"
)


def table_row(r: dict[str, Any]) -> str:
    """One line of the bench table from a Result.summary()."""
    return (
        f"{r['workload']:<28} {r['concurrency']:>4} {r['operations']:>6} {r['ops_per_s']:>8} {r['units_per_s']:>9} "
        f"{r['p50_ms']:>7} {r['p90_ms']:>7} {r['p99_ms']:>7} {r['cpu_ms_per_op']:>9} {r['errors']:>6}"
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(
    workload: str,
    operation: Callable[[int], object],
    *,
    concurrency: int,
    operations: int,
    units_per_op: int = 1,
    max_seconds: float = 120.0,
) -> Result:
    """Run `operation(i)` for i in range(operations), `concurrency` at a time; stops early after max_seconds."""
    next_index = 0
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        nonlocal next_index
        while True:
            with lock:
                if next_index >= operations or time.monotonic() > deadline:
                    return
                i = next_index
                next_index += 1
            started = time.perf_counter()
            try:
                operation(i)
            except Exception as exc:  # noqa: BLE001 - every failure is counted and sampled, none stops the run
                with lock:
                    errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
                continue
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    with NetworkCPU(state_dir(), settle=True) as network_cpu:
        cpu0, t0 = _cpu_seconds(), time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - t0
    return Result(
        workload=workload,
        concurrency=concurrency,
        operations=len(latencies) + len(errors),
        seconds=seconds,
        errors=len(errors),
        latencies_ms=latencies,
        client_cpu_s=_cpu_seconds() - cpu0,
        units_per_op=units_per_op,
        error_samples=errors[:3],
        network_cpu_ms_per_op=network_cpu.per_op(len(latencies) + len(errors)),
        quiet_after_s=network_cpu.quiet_after_s,
    )
