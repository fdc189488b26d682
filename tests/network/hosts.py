"""Separate hosts on one machine: a Linux network namespace per organization, joined by a bridge.

Each namespace has its own loopback, its own ports and one address on the bridge, so a process in one
namespace reaches another organization only through that organization's address, as between buildings.
The bridge also has an address in the machine's own namespace, which is where the test process (standing
in for the consortium's operator and for people's browsers and clients) talks from. Everything created is
removed on exit, processes inside the namespaces included.

Latency between hospitals needs the kernel's `netem` queueing discipline; `HostNetwork.delay` says whether
this kernel has it instead of failing.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self


class HostsUnavailable(RuntimeError):
    """This machine cannot make network namespaces (not root, or no `ip`)."""


def why_unavailable() -> str | None:
    """None when namespaces can be made here, else the reason in words (for a pytest skip)."""
    if os.geteuid() != 0:
        return "separate hosts need network namespaces, which need root"
    if shutil.which("ip") is None:
        return "separate hosts need the `ip` command (Debian package iproute2)"
    return None


def _ip(*args: str, namespace: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["ip", "netns", "exec", namespace, "ip", *args] if namespace else ["ip", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise HostsUnavailable(f"`{' '.join(argv)}` failed: {done.stderr.strip()}")
    return done


@dataclass(frozen=True)
class Host:
    """One organization's host: a namespace and its address on the bridge."""

    name: str
    namespace: str
    address: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` as run on this host."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def run(self, argv: Sequence[str], timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout, check=False)

    def processes(self) -> list[int]:
        done = subprocess.run(["ip", "netns", "pids", self.namespace], capture_output=True, text=True, check=False)
        return [int(p) for p in done.stdout.split()]


@dataclass
class HostNetwork:
    """Namespaces named `<prefix>-<host>` on a bridge `<prefix>br` in `subnet` (the bridge takes the first address)."""

    prefix: str
    names: Sequence[str]
    subnet: str = "10.232.0.0/24"
    hosts: dict[str, Host] = field(default_factory=dict)

    @property
    def bridge(self) -> str:
        return f"{self.prefix}br"[:15]  # interface names are at most 15 characters

    @property
    def gateway_address(self) -> str:
        return str(next(ipaddress.ip_network(self.subnet).hosts()))

    def __enter__(self) -> Self:
        reason = why_unavailable()
        if reason:
            raise HostsUnavailable(reason)
        self.remove()  # what a killed earlier run left behind
        net = ipaddress.ip_network(self.subnet)
        addresses = [str(a) for a in net.hosts()]
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{addresses[0]}/{net.prefixlen}", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for n, name in enumerate(self.names, start=1):
                self._add_host(name, addresses[n], net.prefixlen, n)
        except BaseException:
            self.remove()
            raise
        return self

    def _add_host(self, name: str, address: str, prefixlen: int, n: int) -> None:
        namespace = f"{self.prefix}-{name}"
        outside, inside = f"{self.prefix}v{n}"[:15], f"{self.prefix}p{n}"[:15]
        _ip("netns", "add", namespace)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", namespace)
        _ip("link", "set", outside, "master", self.bridge)
        _ip("link", "set", outside, "up")
        _ip("addr", "add", f"{address}/{prefixlen}", "dev", inside, namespace=namespace)
        _ip("link", "set", inside, "up", namespace=namespace)
        _ip("link", "set", "lo", "up", namespace=namespace)
        _ip("route", "add", "default", "via", self.gateway_address, namespace=namespace)
        self.hosts[name] = Host(name, namespace, address)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.remove()

    def delay(self, milliseconds: int) -> bool:
        """Add `milliseconds` of latency on every host's link; False when this kernel has no netem."""
        for n, _name in enumerate(self.names, start=1):
            link = f"{self.prefix}v{n}"[:15]
            done = _ip("link", "show", link, check=False)
            if done.returncode != 0:
                continue
            shaped = subprocess.run(
                ["tc", "qdisc", "replace", "dev", link, "root", "netem", "delay", f"{milliseconds}ms"],
                capture_output=True,
                text=True,
                check=False,
            )
            if shaped.returncode != 0:
                return False
        return True

    def remove(self) -> None:
        """Stop every process inside the namespaces, then delete them and the bridge (their veths go with them)."""
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
        mine = [line.split()[0] for line in listed.splitlines() if line.startswith(f"{self.prefix}-")]
        for namespace in mine:
            _stop_all(namespace)
            _ip("netns", "del", namespace, check=False)
        _ip("link", "del", self.bridge, check=False)
        self.hosts.clear()


def _stop_all(namespace: str, grace: float = 10.0) -> None:
    def pids() -> list[int]:
        done = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False)
        return [int(p) for p in done.stdout.split()]

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        running = pids()
        for pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while running and time.monotonic() < deadline:
            time.sleep(0.1)
            running = pids()
        if not running:
            return
