"""A BFT-ordered network (channel.consensus: bft, four orderers, one per organization) in its own state
folder and on its own ports (every port_base shifted, so it runs beside the session's Raft network):
transactions commit, and keep committing after the leader orderer is killed (f=1 of 4)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from careledger.connection import connect
from careledger_network import bft
from careledger_network.consortium import DEFAULT_PATH, parse
from careledger_network.network import Network

from .conftest import block_seen

pytestmark = [pytest.mark.network, pytest.mark.slow]
PORT_SHIFT = 1000


@pytest.fixture(scope="module")
def bft_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    doc: dict[str, Any] = bft.spread_orderers(yaml.safe_load(DEFAULT_PATH.read_text()))
    for section in (doc["orderer_org"], *doc["orgs"]):
        section["port_base"] += PORT_SHIFT
    lines: list[str] = []
    network = Network(parse(doc), tmp_path_factory.mktemp("bft-state"), echo=lines.append)
    try:
        network.up()
        yield network
    finally:
        network.down()


def _put(network: Network, key: str, org_key: str = "hospital1", user: str = "h1-admin") -> int:
    """diag:Put through the org's gateway; returns the block it committed in."""
    c = network.c
    with connect(network.state / "profiles" / f"{org_key}.json", user) as gateway:
        contract = gateway.network(c.channel).contract(c.chaincode_name, "diag")
        status = contract.new_proposal("Put", [key, "v"]).endorse().submit().raise_for_status()
        assert status.successful
        return int(status.block_number)


def _get(network: Network, key: str, org_key: str, user: str) -> str:
    c = network.c
    with connect(network.state / "profiles" / f"{org_key}.json", user) as gateway:
        return gateway.network(c.channel).contract(c.chaincode_name, "diag").evaluate_transaction("Get", key).decode()


def test_four_orderers_of_four_organizations_order_the_channel(bft_network: Network) -> None:
    c = bft_network.c
    assert {o.msp_id for o in c.orderers} == {org.msp_id for org in (c.orderer_org, *c.orgs)}
    for orderer in c.orderers:
        assert c.channel in bft_network.cli.orderer_channels(orderer)
    key = f"bft-{uuid.uuid4().hex[:8]}"
    assert _put(bft_network, key) > 0
    assert _get(bft_network, key, "hospital1", "h1-admin") == "v"


def test_transactions_commit_with_the_leader_orderer_killed(bft_network: Network) -> None:
    c = bft_network.c
    leader = c.orderers[bft.wait_bft_leader(c, bft_network.state, bft_network.admin_tls_pair) - 1]
    assert bft_network.table.stop(leader.name)
    run = uuid.uuid4().hex[:8]
    # The followers notice the silent leader after LeaderHeartbeatTimeout and change views; until then a
    # submit may wait or fail (the gateway needs a quorum, 3 of 4, to accept it).
    killed_at = time.monotonic()
    deadline = killed_at + 90
    while True:
        try:
            _put(bft_network, f"bft-{run}-first")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    first_commit_s = time.monotonic() - killed_at
    started = time.monotonic()
    for i in range(10):
        block = _put(bft_network, f"bft-{run}-{i}", "hospital2", "h2-admin")
    print(
        f"\nBFT with {leader.name} (the leader, {leader.msp_id}) killed: first commit after {first_commit_s:.1f} s, "
        f"then 10 sequential commits in {time.monotonic() - started:.1f} s"
    )
    with connect(bft_network.state / "profiles" / "healthauthority.json", "ha-admin") as gateway:
        block_seen(gateway, c.channel, block)  # committed through Hospital2's peer
    assert _get(bft_network, f"bft-{run}-9", "healthauthority", "ha-admin") == "v"
