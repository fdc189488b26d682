"""fabric_gateway against an injected transport: message shapes, stages, deadlines, offline signing."""

from __future__ import annotations

import hashlib

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_gateway import (
    CommitError,
    Deadlines,
    EndorseError,
    Gateway,
    GatewayError,
    Identity,
    SubmitError,
    signers,
)
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2, transaction_pb2

from .fake_gateway import FakeRpcError, FakeTransport
from .local_tls import certificate_pem


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def identity(key: ec.EllipticCurvePrivateKey) -> Identity:
    return Identity("Org1MSP", certificate_pem(key))


@pytest.fixture
def transport(key: ec.EllipticCurvePrivateKey) -> FakeTransport:
    return FakeTransport(key.public_key())


@pytest.fixture
def gateway(identity: Identity, key: ec.EllipticCurvePrivateKey, transport: FakeTransport) -> Gateway:
    return Gateway(identity, transport, sign=signers.for_private_key(key))


def test_proposal_carries_channel_chaincode_args_and_a_checkable_tx_id(gateway: Gateway) -> None:
    contract = gateway.network("ch1").contract("cc", "diag")
    proposal = contract.new_proposal("Put", ["k", b"v"], transient={"secret": b"x"})
    parsed = proposal_pb2.Proposal.FromString(proposal.proposal_bytes)
    header = common_pb2.Header.FromString(parsed.header)
    channel_header = common_pb2.ChannelHeader.FromString(header.channel_header)
    signature_header = common_pb2.SignatureHeader.FromString(header.signature_header)
    assert channel_header.channel_id == "ch1"
    assert channel_header.tx_id == proposal.transaction_id
    assert proposal.transaction_id == hashlib.sha256(signature_header.nonce + signature_header.creator).hexdigest()
    payload = proposal_pb2.ChaincodeProposalPayload.FromString(parsed.payload)
    spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(payload.input)
    assert list(spec.chaincode_spec.input.args) == [b"diag:Put", b"k", b"v"]
    assert spec.chaincode_spec.chaincode_id.name == "cc"
    assert dict(payload.TransientMap) == {"secret": b"x"}


def test_submit_runs_endorse_submit_commit_with_default_deadlines(gateway: Gateway, transport: FakeTransport) -> None:
    assert gateway.network("ch1").contract("cc").submit_transaction("Put", "k", "v") == b"result"
    assert [c[0] for c in transport.calls] == ["Endorse", "Submit", "CommitStatus"]
    assert [c[2] for c in transport.calls] == [30.0, 10.0, 60.0]


def test_a_call_s_own_timeout_wins_even_zero(identity: Identity, key: ec.EllipticCurvePrivateKey) -> None:
    transport = FakeTransport(key.public_key())
    deadlines = Deadlines(evaluate=3.0)
    gateway = Gateway(identity, transport, sign=signers.for_private_key(key), deadlines=deadlines)
    contract = gateway.network("ch1").contract("cc")
    contract.evaluate("Get", ["k"])
    contract.evaluate("Get", ["k"], timeout=0)
    assert [c[2] for c in transport.calls] == [3.0, 0]


def test_evaluate_and_submit_name_the_organizations(gateway: Gateway, transport: FakeTransport) -> None:
    contract = gateway.network("ch1").contract("cc")
    assert contract.evaluate("Get", ["k"], endorsing_organizations=["Org2MSP"]) == b"value"
    contract.submit("Put", ["k", "v"], endorsing_organizations=["Org1MSP", "Org3MSP"])
    evaluate, endorse = transport.calls[0][1], transport.calls[1][1]
    assert list(evaluate.target_organizations) == ["Org2MSP"]
    assert list(endorse.endorsing_organizations) == ["Org1MSP", "Org3MSP"]


def test_submit_async_returns_the_result_before_the_commit(gateway: Gateway, transport: FakeTransport) -> None:
    submitted = gateway.network("ch1").contract("cc").submit_async("Put", ["k", "v"])
    assert submitted.result == b"result"
    assert [c[0] for c in transport.calls] == ["Endorse", "Submit"]
    assert submitted.status().block_number == 7


def test_endorse_error_carries_tx_id_status_and_peer_messages(gateway: Gateway, transport: FakeTransport) -> None:
    transport.endorse_error = FakeRpcError(
        grpc.StatusCode.ABORTED, "failed to endorse transaction", [("peer0:7110", "Org1MSP", "chaincode said no")]
    )
    proposal = gateway.network("ch1").contract("cc").new_proposal("Grant", ["x"])
    with pytest.raises(EndorseError) as info:
        proposal.endorse()
    assert type(info.value) is EndorseError  # no refinement given: the plain stage error
    assert info.value.transaction_id == proposal.transaction_id
    assert info.value.grpc_status == "ABORTED"
    assert info.value.details[0].msp_id == "Org1MSP"
    assert "chaincode said no" in str(info.value)


