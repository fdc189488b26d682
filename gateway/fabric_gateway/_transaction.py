"""The stages of a transaction after its proposal is built: Proposal (evaluate or endorse) → Transaction
(submit) → Commit (status). Every stage has `bytes` (what to keep or send to a signer elsewhere) and
`digest` (what the signer signs); `Gateway.new_signed_*` rebuilds a stage from its bytes and signature."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2

from ._errors import CommitError, CommitStatusError, EndorseError, SubmitError
from ._errors_map import wrap_rpc_error
from ._signable import Signable
from ._transport import Channel, deadline


@dataclass
class Proposal(Signable):
    """A signed (or to be signed) chaincode proposal, and the organizations that should endorse it."""

    network: Channel
    transaction_id: str
    proposal_bytes: builtins.bytes = field(repr=False)
    endorsing_organizations: list[str] = field(default_factory=list)
    signature: builtins.bytes = field(default=b"", repr=False)

    @property
    def bytes(self) -> builtins.bytes:
        """The serialized gateway ProposedTransaction: the proposal with its id and endorsing organizations."""
        signed = proposal_pb2.SignedProposal(proposal_bytes=self.proposal_bytes, signature=self.signature)
        proposed = gateway_pb2.ProposedTransaction(
            transaction_id=self.transaction_id, proposal=signed, endorsing_organizations=self.endorsing_organizations
        )
        return builtins.bytes(proposed.SerializeToString())

    def _message(self) -> builtins.bytes:
        return self.proposal_bytes

    def evaluate(self, timeout: float | None = None) -> builtins.bytes:
        """The chaincode's answer from one peer (of the endorsing organizations, when named); not committed."""
        gateway = self.network.gateway
        request = gateway_pb2.EvaluateRequest(**self._addressed(), target_organizations=self.endorsing_organizations)
        timeout = deadline(timeout, gateway.deadlines.evaluate)
        response = self._ask("evaluate", gateway.transport.Evaluate, request, timeout)
        return builtins.bytes(response.result.payload)

    def endorse(self, timeout: float | None = None) -> Transaction:
        gateway = self.network.gateway
        request = gateway_pb2.EndorseRequest(**self._addressed(), endorsing_organizations=self.endorsing_organizations)
        response = self._ask(
            "endorse", gateway.transport.Endorse, request, deadline(timeout, gateway.deadlines.endorse)
        )
        return Transaction(self.network, self.transaction_id, response.prepared_transaction)

    def _addressed(self) -> dict[str, Any]:
        """What evaluating and endorsing send alike: the transaction id, the channel, the signed proposal."""
        signed = proposal_pb2.SignedProposal(proposal_bytes=self.proposal_bytes, signature=self._signed())
        return {"transaction_id": self.transaction_id, "channel_id": self.network.name, "proposed_transaction": signed}

    def _ask(self, stage: str, rpc: Callable[..., Any], request: Any, timeout: float) -> Any:
        """One call to the gateway for this proposal; its failure is an EndorseError carrying the id."""
        try:
            return rpc(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise self.network.gateway.refine(wrap_rpc_error(EndorseError, stage, self.transaction_id, exc)) from exc


@dataclass
class Transaction:
    """An endorsed transaction, ready to be signed and sent to the orderers."""

    network: Channel
    transaction_id: str
    envelope: common_pb2.Envelope = field(repr=False)

    @property
    def bytes(self) -> builtins.bytes:
        """The serialized gateway PreparedTransaction: the transaction id and the envelope."""
        prepared = gateway_pb2.PreparedTransaction(transaction_id=self.transaction_id, envelope=self.envelope)
        return builtins.bytes(prepared.SerializeToString())

    @property
    def digest(self) -> builtins.bytes:
        return self.network.gateway.hash(self.envelope.payload)

    @property
    def result(self) -> builtins.bytes:
        """The chaincode's return value, as endorsed."""
        prp = proposal_response_pb2.ProposalResponsePayload.FromString(
            self._action_payload().action.proposal_response_payload
        )
        return builtins.bytes(proposal_pb2.ChaincodeAction.FromString(prp.extension).response.payload)

    @property
    def endorser_msp_ids(self) -> list[str]:
        """The MSP ids of the peers that endorsed this transaction, in order."""
        return [
            identities_pb2.SerializedIdentity.FromString(endorsement.endorser).mspid
            for endorsement in self._action_payload().action.endorsements
        ]

    def _action_payload(self) -> transaction_pb2.ChaincodeActionPayload:
        """The prepared transaction's one chaincode action: the endorsed response and its endorsements."""
        tx = transaction_pb2.Transaction.FromString(common_pb2.Payload.FromString(self.envelope.payload).data)
        return transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)

    def with_signature(self, signature: builtins.bytes) -> Transaction:
        self.envelope.signature = signature
        return self

    def submit(self, timeout: float | None = None) -> SubmittedTransaction:
        """Send to the orderers; returns at once, with the result and the Commit to wait on."""
        gateway = self.network.gateway
        try:
            gateway.transport.Submit(self._submit_request(), timeout=deadline(timeout, gateway.deadlines.submit))
        except grpc.RpcError as exc:
            raise wrap_rpc_error(SubmitError, "submit", self.transaction_id, exc) from exc
        return self._submitted()

    def _submit_request(self) -> gateway_pb2.SubmitRequest:
        """The signed SubmitRequest (signed now by the gateway's signer when no signature was given)."""
        if not self.envelope.signature:
            self.envelope.signature = self.network.gateway.sign(self.envelope.payload)
        return gateway_pb2.SubmitRequest(
            transaction_id=self.transaction_id, channel_id=self.network.name, prepared_transaction=self.envelope
        )

    def _submitted(self) -> SubmittedTransaction:
        return SubmittedTransaction(self.network, self.transaction_id, result=self.result)


