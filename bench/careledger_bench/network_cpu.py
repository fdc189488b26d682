"""Where the CPU goes: CPU time of the network's own processes (peers, orderers, chaincode servers, CAs,
record stores, apps), read from /proc before and after a workload and reported per transaction."""

from __future__ import annotations

import os
import time
from pathlib import Path

from careledger_network.processes import ProcessTable, stat_fields

ROLES = ("peer", "orderer", "chaincode", "store", "other")
_TICK = os.sysconf("SC_CLK_TCK")


def _role(name: str) -> str:
    for prefix, role in (("peer", "peer"), ("orderer", "orderer"), ("cc-", "chaincode"), ("store-", "store")):
        if name.startswith(prefix):
            return role
    return "other"


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc (stat field 4 is the parent)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name))
            if fields:
                tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _cpu_seconds(pid: int) -> float:
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _TICK if fields else 0.0  # utime + stime


class NetworkCPU:
    """`with NetworkCPU(state) as cpu: ...` then `cpu.per_op(n)`: ms of CPU per operation, by role.

    With `settle=True` the measurement starts only once the network has gone idle (see quiesce);
    `quiet_after_s` says how long that took."""

    def __init__(self, state: Path, settle: bool = False) -> None:
        self.state = state
        self.settle = settle
        self.quiet_after_s = 0.0
        self._start: dict[int, float] = {}
        self._end: dict[int, float] = {}
        self._roles: dict[int, str] = {}

    def _snapshot(self) -> dict[int, float]:
        # A process's children count as its role: a supervised chaincode server's worker, a gunicorn
        # master's worker (record stores and web apps).
        children = _children()
        pids: dict[int, str] = {}
        for name, proc in ProcessTable(self.state).load().items():
            family = [proc.pid]
            while family:
                pid = family.pop()
                pids[pid] = _role(name)
                family.extend(children.get(pid, ()))
        self._roles.update(pids)
        return {pid: _cpu_seconds(pid) for pid in pids}

    def __enter__(self) -> NetworkCPU:
        if self.settle:
            self.quiet_after_s = quiesce(self.state)
        self._start = self._snapshot()
        return self

    def __exit__(self, *exc: object) -> None:
        self._end = self._snapshot()

    def per_op(self, operations: int) -> dict[str, float]:
        totals = dict.fromkeys(ROLES, 0.0)
        for pid, end in self._end.items():
            totals[self._roles[pid]] += max(0.0, end - self._start.get(pid, 0.0))
        return {role: round(1000 * seconds / max(1, operations), 2) for role, seconds in totals.items()}


def quiesce(state: Path, limit: float = 0.1, window: float = 0.5, timeout: float = 20.0) -> float:
    """Wait until the network's processes together use less than `limit` of a core over `window` seconds
    (the previous workload's background work, LevelDB compaction above all, has finished), for at most
    `timeout` seconds. Returns the seconds waited.

    Without it, one workload's compaction is charged to whichever workload runs next."""
    meter = NetworkCPU(state)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = meter._snapshot()
        time.sleep(window)
        after = meter._snapshot()
        busy = sum(max(0.0, cpu - before.get(pid, cpu)) for pid, cpu in after.items())
        if busy < limit * window:
            break
    return round(time.monotonic() - started, 1)
