"""Gateway → Network → Contract → Proposal → Transaction → Commit, over the Fabric Gateway gRPC service.

`Contract.submit_transaction` / `evaluate_transaction` are conveniences over the explicit steps:
    proposal = contract.new_proposal("Fn", args=[...])
    transaction = proposal.endorse()          # EndorseError
    commit = transaction.submit()             # SubmitError
    status = commit.status()                  # CommitStatusError; status.successful / .code
Each step takes an explicit deadline (seconds). Messages are signed by the gateway's signer; with
no signer, use the `.bytes`/`.digest` of a step, sign elsewhere, and call `with_signature()`.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.msp import identities_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2
from google.rpc import status_pb2

from .._files import write_atomic
from .._signing import SigningIdentity
from ..errors import (
    REFUSALS,
    CommitError,
    CommitStatusError,
    EndorseError,
    GatewayError,
    PeerMessage,
    SubmitError,
)
from ._proposal import build_proposal, serialized_identity

Signer = Callable[[bytes], bytes]  # message bytes -> DER signature
# How a peer reports a chaincode's answer: "chaincode response <status>, <CODE>: <reason>".
_CHAINCODE_ANSWER = re.compile(r"chaincode response \d{3}, ([A-Z][A-Z_]{3,}): (.*)", re.DOTALL)


@dataclass(frozen=True)
class Deadlines:
    """Default deadlines in seconds for each kind of call."""

    evaluate: float = 10.0
    endorse: float = 30.0
    submit: float = 10.0
    commit_status: float = 60.0


class Transport(Protocol):
    """The Gateway service's methods; a grpc channel's GatewayStub, or a fake for offline tests."""

    def Evaluate(self, request: Any, timeout: float | None = None) -> Any: ...
    def Endorse(self, request: Any, timeout: float | None = None) -> Any: ...
    def Submit(self, request: Any, timeout: float | None = None) -> Any: ...
    def CommitStatus(self, request: Any, timeout: float | None = None) -> Any: ...
    def ChaincodeEvents(self, request: Any, timeout: float | None = None) -> Any: ...


def _chaincode_answer(details: tuple[PeerMessage, ...], text: str) -> tuple[str, str] | None:
    """(code, reason) of the chaincode's refusal in what the peers said, or None."""
    for message in (*(d.message for d in details), text):
        match = _CHAINCODE_ANSWER.search(message)
        if match:
            return match.group(1), match.group(2).strip()
    return None


def _details(exc: grpc.RpcError) -> tuple[PeerMessage, ...]:
    found: list[PeerMessage] = []
    for key, value in getattr(exc, "trailing_metadata", lambda: ())() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status()
        status.ParseFromString(value)
        for any_detail in status.details:
            detail = gateway_pb2.ErrorDetail()
            if any_detail.Unpack(detail):
                found.append(PeerMessage(detail.address, detail.msp_id, detail.message))
    return tuple(found)


def _wrap(kind: type[GatewayError], what: str, tx_id: str, exc: grpc.RpcError) -> GatewayError:
    code = exc.code().name if hasattr(exc, "code") else "UNKNOWN"
    text = exc.details() if hasattr(exc, "details") else str(exc)
    details = _details(exc)
    message = f"{what} failed for transaction {tx_id}: {code}: {text}"
    answer = _chaincode_answer(details, text or "") if kind is EndorseError else None
    if answer is not None and answer[0] in REFUSALS:  # the one place a refusal's code is read
        return REFUSALS[answer[0]](message, tx_id, code, details, answer[1])
    return kind(message, tx_id, code, details)


