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


def _tls_context(ca_file: Path | None, client_pair: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if client_pair:
        context.load_cert_chain(str(client_pair[0]), str(client_pair[1]))
    return context


def probe(process: TrackedProcess, ca_file: Path | None, timeout: float = 1.0) -> tuple[bool, str]:
    """(healthy, short description) for one process."""
    if not process.alive():
        return False, "not running"
    if process.health_url:
        if not process.health_url.startswith("https://"):
            return False, f"refusing health URL {process.health_url!r}: operations endpoints use https"
        try:
            with urllib.request.urlopen(  # noqa: S310 - https only, checked above
                process.health_url, timeout=timeout, context=_tls_context(ca_file)
            ) as resp:
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
        # Fabric serves /healthz a moment before its gRPC ports listen: healthy means both.
        closed = [p for p in process.ports if not _listening(process.host, p, timeout)]
        if closed:
            return False, f"operations endpoint up, not yet listening on {', '.join(map(str, closed))}"
        try:
            return True, str(json.loads(body).get("status", "OK"))
        except (ValueError, AttributeError):
            return True, "OK"  # a web app's page: it answered
    port = process.ports[0] if process.ports else 0
    if _listening(process.host, port, timeout):
        return True, "listening"
    return False, f"not listening on {port}"


def _listening(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


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


def metrics(url: str, ca_file: Path | None, client_pair: tuple[Path, Path], timeout: float = 1.0) -> str:
    """The Prometheus text of an operations endpoint (url ending in /metrics).

    Fabric serves /metrics over TLS only to clients with a certificate from its ClientRootCAs.
    """
    with urllib.request.urlopen(url, timeout=timeout, context=_tls_context(ca_file, client_pair)) as resp:  # noqa: S310 - https URL we built
        return str(resp.read().decode(errors="replace"))


def wait_raft_leader(
    metrics_urls: list[str],
    channel: str,
    ca_file: Path,
    client_pair: tuple[Path, Path],
    timeout: float = 30.0,
) -> str:
    """Wait until one orderer reports itself Raft leader of `channel`; returns its metrics URL."""
    needle = f'consensus_etcdraft_is_leader{{channel="{channel}"}} 1'
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for url in metrics_urls:
            try:
                if needle in metrics(url, ca_file, client_pair):
                    return url
            except OSError:
                continue
        time.sleep(0.1)
    raise TimeoutError(f"no orderer became Raft leader of channel {channel} within {timeout:.0f} s")
