"""The gateway client against an injected transport: message shapes, signatures, errors, offline signing."""

from __future__ import annotations

import hashlib
from typing import Any

import grpc
import pytest
from careledger import CommitError, EndorseError, SigningIdentity, SubmitError
from careledger._signing import new_private_key
from careledger.errors import ChaincodeFailed, Conflict, NotAuthorized, NotFound, NotFoundError
from careledger.gateway import Gateway
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import (
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)
from google.rpc import status_pb2

from .local_tls import certificate_pem


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str, peer_messages: list[tuple[str, str, str]]) -> None:
        self._code, self._details = code, details
        status = status_pb2.Status(code=code.value[0], message=details)
        for address, msp, message in peer_messages:
            status.details.add().Pack(gateway_pb2.ErrorDetail(address=address, msp_id=msp, message=message))
        self._trailing = (("grpc-status-details-bin", status.SerializeToString()),)

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._trailing


def _prepared(result: bytes, endorsers: list[str]) -> common_pb2.Envelope:
    action = proposal_pb2.ChaincodeAction(response=proposal_response_pb2.Response(status=200, payload=result))
    prp = proposal_response_pb2.ProposalResponsePayload(extension=action.SerializeToString())
    endorsed = transaction_pb2.ChaincodeEndorsedAction(proposal_response_payload=prp.SerializeToString())
    for msp in endorsers:
        endorsed.endorsements.add(endorser=identities_pb2.SerializedIdentity(mspid=msp).SerializeToString())
    cap = transaction_pb2.ChaincodeActionPayload(action=endorsed)
    tx = transaction_pb2.Transaction(actions=[transaction_pb2.TransactionAction(payload=cap.SerializeToString())])
    payload = common_pb2.Payload(data=tx.SerializeToString())
    return common_pb2.Envelope(payload=payload.SerializeToString())


class FakeTransport:
    def __init__(self, public_key: ec.EllipticCurvePublicKey) -> None:
        self.public_key = public_key
        self.calls: list[tuple[str, Any, float | None]] = []
        self.endorse_error: grpc.RpcError | None = None
        self.submit_error: grpc.RpcError | None = None
        self.commit_code = transaction_pb2.VALID

    def _verify(self, message: bytes, signature: bytes) -> None:
        self.public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))

    def Evaluate(self, request: Any, timeout: float | None = None) -> Any:
        self.calls.append(("Evaluate", request, timeout))
        self._verify(request.proposed_transaction.proposal_bytes, request.proposed_transaction.signature)
        return gateway_pb2.EvaluateResponse(result=proposal_response_pb2.Response(status=200, payload=b"value"))

    def Endorse(self, request: Any, timeout: float | None = None) -> Any:
        self.calls.append(("Endorse", request, timeout))
        if self.endorse_error:
            raise self.endorse_error
        self._verify(request.proposed_transaction.proposal_bytes, request.proposed_transaction.signature)
        return gateway_pb2.EndorseResponse(prepared_transaction=_prepared(b"result", ["Org1MSP", "Org2MSP"]))

    def Submit(self, request: Any, timeout: float | None = None) -> Any:
        self.calls.append(("Submit", request, timeout))
        if self.submit_error:
            raise self.submit_error
        self._verify(request.prepared_transaction.payload, request.prepared_transaction.signature)
        return gateway_pb2.SubmitResponse()

    def CommitStatus(self, request: Any, timeout: float | None = None) -> Any:
        self.calls.append(("CommitStatus", request, timeout))
        self._verify(request.request, request.signature)
        return gateway_pb2.CommitStatusResponse(result=self.commit_code, block_number=7)

    def ChaincodeEvents(self, request: Any, timeout: float | None = None) -> Any:
        return iter(())


@pytest.fixture
def identity() -> SigningIdentity:
    key = new_private_key()
    return SigningIdentity("Org1MSP", certificate_pem(key), key)


@pytest.fixture
def transport(identity: SigningIdentity) -> FakeTransport:
    return FakeTransport(identity.private_key.public_key())


def test_proposal_carries_channel_chaincode_args_and_a_checkable_tx_id(
    identity: SigningIdentity, transport: FakeTransport
) -> None:
    contract = Gateway(identity, transport).network("ch1").contract("cc", "diag")
    proposal = contract.new_proposal("Put", ["k", b"v"], transient={"secret": b"x"})
    parsed = proposal_pb2.Proposal.FromString(proposal.bytes)
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


def test_submit_runs_endorse_submit_commit_with_deadlines(identity: SigningIdentity, transport: FakeTransport) -> None:
    contract = Gateway(identity, transport).network("ch1").contract("cc")
    assert contract.submit_transaction("Put", "k", "v") == b"result"
    assert [c[0] for c in transport.calls] == ["Endorse", "Submit", "CommitStatus"]
    assert [c[2] for c in transport.calls] == [30.0, 10.0, 60.0]


