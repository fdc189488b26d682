"""transactions.feature (T1-T6) and discovery.feature (D2) on the `basic` and `errors` definitions."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from fabric_gateway import Contract, EndorseError, GatewayError

from .conftest import ORGS, Scenarios, run_id

pytestmark = pytest.mark.network


def test_t1_evaluate_returns_the_chaincode_s_answer(contract: Callable[..., Contract]) -> None:
    assert contract("Org1", "basic").evaluate("echo", ["conga"]) == b"conga"


def test_t2_submit_returns_the_answer_once_committed(contract: Callable[..., Contract]) -> None:
    submitted = contract("Org1", "basic").submit_async("echo", ["conga"])
    assert submitted.result == b"conga"
    assert submitted.status().successful


def test_t3_a_submitted_write_is_read_back(contract: Callable[..., Contract]) -> None:
    basic, key = contract("Org1", "basic"), f"t3-{run_id()}"
    basic.submit("put", [key, "conga"])
    assert basic.evaluate("get", [key]) == b"conga"


def test_t4_transient_data_reaches_the_chaincode(contract: Callable[..., Contract]) -> None:
    answer = contract("Org1", "basic").evaluate("echoTransient", transient={"key1": b"value1", "key2": b"value2"})
    assert json.loads(answer) == {"key1": "value1", "key2": "value2"}


def test_t5_a_failed_evaluation_carries_the_chaincode_s_message(contract: Callable[..., Contract]) -> None:
    with pytest.raises(EndorseError) as failed:
        contract("Org1", "basic").evaluate("errorMessage", ["Conga Line Error"])
    assert failed.value.grpc_status == "UNKNOWN"
    assert "chaincode response 500, Conga Line Error" in str(failed.value)


def test_t6_a_failed_endorsement_details_each_peer(contract: Callable[..., Contract]) -> None:
    with pytest.raises(EndorseError) as failed:
        contract("Org1", "basic").submit("errorMessage", ["Conga Line Error"])
    assert failed.value.grpc_status == "ABORTED"
    assert "failed to endorse transaction, see attached details for more info" in str(failed.value)
    # One peer per organization here (two in the official network): Org1's peer was tried and answered.
    assert [d.msp_id for d in failed.value.details] == [ORGS.org1]
    assert "chaincode response 500, Conga Line Error" in failed.value.details[0].message


def test_d2_submit_succeeds_when_every_organization_endorses(contract: Callable[..., Contract]) -> None:
    transaction = contract("Org1", "errors").new_proposal("echo", ["all three"]).endorse()
    assert sorted(transaction.endorser_msp_ids) == sorted([ORGS.org1, ORGS.org2, ORGS.org3])
    assert transaction.submit().status().successful


def test_d1_submit_fails_with_insufficient_endorsers(contract: Callable[..., Contract], scenarios: Scenarios) -> None:
    """Org3's peer is stopped, so AND(Org1, Org2, Org3) cannot be met; it is started again after."""
    network = scenarios.network
    peer = network.c.org("healthauthority").peers[0]
    network.table.stop(peer.name)
    try:
        with pytest.raises(GatewayError):
            contract("Org1", "errors").submit("echo", ["conga"])
    finally:
        network.start()  # relaunches the stopped peer (and nothing that still runs)
        scenarios.wait_until_serving()
