"""errors.feature (X1-X9) on the `errors` definition, policy AND(Org1, Org2, Org3)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_gateway import Contract, EndorseError, signers

from .conftest import ORGS, Scenarios

pytestmark = pytest.mark.network


def _fails(call: Callable[[], object]) -> EndorseError:
    with pytest.raises(EndorseError) as failed:
        call()
    return failed.value


def _assert_details(error: EndorseError, expected: dict[str, str]) -> None:
    """As the official step: one detail per expected peer (one per organization here), each containing
    the expected text, and no other."""
    found = {d.msp_id: d.message for d in error.details}
    assert sorted(found) == sorted(expected), error.details
    for msp, text in expected.items():
        assert text in found[msp], (msp, found[msp])


def test_x1_a_missing_argument_is_refused_by_the_endorser(contract: Callable[..., Contract]) -> None:
    error = _fails(lambda: contract("Org1", "errors").evaluate("exists"))
    assert error.grpc_status == "UNKNOWN"
    # Our runtime answers 400 INVALID_ARGUMENT where the official contract API answers 500.
    assert "evaluate call to endorser returned error: chaincode response 400, INVALID_ARGUMENT" in str(error)


def test_x2_a_chaincode_not_on_the_channel(contract: Callable[..., Contract], scenarios: Scenarios) -> None:
    error = _fails(lambda: contract("Org1", "nonexistent").submit("exists", ["k"]))
    assert error.grpc_status == "FAILED_PRECONDITION"
    channel = scenarios.network.c.channel
    assert f"No metadata was found for chaincode nonexistent in channel {channel}" in str(error)


def test_x3_an_unknown_function(contract: Callable[..., Contract]) -> None:
    error = _fails(lambda: contract("Org1", "errors").submit("nonexistent"))
    assert error.grpc_status == "ABORTED"
    assert "failed to endorse transaction, see attached details for more info" in str(error)
    _assert_details(error, {ORGS.org1: "chaincode response 400, UNKNOWN_FUNCTION: no function 'nonexistent'"})


def test_x5_a_proposal_signed_by_another_organization_s_user(scenarios: Scenarios) -> None:
    gateway = scenarios.gateway("hospital1", "h1-clinician-1", signed=False)
    proposal = gateway.network(scenarios.network.c.channel).contract("errors").new_proposal("exists", ["123"])
    org3_key = scenarios.key("Org3")
    assert isinstance(org3_key, ec.EllipticCurvePrivateKey)
    proposal.with_signature(signers.ecdsa(org3_key)(proposal.digest))
    error = _fails(proposal.evaluate)
    assert error.grpc_status == "FAILED_PRECONDITION"
    channel = scenarios.network.c.channel
    expected = f"access denied: channel [{channel}] creator org [{ORGS.org1}]"
    assert f"evaluate call to endorser returned error: error validating proposal: {expected}" in str(error)
    _assert_details(error, {ORGS.org1: expected})


def test_x6_the_gateway_s_own_organization_refuses_an_evaluation(contract: Callable[..., Contract]) -> None:
    error = _fails(lambda: contract("Org1", "errors").evaluate("orgsFail", [json.dumps([ORGS.org1])]))
    assert error.grpc_status == "UNKNOWN"
    expected = f"evaluate call to endorser returned error: chaincode response 500, {ORGS.org1} refuses to endorse this"
    assert expected in str(error)


@pytest.mark.parametrize("refusing", [["Org3"], ["Org2", "Org3"]], ids=["x7-org3", "x8-org2-and-org3"])
def test_x7_x8_remote_organizations_refuse_to_endorse(contract: Callable[..., Contract], refusing: list[str]) -> None:
    msp_ids = [getattr(ORGS, o.lower()) for o in refusing]
    error = _fails(lambda: contract("Org1", "errors").submit("orgsFail", [json.dumps(msp_ids)]))
    assert error.grpc_status == "ABORTED"
    assert "failed to collect enough transaction endorsements, see attached details for more info" in str(error)
    _assert_details(error, {m: f"{m} refuses to endorse this" for m in msp_ids})


def test_x9_endorsers_that_disagree(contract: Callable[..., Contract]) -> None:
    error = _fails(lambda: contract("Org1", "errors").submit("nondet"))
    assert error.grpc_status == "ABORTED"
    assert "failed to collect enough transaction endorsements" in str(error)
    _assert_details(error, {m: "ProposalResponsePayloads do not match" for m in (ORGS.org2, ORGS.org3)})


def test_x4_a_chaincode_that_crashes_during_an_evaluation(
    contract: Callable[..., Contract], scenarios: Scenarios
) -> None:
    """Last in this module: every scenario server exits, and comes back under its supervisor."""
    try:
        error = _fails(lambda: contract("Org1", "errors").evaluate("crash"))
        assert error.grpc_status == "ABORTED"
        assert "failed to evaluate transaction, see attached details for more info" in str(error)
        _assert_details(error, {m: "chaincode stream terminated" for m in (ORGS.org1, ORGS.org2, ORGS.org3)})
    finally:
        scenarios.wait_until_serving()
