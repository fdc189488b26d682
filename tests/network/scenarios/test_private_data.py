"""privatedata.feature (P1-P8) on the `private` definition with its collections (scenario_chaincode.deployment):
who may write and read each collection, and the gateway working out the endorsers from collection policies."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fabric_gateway import Contract, GatewayError

from ..conftest import eventually
from .conftest import ORGS, run_id

pytestmark = pytest.mark.network

Orgs = list[str]


def _write(contract: Contract, collections: str, key: str, value: str, endorsers: Orgs | None = None) -> None:
    transient = {"collection": collections.encode(), "key": key.encode(), "value": value.encode()}
    contract.submit("WritePrivateData", transient=transient, endorsing_organizations=endorsers or [])


def _read(contract: Contract, collection: str, key: str, endorsers: Orgs) -> bytes:
    return contract.evaluate("ReadPrivateData", [collection, key], endorsing_organizations=endorsers)


def test_p1_org1_writes_its_collection_and_reads_it_back(contract: Callable[..., Contract]) -> None:
    org1, key = contract("Org1", "private"), f"p1-{run_id()}"
    _write(org1, "Org1Collection", key, "value-101", [ORGS.org1])
    assert _read(org1, "Org1Collection", key, [ORGS.org1]) == b"value-101"


def test_p2_a_peer_outside_the_collection_cannot_serve_it(contract: Callable[..., Contract]) -> None:
    org1, key = contract("Org1", "private"), f"p2-{run_id()}"
    _write(org1, "Org1Collection", key, "value-102", [ORGS.org1])
    with pytest.raises(GatewayError):
        _read(org1, "Org1Collection", key, [ORGS.org2])


def test_p3_org2_writes_org1_s_collection_but_cannot_read_it(contract: Callable[..., Contract]) -> None:
    org2, key = contract("Org2", "private"), f"p3-{run_id()}"
    _write(org2, "Org1Collection", key, "value-103", [ORGS.org1])
    with pytest.raises(GatewayError):
        _read(org2, "Org1Collection", key, [ORGS.org1])


def test_p4_org2_writes_org1_s_collection_and_org1_reads_it(contract: Callable[..., Contract]) -> None:
    key = f"p4-{run_id()}"
    _write(contract("Org2", "private"), "Org1Collection", key, "value-104", [ORGS.org1])
    org1 = contract("Org1", "private")  # committed on Org2's peer; Org1's has the block a moment later
    eventually(lambda: _read(org1, "Org1Collection", key, [ORGS.org1]) != b"", "the write reaches Org1's peer")
    assert _read(org1, "Org1Collection", key, [ORGS.org1]) == b"value-104"


def test_p5_a_non_member_cannot_read_the_shared_collection(contract: Callable[..., Contract]) -> None:
    key = f"p5-{run_id()}"
    _write(contract("Org1", "private"), "SharedCollection", key, "value-106", [ORGS.org1])
    with pytest.raises(GatewayError):
        _read(contract("Org2", "private"), "SharedCollection", key, [ORGS.org1])


def test_p6_a_non_member_cannot_write_the_shared_collection(contract: Callable[..., Contract]) -> None:
    with pytest.raises(GatewayError):
        _write(contract("Org2", "private"), "SharedCollection", f"p6-{run_id()}", "value-107", [ORGS.org1])


def test_p7_endorsers_worked_out_from_the_collection(contract: Callable[..., Contract]) -> None:
    org1, key = contract("Org1", "private"), f"p7-{run_id()}"
    _write(org1, "SharedCollection", key, "value-108")
    assert _read(org1, "SharedCollection", key, [ORGS.org1]) == b"value-108"


def test_p8_a_collection_s_own_policy_brings_in_its_organization(contract: Callable[..., Contract]) -> None:
    """Org3Collection must be endorsed by Org3: the gateway adds Org3's peer by itself."""
    org1, key = contract("Org1", "private"), f"p8-{run_id()}"
    _write(org1, "SharedCollection,Org3Collection", key, "value-109")
    assert _read(org1, "SharedCollection", key, [ORGS.org1]) == b"value-109"
    # Committed on Org1's peer; Org3's has the block a moment later.
    eventually(lambda: _read(org1, "Org3Collection", key, [ORGS.org3]) != b"", "the write reaches Org3's peer")
    assert _read(org1, "Org3Collection", key, [ORGS.org3]) == b"value-109"
    with pytest.raises(GatewayError):
        _read(org1, "Org3Collection", key, [ORGS.org1])