class Gateway:
    def __init__(
        self,
        identity: SigningIdentity | tuple[str, bytes],
        transport: Transport,
        *,
        signer: Signer | None = None,
        deadlines: Deadlines | None = None,
        channel: grpc.Channel | None = None,
    ) -> None:
        if isinstance(identity, SigningIdentity):
            self.msp_id, certificate = identity.msp_id, identity.certificate_pem
            signer = signer or identity.sign
        else:
            self.msp_id, certificate = identity
        self.creator = serialized_identity(self.msp_id, certificate)
        self._transport = transport
        self._signer = signer
        self.deadlines = deadlines or Deadlines()
        self._channel = channel

    @classmethod
    def connect(
        cls,
        identity: SigningIdentity,
        channel: grpc.Channel,
        *,
        signer: Signer | None = None,
        deadlines: Deadlines | None = None,
    ) -> Gateway:
        return cls(
            identity,
            gateway_pb2_grpc.GatewayStub(channel),
            signer=signer,
            deadlines=deadlines,
            channel=channel,
        )

    def network(self, name: str) -> Network:
        return Network(self, name)

    def sign(self, message: bytes) -> bytes:
        if self._signer is None:
            raise GatewayError("this gateway has no signer: sign the message's digest offline and use with_signature()")
        return self._signer(message)

    @property
    def transport(self) -> Transport:
        return self._transport

    @property
    def grpc_channel(self) -> grpc.Channel | None:
        """The gRPC channel to the peer (None for an injected transport), e.g. for its Deliver service."""
        return self._channel

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class FileCheckpoint:
    """Where a chaincode-event listener got to (block number and last transaction id), kept in a file,
    so a restarted listener resumes without missing or repeating events."""

    path: Path
    block_number: int | None = None
    transaction_id: str = ""

    def __post_init__(self) -> None:
        if self.path.exists():
            doc = json.loads(self.path.read_text())
            self.block_number, self.transaction_id = doc["block_number"], doc["transaction_id"]

    def checkpoint(self, block_number: int, transaction_id: str) -> None:
        self.block_number, self.transaction_id = block_number, transaction_id
        doc = {"block_number": block_number, "transaction_id": transaction_id}
        write_atomic(self.path, json.dumps(doc).encode())


@dataclass
class Network:
    gateway: Gateway
    name: str

    def contract(self, chaincode: str, contract: str = "") -> Contract:
        return Contract(self, chaincode, contract)

    def chaincode_events(
        self,
        chaincode: str,
        *,
        start_block: int | None = None,
        after_transaction_id: str = "",
        timeout: float | None = None,
        checkpoint: FileCheckpoint | None = None,
    ) -> Iterator[tuple[int, str, str, bytes]]:
        """Chaincode events as (block number, transaction id, event name, payload).

        Resume from `start_block` (and skip up to `after_transaction_id` in it), or from a checkpoint.
        The application calls `checkpoint.checkpoint(block, tx_id)` once it has handled an event, so a
        crash between receiving and handling means the event comes again (at least once), never lost.
        """
        if checkpoint is not None and checkpoint.block_number is not None:
            start_block, after_transaction_id = checkpoint.block_number, checkpoint.transaction_id
        request = gateway_pb2.ChaincodeEventsRequest(
            channel_id=self.name,
            chaincode_id=chaincode,
            identity=self.gateway.creator,
            after_transaction_id=after_transaction_id,
        )
        if start_block is not None:
            request.start_position.CopyFrom(ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start_block)))
        else:
            # The gateway takes "next commit" (not "newest") for events from now on.
            request.start_position.CopyFrom(ab_pb2.SeekPosition(next_commit=ab_pb2.SeekNextCommit()))
        raw = request.SerializeToString()
        signed = gateway_pb2.SignedChaincodeEventsRequest(request=raw, signature=self.gateway.sign(raw))
        try:
            for response in self.gateway.transport.ChaincodeEvents(signed, timeout=timeout):
                for event in response.events:
                    yield response.block_number, event.tx_id, event.event_name, bytes(event.payload)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return
            raise _wrap(GatewayError, "chaincode events", "", exc) from exc