def test_evaluate_returns_the_payload(identity: SigningIdentity, transport: FakeTransport) -> None:
    contract = Gateway(identity, transport).network("ch1").contract("cc")
    assert contract.evaluate_transaction("Get", "k") == b"value"


def test_endorse_error_carries_tx_id_peer_messages_and_chaincode_code(
    identity: SigningIdentity, transport: FakeTransport
) -> None:
    transport.endorse_error = FakeRpcError(
        grpc.StatusCode.ABORTED,
        "failed to endorse transaction",
        [("peer0:7110", "Org1MSP", "chaincode response 400, NOT_AUTHORIZED: only the patient may grant")],
    )
    contract = Gateway(identity, transport).network("ch1").contract("cc")
    proposal = contract.new_proposal("Grant", ["x"])
    with pytest.raises(NotAuthorized) as info:  # an EndorseError of the refusal's own type
        proposal.endorse()
    err = info.value
    assert isinstance(err, EndorseError)
    assert err.transaction_id == proposal.transaction_id
    assert err.grpc_status == "ABORTED"
    assert err.details[0].msp_id == "Org1MSP"
    assert (err.code, err.reason) == ("NOT_AUTHORIZED", "only the patient may grant")


def test_submit_error_is_its_own_type(identity: SigningIdentity, transport: FakeTransport) -> None:
    transport.submit_error = FakeRpcError(grpc.StatusCode.UNAVAILABLE, "no orderer", [])
    with pytest.raises(SubmitError, match="no orderer"):
        Gateway(identity, transport).network("ch1").contract("cc").submit_transaction("Put", "k", "v")


def test_invalid_commit_raises_commit_error_with_validation_code(
    identity: SigningIdentity, transport: FakeTransport
) -> None:
    transport.commit_code = transaction_pb2.MVCC_READ_CONFLICT
    with pytest.raises(CommitError) as info:
        Gateway(identity, transport).network("ch1").contract("cc").submit_transaction("Put", "k", "v")
    assert info.value.validation_code == "MVCC_READ_CONFLICT"
    assert info.value.block_number == 7


def test_offline_signing(identity: SigningIdentity, transport: FakeTransport) -> None:
    """A gateway without a private key: each step's digest is signed elsewhere."""
    gateway = Gateway((identity.msp_id, identity.certificate_pem), transport)
    contract = gateway.network("ch1").contract("cc")
    proposal = contract.new_proposal("Put", ["k", "v"])
    from careledger._signing import sign_digest

    assert proposal.digest == hashlib.sha256(proposal.bytes).digest()
    transaction = proposal.with_signature(sign_digest(identity.private_key, proposal.digest)).endorse()
    assert transaction.endorser_msp_ids == ["Org1MSP", "Org2MSP"]
    commit = transaction.with_signature(sign_digest(identity.private_key, transaction.digest)).submit()
    status = commit.with_signature(identity.sign(commit.bytes)).status()
    assert status.successful
    assert status.block_number == 7


def test_unsigned_step_without_signer_says_what_to_do(identity: SigningIdentity, transport: FakeTransport) -> None:
    gateway = Gateway((identity.msp_id, identity.certificate_pem), transport)
    with pytest.raises(Exception, match="with_signature"):
        gateway.network("ch1").contract("cc").new_proposal("Put", ["k", "v"]).endorse()


@pytest.mark.parametrize(
    ("message", "kind", "reason"),
    [
        ("chaincode response 400, NOT_FOUND: no record", NotFound, "no record"),
        ("chaincode response 400, CONFLICT: exists: use AddRecordVersion", Conflict, "exists: use AddRecordVersion"),
        (
            "chaincode response 500, INTERNAL: diag:Fail failed (RuntimeError)",
            ChaincodeFailed,
            "diag:Fail failed (RuntimeError)",
        ),
        ("INVALID_ARGUMENT: bad id", EndorseError, ""),  # not the chaincode's answer: not taken for one
        ("plain failure", EndorseError, ""),
    ],
)
def test_a_refusal_is_recognised_once_into_its_type(
    identity: SigningIdentity, transport: FakeTransport, message: str, kind: type[EndorseError], reason: str
) -> None:
    transport.endorse_error = FakeRpcError(grpc.StatusCode.ABORTED, "failed", [("p:1", "Org1MSP", message)])
    with pytest.raises(EndorseError) as info:
        Gateway(identity, transport).network("ch1").contract("cc").new_proposal("F").endorse()
    assert type(info.value) is kind
    assert getattr(info.value, "reason", "") == reason
    assert isinstance(info.value, NotFoundError) == (kind is NotFound)
