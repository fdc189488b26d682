"""The separate-hosts harness itself: each namespace reaches the others only at their bridge addresses,
its loopback is its own, and nothing is left behind."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from .hosts import HostNetwork, why_unavailable

pytestmark = pytest.mark.skipif(why_unavailable() is not None, reason=str(why_unavailable()))

# A one-line TCP server: answers its host's name to whoever connects, then exits.
SERVE = (
    "import socket,sys; s=socket.create_server((sys.argv[1], 7999)); print('ready', flush=True); "
    "c,_=s.accept(); c.sendall(sys.argv[2].encode()); c.close()"
)
ASK = (
    "import socket,sys\n"
    "try:\n    print(socket.create_connection((sys.argv[1], 7999), timeout=2).recv(64).decode())\n"
    "except OSError as exc:\n    print('unreachable', type(exc).__name__)\n"
)


def _serve(host_command: list[str], address: str, name: str) -> subprocess.Popen[str]:
    server = subprocess.Popen(
        [*host_command, sys.executable, "-c", SERVE, address, name], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    assert server.stdout.readline().strip() == "ready"
    return server


def test_hosts_reach_each_other_only_by_address_and_keep_their_own_loopback() -> None:
    with HostNetwork("clht", ["alpha", "beta"], subnet="10.233.0.0/24") as hosts:
        alpha, beta = hosts.hosts["alpha"], hosts.hosts["beta"]
        assert alpha.address != beta.address

        server = _serve(alpha.command([]), alpha.address, "alpha")
        answer = beta.run([sys.executable, "-c", ASK, alpha.address], timeout=10).stdout.strip()
        server.wait(timeout=5)
        assert answer == "alpha"  # beta reaches alpha at alpha's address

        server = _serve(alpha.command([]), "127.0.0.1", "alpha-loopback")
        answer = beta.run([sys.executable, "-c", ASK, "127.0.0.1"], timeout=10).stdout.strip()
        server.kill()
        assert answer.startswith("unreachable")  # alpha's loopback is not beta's

        lingering = subprocess.Popen([*beta.command(["sleep", "600"])])
        deadline = time.monotonic() + 5
        while lingering.pid not in beta.processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lingering.pid in beta.processes()  # a process started on beta belongs to beta
    assert lingering.wait(timeout=15) != 0  # stopped with its host
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert "clht-" not in listed
    links = subprocess.run(["ip", "link", "show"], capture_output=True, text=True, check=True).stdout
    assert "clhtbr" not in links
