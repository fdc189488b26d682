"""offlinesign.feature (O1-O4): a gateway without a signer sends nothing unsigned; signatures made
elsewhere over each stage's digest are accepted."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_gateway import Contract, GatewayError, signers

from .conftest import Scenarios

pytestmark = pytest.mark.network


def _unsigned(scenarios: Scenarios) -> Contract:
    gateway = scenarios.gateway("hospital1", "h1-clinician-1", signed=False)
    return gateway.network(scenarios.network.c.channel).contract("basic")


def _signer(scenarios: Scenarios) -> signers.Sign:
    key = scenarios.key("Org1")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return signers.ecdsa(key)


@pytest.mark.parametrize("call", ["evaluate", "submit"], ids=["o1-evaluate", "o3-submit"])
def test_o1_o3_without_a_signature_nothing_is_sent(scenarios: Scenarios, call: str) -> None:
    with pytest.raises(GatewayError, match="no signer"):
        getattr(_unsigned(scenarios), call)("echo", ["conga"])


def test_o2_evaluate_signed_elsewhere(scenarios: Scenarios) -> None:
    proposal = _unsigned(scenarios).new_proposal("echo", ["conga"])
    assert proposal.with_signature(_signer(scenarios)(proposal.digest)).evaluate() == b"conga"


def test_o4_submit_signed_elsewhere_at_every_stage_from_bytes(scenarios: Scenarios) -> None:
    """The client keeps only bytes between the stages, as a remote signer's round trip would."""
    sign = _signer(scenarios)
    contract = _unsigned(scenarios)
    gateway = contract.network.gateway
    unsigned = contract.new_proposal("echo", ["conga"])
    transaction = gateway.new_signed_proposal(unsigned.bytes, sign(unsigned.digest)).endorse()
    assert transaction.result == b"conga"
    submitted = gateway.new_signed_transaction(transaction.bytes, sign(transaction.digest)).submit()
    commit = gateway.new_signed_commit(submitted.bytes, sign(submitted.digest))
    assert commit.status().successful
