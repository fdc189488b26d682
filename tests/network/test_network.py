"""The consortium network, asserted from the network itself (issue: network-up)."""

from __future__ import annotations

import time
import uuid

import pytest
from careledger.connection import connect
from careledger_network.consortium import Consortium
from careledger_network.network import Network

pytestmark = pytest.mark.network


def _put_get(network: Network, org_key: str, user: str, key: str, value: str) -> list[str]:
    """Submit diag:Put through `user`'s org gateway; returns the endorsing MSP ids."""
    c = network.c
    with connect(network.state / "profiles" / f"{org_key}.json", user) as gateway:
        contract = gateway.network(c.channel).contract(c.chaincode_name, "diag")
        transaction = contract.new_proposal("Put", [key, value]).endorse()
        status = transaction.submit().raise_for_status()
        assert status.successful
        assert status.block_number > 0
        return transaction.endorser_msp_ids


def _get(network: Network, org_key: str, user: str, key: str) -> str:
    c = network.c
    with connect(network.state / "profiles" / f"{org_key}.json", user) as gateway:
        contract = gateway.network(c.channel).contract(c.chaincode_name, "diag")
        return contract.evaluate_transaction("Get", key).decode()


def test_every_peer_joined_the_channel(network: Network, consortium: Consortium) -> None:
    for org in consortium.orgs:
        for peer in org.peers:
            assert consortium.channel in network.cli.peer_channels(org, peer)
            assert network.cli.channel_height(org, peer) >= 2  # genesis + at least the lifecycle transactions


def test_every_orderer_serves_the_channel(network: Network, consortium: Consortium) -> None:
    for orderer in consortium.orderers:
        assert consortium.channel in network.cli.orderer_channels(orderer)


def test_chaincode_definition_committed_with_every_org_approval(network: Network, consortium: Consortium) -> None:
    committed = network.cli.committed(consortium.orgs[1])
    assert committed is not None
    assert committed["sequence"] >= 1
    assert committed["approvals"] == {org.msp_id: True for org in consortium.orgs}


def test_submit_is_endorsed_by_a_majority_and_commits(network: Network, consortium: Consortium) -> None:
    key, value = f"t-{uuid.uuid4().hex[:12]}", "endorsed-by-majority"
    endorsers = _put_get(network, "hospital2", "h2-admin", key, value)
    majority = len(consortium.orgs) // 2 + 1
    assert len(set(endorsers)) >= majority, endorsers
    assert "Hospital2MSP" in endorsers  # the gateway's own org endorses
    # Committed on every org's peer, not only on the endorsers'.
    for org in consortium.orgs:
        user = org.admin  # the diag contract: admins only
        deadline = time.monotonic() + 10
        while True:
            try:
                assert _get(network, org.key, user, key) == value
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def test_caller_identity_comes_from_the_certificate(network: Network, consortium: Consortium) -> None:
    c = network.c
    with connect(network.state / "profiles" / "healthauthority.json", "ha-auditor-1") as gateway:
        who = gateway.network(c.channel).contract(c.chaincode_name).evaluate_transaction("WhoAmI")
    import json

    assert json.loads(who) == {
        "member_id": "ha-auditor-1@HealthAuthorityMSP",
        "org": "HealthAuthorityMSP",
        "role": "auditor",
        "registered": json.loads(who)["registered"],
    }


@pytest.mark.slow
def test_stop_start_keeps_committed_state(network: Network) -> None:
    key = f"persist-{uuid.uuid4().hex[:12]}"
    _put_get(network, "hospital1", "h1-admin", key, "kept")
    wallet_cert = (
        network.state / "wallets" / "hospital1" / "h1-clinician-1" / "msp" / "signcerts" / "cert.pem"
    ).read_bytes()
    network.stop()
    assert not network.is_running()
    network.start()
    assert network.is_running()
    assert _get(network, "hospital1", "h1-admin", key) == "kept"
    assert (
        network.state / "wallets" / "hospital1" / "h1-clinician-1" / "msp" / "signcerts" / "cert.pem"
    ).read_bytes() == wallet_cert


@pytest.mark.slow
def test_transactions_commit_with_one_orderer_down(network: Network, consortium: Consortium) -> None:
    victim = consortium.orderers[0].name
    assert network.table.stop(victim)
    try:
        key = f"raft-{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + 30
        while True:  # the gateway may first try the stopped orderer, or Raft may be re-electing
            try:
                _put_get(network, "hospital1", "h1-admin", key, "two-of-three")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert _get(network, "hospital1", "h1-admin", key) == "two-of-three"
    finally:
        network.start()
    assert network.is_running()
