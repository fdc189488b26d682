"""A channel reached through a gateway: its contracts, and its chaincode and block event streams.

Events start at `start_block`, or at the checkpoint's position when it has one, or else at the next block
committed. A checkpointer is told by the application what it has handled (see _checkpoint)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from fabric_protos.gateway import gateway_pb2

from ._contract import Contract
from ._event_requests import BLOCK_KINDS, BlockEventsRequest, ChaincodeEventsRequest
from ._events import ChaincodeEvent, EventStream
from ._proposal_builder import seek_payload, start_position

if TYPE_CHECKING:
    from ._checkpoint import Checkpoint
    from ._gateway import Gateway


class EventsStart(TypedDict, total=False):
    """Where events start: a block number, or a checkpoint's position once it has one (it wins)."""

    start_block: int | None
    checkpoint: Checkpoint | None


def _start(start_block: int | None, checkpoint: Checkpoint | None) -> tuple[int | None, str]:
    if checkpoint is not None and checkpoint.block_number is not None:
        return checkpoint.block_number, checkpoint.transaction_id
    return start_block, ""


@dataclass
class Network:
    gateway: Gateway
    name: str

    def contract(self, chaincode: str, contract: str = "") -> Contract:
        return Contract(self, chaincode, contract)

    # -- chaincode events -------------------------------------------------------------------------------------
    def new_chaincode_events_request(
        self, chaincode: str, *, start_block: int | None = None, checkpoint: Checkpoint | None = None
    ) -> ChaincodeEventsRequest:
        block, after = _start(start_block, checkpoint)
        request = gateway_pb2.ChaincodeEventsRequest(
            channel_id=self.name,
            chaincode_id=chaincode,
            identity=self.gateway.creator,
            start_position=start_position(block),
            after_transaction_id=after,
        )
        return ChaincodeEventsRequest(self, chaincode, request.SerializeToString())

    def chaincode_events(
        self, chaincode: str, *, timeout: float | None = None, **start: Unpack[EventsStart]
    ) -> EventStream[ChaincodeEvent]:
        """The chaincode's events, started now (see ChaincodeEventsRequest.get_events)."""
        return self.new_chaincode_events_request(chaincode, **start).get_events(timeout)

    # -- block events -----------------------------------------------------------------------------------------
    def new_block_events_request(
        self, *, kind: str = "block", start_block: int | None = None, checkpoint: Checkpoint | None = None
    ) -> BlockEventsRequest:
        """`kind`: "block" (common.Block), "filtered_block" or "block_and_private_data"."""
        if kind not in BLOCK_KINDS:
            raise ValueError(f"kind must be one of {', '.join(BLOCK_KINDS)}, not {kind!r}")
        block, _ = _start(start_block, checkpoint)
        payload = seek_payload(
            channel=self.name,
            creator=self.gateway.creator,
            start=start_position(block),
            tls_certificate_hash=self.gateway.tls_certificate_hash,
        )
        return BlockEventsRequest(self, kind, payload)

    def block_events(
        self, *, start_block: int | None = None, checkpoint: Checkpoint | None = None, timeout: float | None = None
    ) -> EventStream[Any]:
        """Blocks (common.Block) as the peer commits them."""
        return self.new_block_events_request(start_block=start_block, checkpoint=checkpoint).get_events(timeout)

    def filtered_block_events(
        self, *, start_block: int | None = None, checkpoint: Checkpoint | None = None, timeout: float | None = None
    ) -> EventStream[Any]:
        """Filtered blocks (peer.FilteredBlock): transaction ids, validation codes and event names only."""
        request = self.new_block_events_request(kind="filtered_block", start_block=start_block, checkpoint=checkpoint)
        return request.get_events(timeout)

    def block_and_private_data_events(
        self, *, start_block: int | None = None, checkpoint: Checkpoint | None = None, timeout: float | None = None
    ) -> EventStream[Any]:
        """Blocks with the private data this client's organization may see (peer.BlockAndPrivateData)."""
        request = self.new_block_events_request(
            kind="block_and_private_data", start_block=start_block, checkpoint=checkpoint
        )
        return request.get_events(timeout)