def test_submit_error_is_its_own_type(gateway: Gateway, transport: FakeTransport) -> None:
    transport.submit_error = FakeRpcError(grpc.StatusCode.UNAVAILABLE, "no orderer")
    with pytest.raises(SubmitError, match="no orderer"):
        gateway.network("ch1").contract("cc").submit_transaction("Put", "k", "v")


def test_invalid_commit_raises_commit_error_with_validation_code(gateway: Gateway, transport: FakeTransport) -> None:
    transport.commit_code = transaction_pb2.MVCC_READ_CONFLICT
    with pytest.raises(CommitError) as info:
        gateway.network("ch1").contract("cc").submit_transaction("Put", "k", "v")
    assert info.value.validation_code == "MVCC_READ_CONFLICT"
    assert info.value.block_number == 7


def test_offline_signing_every_stage_by_digest(identity: Identity, key: ec.EllipticCurvePrivateKey) -> None:
    """A gateway without a key: each stage's digest is signed elsewhere (here: a digest signer)."""
    transport = FakeTransport(key.public_key())
    gateway = Gateway(identity, transport)
    remote_sign = signers.ecdsa(key)
    proposal = gateway.network("ch1").contract("cc").new_proposal("Put", ["k", "v"])
    assert proposal.digest == hashlib.sha256(proposal.proposal_bytes).digest()
    transaction = proposal.with_signature(remote_sign(proposal.digest)).endorse()
    assert transaction.endorser_msp_ids == ["Org1MSP", "Org2MSP"]
    commit = transaction.with_signature(remote_sign(transaction.digest)).submit()
    status = commit.with_signature(remote_sign(commit.digest)).status()
    assert (status.successful, status.block_number) == (True, 7)


def test_stages_rebuilt_from_bytes_keep_id_organizations_and_channel(
    identity: Identity, key: ec.EllipticCurvePrivateKey
) -> None:
    """What a client that only holds bytes (e.g. a mobile signer's round trip) needs: new_signed_*."""
    transport = FakeTransport(key.public_key())
    gateway = Gateway(identity, transport)
    remote_sign = signers.ecdsa(key)
    unsigned = gateway.network("ch1").contract("cc").new_proposal("Put", ["k"], endorsing_organizations=["Org2MSP"])
    proposal = gateway.new_signed_proposal(unsigned.bytes, remote_sign(unsigned.digest))
    assert (proposal.transaction_id, proposal.endorsing_organizations) == (unsigned.transaction_id, ["Org2MSP"])
    assert proposal.network.name == "ch1"
    unsigned_tx = proposal.endorse()
    assert list(transport.calls[-1][1].endorsing_organizations) == ["Org2MSP"]
    transaction = gateway.new_signed_transaction(unsigned_tx.bytes, remote_sign(unsigned_tx.digest))
    assert transaction.transaction_id == unsigned.transaction_id
    unsigned_commit = transaction.submit()
    commit = gateway.new_signed_commit(unsigned_commit.bytes, remote_sign(unsigned_commit.digest))
    assert commit.status().successful
    request = gateway_pb2.CommitStatusRequest.FromString(transport.calls[-1][1].request)
    assert (request.transaction_id, request.channel_id) == (unsigned.transaction_id, "ch1")


def test_an_unsigned_stage_without_signer_says_what_to_do(identity: Identity, transport: FakeTransport) -> None:
    gateway = Gateway(identity, transport)
    with pytest.raises(GatewayError, match="with_signature"):
        gateway.network("ch1").contract("cc").new_proposal("Put", ["k", "v"]).endorse()
    assert transport.calls == []  # nothing was sent


def test_the_tls_certificate_hash_is_in_every_header(
    identity: Identity, key: ec.EllipticCurvePrivateKey, transport: FakeTransport
) -> None:
    gateway = Gateway(identity, transport, sign=signers.for_private_key(key), tls_certificate_hash=b"\x01" * 32)
    proposal = gateway.network("ch1").contract("cc").new_proposal("Get")
    header = common_pb2.Header.FromString(proposal_pb2.Proposal.FromString(proposal.proposal_bytes).header)
    assert common_pb2.ChannelHeader.FromString(header.channel_header).tls_cert_hash == b"\x01" * 32
    request = gateway.network("ch1").new_block_events_request(start_block=1)
    payload = common_pb2.Payload.FromString(request.payload)
    assert common_pb2.ChannelHeader.FromString(payload.header.channel_header).tls_cert_hash == b"\x01" * 32