@dataclass(frozen=True)
class Status:
    transaction_id: str
    code: str  # a TxValidationCode name: VALID, MVCC_READ_CONFLICT, ENDORSEMENT_POLICY_FAILURE, ...
    block_number: int

    @property
    def successful(self) -> bool:
        return self.code == "VALID"


@dataclass
class Commit(Signable):
    """Waiting for a submitted transaction to be committed, and its validation code."""

    network: Channel
    transaction_id: str
    signature: builtins.bytes = field(default=b"", repr=False)
    _request: builtins.bytes = field(default=b"", repr=False)
    _status: Status | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self._request:  # built once: a signature made elsewhere must stay valid for it
            gateway = self.network.gateway
            request = gateway_pb2.CommitStatusRequest(
                transaction_id=self.transaction_id, channel_id=self.network.name, identity=gateway.creator
            )
            self._request = builtins.bytes(request.SerializeToString())

    @property
    def bytes(self) -> builtins.bytes:
        """The serialized SignedCommitStatusRequest."""
        signed = gateway_pb2.SignedCommitStatusRequest(request=self._request, signature=self.signature)
        return builtins.bytes(signed.SerializeToString())

    def _message(self) -> builtins.bytes:
        return self._request

    def status(self, timeout: float | None = None) -> Status:
        """Waits for the commit (up to the deadline) and returns its validation code and block."""
        if self._status is not None:
            return self._status
        gateway = self.network.gateway
        try:
            response = gateway.transport.CommitStatus(
                self._signed_request(), timeout=deadline(timeout, gateway.deadlines.commit_status)
            )
        except grpc.RpcError as exc:
            raise wrap_rpc_error(CommitStatusError, "commit status", self.transaction_id, exc) from exc
        return status_of(self, response)

    def raise_for_status(self, timeout: float | None = None) -> Status:
        return raise_if_invalid(self.status(timeout))

    def _signed_request(self) -> gateway_pb2.SignedCommitStatusRequest:
        return gateway_pb2.SignedCommitStatusRequest(request=self._request, signature=self._signed())


@dataclass
class SubmittedTransaction(Commit):
    """A transaction sent to the orderers: its endorsed result now, its commit status when it is in a block."""

    result: builtins.bytes = field(default=b"", kw_only=True)


def status_of(commit: Commit, response: Any) -> Status:
    """The commit's status from a CommitStatusResponse, kept on the commit (asking again answers at once)."""
    code = transaction_pb2.TxValidationCode.Name(response.result)
    commit._status = Status(commit.transaction_id, code, int(response.block_number))
    return commit._status


def raise_if_invalid(status: Status) -> Status:
    if not status.successful:
        raise CommitError(
            f"transaction {status.transaction_id} was committed invalid: {status.code} (block {status.block_number})",
            status.transaction_id,
            status.code,
            status.block_number,
        )
    return status
