"""Shared fixtures. Tests marked `network` run against the live local network: the session fixture
reuses a running one or starts it (and stops what it started at the end, keeping the state)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from careledger_network.consortium import Consortium, load
from careledger_network.network import Network
from careledger_network.paths import state_dir


@pytest.fixture(scope="session")
def consortium() -> Consortium:
    return load()


@pytest.fixture(scope="session")
def network(consortium: Consortium) -> Iterator[Network]:
    lines: list[str] = []
    net = Network(consortium, state_dir(), echo=lines.append)
    started_here = not net.is_running()
    if started_here:
        net.up()
    yield net
    if started_here and not os.environ.get("CARELEDGER_KEEP_NETWORK"):
        net.stop()


@pytest.fixture(scope="session")
def profiles(network: Network) -> Path:
    return network.state / "profiles"
