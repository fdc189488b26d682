"""Health of the network's processes: operations endpoints (/healthz over TLS) or a TCP connect."""

from __future__ import annotations

import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .processes import TrackedProcess


class HealthTimeout(RuntimeError):
    def __init__(self, process: TrackedProcess, reason: str) -> None:
        super().__init__(f"{process.name} did not become healthy: {reason}")
        self.process = process


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    return context


def probe(process: TrackedProcess, ca_file: Path | None, timeout: float = 1.0) -> tuple[bool, str]:
    """(healthy, short description) for one process."""
    if not process.alive():
        return False, "not running"
    if process.health_url:
        try:
            with urllib.request.urlopen(process.health_url, timeout=timeout, context=_tls_context(ca_file)) as resp:  # noqa: S310 - https URL we built
                body = resp.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            try:
                failed = json.loads(body).get("failed_checks", [])
            except ValueError:
                failed = []
            return False, f"unhealthy ({exc.code}{': ' + str(failed) if failed else ''})"
        except (OSError, urllib.error.URLError) as exc:
            return False, f"no answer ({getattr(exc, 'reason', exc)})"
        try:
            return True, str(json.loads(body).get("status", "OK"))
        except ValueError:
            return True, body.strip()[:20] or "OK"
    port = process.ports[0] if process.ports else 0
    with socket.socket() as sock:
        sock.settimeout(timeout)
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            return True, "listening"
    return False, f"not listening on {port}"


def wait_healthy(
    processes: list[TrackedProcess],
    ca_file_for: Callable[[TrackedProcess], Path | None],
    timeout: float = 60.0,
) -> None:
    """Poll until every process is healthy; fail at once if one exits."""
    deadline = time.monotonic() + timeout
    waiting = list(processes)
    while waiting:
        for process in list(waiting):
            if not process.alive():
                raise HealthTimeout(process, "the process exited")
            ok, _ = probe(process, ca_file_for(process), timeout=0.5)
            if ok:
                waiting.remove(process)
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise HealthTimeout(waiting[0], f"no healthy answer within {timeout:.0f} s")
        time.sleep(0.05)
