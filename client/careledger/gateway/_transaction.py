"""The steps of a transaction after its proposal is built: Proposal (endorse or evaluate) → Transaction
(submit) → Commit (status). Each can be signed elsewhere: `.bytes`/`.digest`, then `with_signature()`."""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2

from ..errors import CommitError, CommitStatusError, EndorseError, SubmitError
from ._errors_map import wrap_rpc_error
from ._transport import Channel


@dataclass
class Proposal:
    network: Channel
    transaction_id: str
    bytes: builtins.bytes
    endorsing_organizations: list[str]
    signature: builtins.bytes = b""

    @property
    def digest(self) -> builtins.bytes:
        return hashlib.sha256(self.bytes).digest()

    def with_signature(self, signature: builtins.bytes) -> Proposal:
        self.signature = signature
        return self

    def _signed(self) -> proposal_pb2.SignedProposal:
        if not self.signature:
            self.signature = self.network.gateway.sign(self.bytes)
        return proposal_pb2.SignedProposal(proposal_bytes=self.bytes, signature=self.signature)

    def evaluate(self, timeout: float | None = None) -> builtins.bytes:
        gateway = self.network.gateway
        request = gateway_pb2.EvaluateRequest(**self._addressed(), target_organizations=self.endorsing_organizations)
        response = self._ask("evaluate", gateway.transport.Evaluate, request, timeout or gateway.deadlines.evaluate)
        return builtins.bytes(response.result.payload)

    def endorse(self, timeout: float | None = None) -> Transaction:
        gateway = self.network.gateway
        request = gateway_pb2.EndorseRequest(**self._addressed(), endorsing_organizations=self.endorsing_organizations)
        response = self._ask("endorse", gateway.transport.Endorse, request, timeout or gateway.deadlines.endorse)
        return Transaction(self.network, self.transaction_id, response.prepared_transaction)

    def _addressed(self) -> dict[str, Any]:
        """What evaluating and endorsing send alike: the transaction id, the channel, the signed proposal."""
        return {
            "transaction_id": self.transaction_id,
            "channel_id": self.network.name,
            "proposed_transaction": self._signed(),
        }

    def _ask(self, stage: str, rpc: Callable[..., Any], request: Any, timeout: float) -> Any:
        """One call to the gateway for this proposal; its failure is an EndorseError carrying the id."""
        try:
            return rpc(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise wrap_rpc_error(EndorseError, stage, self.transaction_id, exc) from exc


@dataclass
class Transaction:
    network: Channel
    transaction_id: str
    envelope: common_pb2.Envelope
    _result: builtins.bytes | None = field(default=None, repr=False)

    @property
    def bytes(self) -> builtins.bytes:
        return builtins.bytes(self.envelope.payload)

    @property
    def digest(self) -> builtins.bytes:
        return hashlib.sha256(self.bytes).digest()

    @property
    def result(self) -> builtins.bytes:
        """The chaincode's return value, as endorsed."""
        if self._result is None:
            prp = proposal_response_pb2.ProposalResponsePayload()
            prp.ParseFromString(self._action_payload().action.proposal_response_payload)
            action = proposal_pb2.ChaincodeAction()
            action.ParseFromString(prp.extension)
            self._result = builtins.bytes(action.response.payload)
        return self._result

    def _action_payload(self) -> transaction_pb2.ChaincodeActionPayload:
        """The prepared transaction's one chaincode action: the endorsed response and its endorsements."""
        payload = common_pb2.Payload()
        payload.ParseFromString(self.envelope.payload)
        tx = transaction_pb2.Transaction()
        tx.ParseFromString(payload.data)
        action_payload = transaction_pb2.ChaincodeActionPayload()
        action_payload.ParseFromString(tx.actions[0].payload)
        return action_payload

    @property
    def endorser_msp_ids(self) -> list[str]:
        """The MSP ids of the peers that endorsed this transaction, in order."""
        ids = []
        for endorsement in self._action_payload().action.endorsements:
            endorser = identities_pb2.SerializedIdentity()
            endorser.ParseFromString(endorsement.endorser)
            ids.append(endorser.mspid)
        return ids

    def with_signature(self, signature: builtins.bytes) -> Transaction:
        self.envelope.signature = signature
        return self

    def submit(self, timeout: float | None = None) -> Commit:
        gateway = self.network.gateway
        if not self.envelope.signature:
            self.envelope.signature = gateway.sign(self.envelope.payload)
        request = gateway_pb2.SubmitRequest(
            transaction_id=self.transaction_id,
            channel_id=self.network.name,
            prepared_transaction=self.envelope,
        )
        try:
            gateway.transport.Submit(request, timeout=timeout or gateway.deadlines.submit)
        except grpc.RpcError as exc:
            raise wrap_rpc_error(SubmitError, "submit", self.transaction_id, exc) from exc
        return Commit(self.network, self.transaction_id)


@dataclass(frozen=True)
class Status:
    transaction_id: str
    code: str  # a TxValidationCode name: VALID, MVCC_READ_CONFLICT, ENDORSEMENT_POLICY_FAILURE, ...
    block_number: int

    @property
    def successful(self) -> bool:
        return self.code == "VALID"


@dataclass
class Commit:
    network: Channel
    transaction_id: str
    signature: builtins.bytes = b""
    _status: Status | None = field(default=None, repr=False)

    @property
    def bytes(self) -> builtins.bytes:
        gateway = self.network.gateway
        return builtins.bytes(
            gateway_pb2.CommitStatusRequest(
                transaction_id=self.transaction_id, channel_id=self.network.name, identity=gateway.creator
            ).SerializeToString()
        )

    def with_signature(self, signature: builtins.bytes) -> Commit:
        self.signature = signature
        return self

    def status(self, timeout: float | None = None) -> Status:
        if self._status is not None:
            return self._status
        gateway = self.network.gateway
        raw = self.bytes
        signed = gateway_pb2.SignedCommitStatusRequest(request=raw, signature=self.signature or gateway.sign(raw))
        try:
            response = gateway.transport.CommitStatus(signed, timeout=timeout or gateway.deadlines.commit_status)
        except grpc.RpcError as exc:
            raise wrap_rpc_error(CommitStatusError, "commit status", self.transaction_id, exc) from exc
        self._status = Status(
            self.transaction_id,
            transaction_pb2.TxValidationCode.Name(response.result),
            int(response.block_number),
        )
        return self._status

    def raise_for_status(self, timeout: float | None = None) -> Status:
        status = self.status(timeout)
        if not status.successful:
            raise CommitError(
                f"transaction {self.transaction_id} was committed invalid: {status.code} (block {status.block_number})",
                self.transaction_id,
                status.code,
                status.block_number,
            )
        return status
