"""Checking an exported audit trail against the blocks themselves (Deliver service)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
from careledger.connection import connect
from careledger.ledger import Block, BlockReader, verify_trail
from careledger_network.network import Network
from fabric_gateway import Gateway

from .conftest import block_seen

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def auditor(network: Network) -> Iterator[Gateway]:
    with connect(network.state / "profiles" / "healthauthority.json", "ha-auditor-1") as gw:
        yield gw


def _events(gw: Gateway, network: Network) -> list[str]:
    """The transaction ids of an exported trail."""
    contract = gw.network(network.c.channel).contract(network.c.chaincode_name)
    contract.submit_transaction("RequestAccess", json.dumps({"record_ids": ["no-such-record"], "purpose": "treatment"}))
    return [e["tx_id"] for e in json.loads(contract.evaluate_transaction("ListAllAccess", "100", ""))["items"]]


def test_an_export_checks_out_against_the_chain(auditor: Gateway, network: Network) -> None:
    events = _events(auditor, network)
    before, _ = BlockReader(auditor, network.c.channel).height()
    report = verify_trail(BlockReader(auditor, network.c.channel), events)
    after, _ = BlockReader(auditor, network.c.channel).height()
    assert report.ok, report
    assert report.events_checked == len(events) > 0
    # Every block to the head it saw; other writers may add blocks meanwhile.
    assert before <= report.blocks_checked <= after


def test_an_event_that_never_committed_is_reported(auditor: Gateway, network: Network) -> None:
    events = _events(auditor, network)
    forged = "f" * 64
    report = verify_trail(BlockReader(auditor, network.c.channel), [*events, forged])
    assert not report.ok
    assert report.missing == ["f" * 64]


class TamperingReader(BlockReader):
    """A reader whose block 2 has a transaction removed, as an altered copy of the ledger would."""

    def blocks(self, start: int, stop: int, timeout: float = 60.0) -> Iterator[Block]:
        for block in super().blocks(start, stop, timeout):
            if block.number == 2:
                block = dataclasses.replace(block, computed_data_hash=b"\x00" * 32, previous_hash=b"\x01" * 32)
            yield block


def test_an_altered_chain_is_reported(auditor: Gateway, network: Network) -> None:
    report = verify_trail(TamperingReader(auditor, network.c.channel), _events(auditor, network))
    assert not report.ok
    assert any(b.startswith("block 2:") for b in report.chain_breaks)


def test_invalid_transactions_are_reported(auditor: Gateway, network: Network) -> None:
    """A transaction committed with a non-VALID code (a key-level endorsement failure) is flagged."""
    import uuid

    with connect(network.state / "profiles" / "hospital1.json", "h1-admin") as gw:  # diag: admins only
        diag = gw.network(network.c.channel).contract(network.c.chaincode_name, "diag")
        key = f"sbe-audit-{uuid.uuid4().hex[:8]}"
        diag.submit_transaction("PutSimple", key, "v")
        diag.submit_transaction("SetKeyEndorsers", key, "Hospital2MSP")
        bad = diag.new_proposal(
            "PutSimple", [key, "v2"], endorsing_organizations=["Hospital1MSP", "HealthAuthorityMSP"]
        ).endorse()
        status = bad.submit().status()
        assert status.code == "ENDORSEMENT_POLICY_FAILURE"
    block_seen(auditor, network.c.channel, status.block_number)  # committed through Hospital1's peer
    report = verify_trail(BlockReader(auditor, network.c.channel), [bad.transaction_id])
    assert report.invalid == [bad.transaction_id]
