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

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.orderer import ab_pb2

from .._files import write_atomic
from .._signing import SigningIdentity
from ..errors import GatewayError
from ._errors_map import wrap_rpc_error
from ._proposal import build_proposal, serialized_identity
from ._transaction import Proposal
from ._transport import Deadlines, Signer, Transport


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
            raise wrap_rpc_error(GatewayError, "chaincode events", "", exc) from exc


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
