"""Native processes of the network: started detached, tracked by PID (and start time), stopped by PID.

A process is identified by its PID *and* its kernel start time, so a recycled PID is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from careledger import write_atomic


class ProcessError(RuntimeError):
    pass


@dataclass
class TrackedProcess:
    name: str
    pid: int
    start_ticks: int
    command: list[str]
    log: str
    ports: list[int] = field(default_factory=list)
    health_url: str = ""  # https://host:port/healthz, or "" for a plain TCP check of ports[0]
    host: str = "127.0.0.1"  # the address its ports listen on

    def alive(self) -> bool:
        return _start_ticks(self.pid) == self.start_ticks


def stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on, or None when there is no such process. The fields come
    after the parenthesised command name, which may contain spaces: fields[0] is state, fields[11] utime,
    fields[12] stime, fields[19] starttime."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return stat[stat.rindex(")") + 2 :].split()


def _start_ticks(pid: int) -> int:
    """The process's start time in clock ticks since boot, or -1 when there is no such process."""
    fields = stat_fields(pid)
    if fields is None or fields[0] == "Z":  # a zombie is gone for our purposes
        return -1
    return int(fields[19])


class ProcessTable:
    """The processes this network started, persisted in <state>/processes.json."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "processes.json"
        self.log_dir = state_dir / "logs"

    def load(self) -> dict[str, TrackedProcess]:
        if not self.path.exists():
            return {}
        raw = json.loads(self.path.read_text())
        return {name: TrackedProcess(**entry) for name, entry in raw.items()}

    def save(self, table: dict[str, TrackedProcess]) -> None:
        doc = {name: asdict(p) for name, p in sorted(table.items())}
        write_atomic(self.path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())

    def start(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        *,
        ports: list[int],
        health_url: str = "",
        host: str = "127.0.0.1",
        cwd: Path | None = None,
    ) -> TrackedProcess:
        table = self.load()
        if name in table and table[name].alive():
            raise ProcessError(f"{name} is already running (PID {table[name].pid})")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            log.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {name}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                command,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the orchestrator; our signals go to it alone
            )
        tracked = TrackedProcess(
            name=name,
            pid=proc.pid,
            start_ticks=_start_ticks(proc.pid),
            command=command,
            log=str(log_path),
            ports=ports,
            health_url=health_url,
            host=host,
        )
        table[name] = tracked
        self.save(table)
        return tracked

    def stop(self, name: str, timeout: float = 10.0) -> bool:
        """Stop one process by PID: SIGTERM, then SIGKILL after `timeout`. False if it was not running."""
        table = self.load()
        proc = table.pop(name, None)
        if proc is None:
            return False
        was_alive = proc.alive()
        if was_alive:
            _signal(proc, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while proc.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if proc.alive():
                _signal(proc, signal.SIGKILL)
                while proc.alive() and time.monotonic() < deadline + 5:
                    time.sleep(0.05)
        self.save(table)
        return was_alive

    def stop_all(self, names: list[str] | None = None) -> list[str]:
        """Stop processes in reverse start order (or the given ones); returns those that were running."""
        table = self.load()
        targets = list(reversed(list(table))) if names is None else [n for n in names if n in table]
        return [name for name in targets if self.stop(name)]

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _signal(proc: TrackedProcess, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)
    with contextlib.suppress(ChildProcessError):  # reap it if it is our child (network-up started it)
        os.waitpid(proc.pid, os.WNOHANG)


def port_holder(port: int) -> str | None:
    """Who listens on a TCP port on this host: 'PID 123 (orderer)', 'an unknown process', or None."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            cols = row.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(inode)
    if not inodes:
        return _connectable(port)
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            for fd in (pid_dir / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    comm = (pid_dir / "comm").read_text().strip()
                    return f"PID {pid_dir.name} ({comm})"
        except (PermissionError, FileNotFoundError, ProcessLookupError):
            continue
    return "an unknown process"


def _connectable(port: int) -> str | None:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            return "an unknown process"
    return None