@dataclass
class Contract:
    network: Network
    chaincode: str
    contract: str = ""

    def _qualified(self, name: str) -> str:
        return f"{self.contract}:{name}" if self.contract else name

    def new_proposal(
        self,
        name: str,
        args: list[str | bytes] | tuple[str | bytes, ...] = (),
        *,
        transient: dict[str, bytes] | None = None,
        endorsing_organizations: list[str] | None = None,
    ) -> Proposal:
        encoded = [self._qualified(name).encode()] + [a if isinstance(a, bytes) else a.encode() for a in args]
        gateway = self.network.gateway
        tx_id, proposal_bytes = build_proposal(
            channel=self.network.name,
            chaincode=self.chaincode,
            args=encoded,
            creator=gateway.creator,
            transient=transient,
        )
        return Proposal(self.network, tx_id, proposal_bytes, list(endorsing_organizations or []))

    def evaluate_transaction(self, name: str, *args: str | bytes, transient: dict[str, bytes] | None = None) -> bytes:
        return self.new_proposal(name, args, transient=transient).evaluate()

    def submit_transaction(
        self,
        name: str,
        *args: str | bytes,
        transient: dict[str, bytes] | None = None,
        endorsing_organizations: list[str] | None = None,
    ) -> bytes:
        transaction = self.new_proposal(
            name, args, transient=transient, endorsing_organizations=endorsing_organizations
        ).endorse()
        transaction.submit().raise_for_status()
        return transaction.result


@dataclass
class Proposal:
    network: Network
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
        request = gateway_pb2.EvaluateRequest(
            transaction_id=self.transaction_id,
            channel_id=self.network.name,
            proposed_transaction=self._signed(),
            target_organizations=self.endorsing_organizations,
        )
        try:
            response = gateway.transport.Evaluate(request, timeout=timeout or gateway.deadlines.evaluate)
        except grpc.RpcError as exc:
            raise _wrap(EndorseError, "evaluate", self.transaction_id, exc) from exc
        return builtins.bytes(response.result.payload)

    def endorse(self, timeout: float | None = None) -> Transaction:
        gateway = self.network.gateway
        request = gateway_pb2.EndorseRequest(
            transaction_id=self.transaction_id,
            channel_id=self.network.name,
            proposed_transaction=self._signed(),
            endorsing_organizations=self.endorsing_organizations,
        )
        try:
            response = gateway.transport.Endorse(request, timeout=timeout or gateway.deadlines.endorse)
        except grpc.RpcError as exc:
            raise _wrap(EndorseError, "endorse", self.transaction_id, exc) from exc
        return Transaction(self.network, self.transaction_id, response.prepared_transaction)


@dataclass
class Transaction:
    network: Network
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
            payload = common_pb2.Payload()
            payload.ParseFromString(self.envelope.payload)
            tx = transaction_pb2.Transaction()
            tx.ParseFromString(payload.data)
            action_payload = transaction_pb2.ChaincodeActionPayload()
            action_payload.ParseFromString(tx.actions[0].payload)
            prp = proposal_response_pb2.ProposalResponsePayload()
            prp.ParseFromString(action_payload.action.proposal_response_payload)
            action = proposal_pb2.ChaincodeAction()
            action.ParseFromString(prp.extension)
            self._result = builtins.bytes(action.response.payload)
        return self._result

    @property
    def endorser_msp_ids(self) -> list[str]:
        """The MSP ids of the peers that endorsed this transaction, in order."""
        payload = common_pb2.Payload()
        payload.ParseFromString(self.envelope.payload)
        tx = transaction_pb2.Transaction()
        tx.ParseFromString(payload.data)
        action_payload = transaction_pb2.ChaincodeActionPayload()
        action_payload.ParseFromString(tx.actions[0].payload)
        ids = []
        for endorsement in action_payload.action.endorsements:
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
            raise _wrap(SubmitError, "submit", self.transaction_id, exc) from exc
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
    network: Network
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
            raise _wrap(CommitStatusError, "commit status", self.transaction_id, exc) from exc
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
