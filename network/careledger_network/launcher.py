"""Starting the network's processes in steps: each step prints its progress, and a failed step stops what
the run started and shows the log tail of the process (or command) that failed."""

from __future__ import annotations

import time
from collections.abc import Callable

from careledger.errors import CAError

from .errors import NetworkError
from .fabric_cli import CommandError
from .health import HealthTimeout, wait_healthy
from .processes import ProcessError, ProcessTable, TrackedProcess, port_holder
from .specs import ProcessSpec


class Launcher:
    def __init__(self, table: ProcessTable, echo: Callable[[str], None]) -> None:
        self.table = table
        self.echo = echo
        self.started_at = time.monotonic()

    def restart_clock(self) -> None:
        self.started_at = time.monotonic()

    def step(self, text: str) -> None:
        self.echo(f"[{time.monotonic() - self.started_at:5.1f}s] {text}")

    def check_ports(self, wanted: dict[int, str]) -> None:
        """Fail, naming each port and what holds it, when any of `wanted` (port -> its user) is taken."""
        busy = [
            f"port {p} (for {what}) is taken by {holder}" for p, what in wanted.items() if (holder := port_holder(p))
        ]
        if busy:
            raise NetworkError(
                "cannot start: "
                + "; ".join(busy)
                + ". Stop that process, or change port_base in network/consortium.yaml."
            )

    def launch(self, specs: list[ProcessSpec], started: list[str], wait: bool = True) -> list[TrackedProcess]:
        """Start what of `specs` is not running (recording it in `started`) and wait until those are healthy
        (`wait=False`: return at once; `wait_running` waits later)."""
        running = self.table.load()
        todo = [s for s in specs if not (s.name in running and running[s.name].alive())]
        self.check_ports({p: s.name for s in todo for p in s.ports})
        launched = []
        for spec in todo:
            launched.append(
                self.table.start(
                    spec.name, spec.command, spec.env, ports=spec.ports, health_url=spec.health_url, host=spec.host
                )
            )
            started.append(spec.name)
        if wait:
            ca_files = {s.name: s.ca_file for s in specs}
            wait_healthy(launched, lambda p: ca_files.get(p.name))
        return launched

    def wait_running(self, specs: list[ProcessSpec]) -> None:
        """Wait until every one of `specs` is healthy, whoever started it and when."""
        table = self.table.load()
        ca_files = {s.name: s.ca_file for s in specs}
        wait_healthy([table[s.name] for s in specs if s.name in table], lambda p: ca_files.get(p.name))

    def run_steps(self, steps: Callable[[list[str]], None]) -> None:
        """Run `steps`; on failure stop every process it started and show why."""
        started: list[str] = []
        try:
            steps(started)
        except HealthTimeout as exc:
            self._abort(started)
            raise NetworkError(
                f"{exc}\n--- last lines of {exc.process.log} ---\n{self.table.tail(exc.process.name)}"
            ) from None
        except (CommandError, ProcessError, CAError, OSError, RuntimeError) as exc:
            self._abort(started)
            if isinstance(exc, NetworkError):
                raise
            raise NetworkError(str(exc)) from None

    def _abort(self, started: list[str]) -> None:
        if started:
            self.echo(f"stopping what this run started: {', '.join(started)}")
            self.table.stop_all(started)
