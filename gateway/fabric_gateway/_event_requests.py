"""Requests for event streams, as signable messages: `bytes` and `digest` for a signer elsewhere,
`with_signature`, then `get_events()` starts the stream."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2

from ._errors import EventsError
from ._errors_map import wrap_rpc_error
from ._events import ChaincodeEvent, EventStream, chaincode_events_of, delivered
from ._signable import Signable
from ._transport import Channel

# What each kind of block stream yields, and the Deliver method that serves it.
BLOCK_KINDS = {
    "block": "Deliver",
    "filtered_block": "DeliverFiltered",
    "block_and_private_data": "DeliverWithPrivateData",
}


@dataclass
class ChaincodeEventsRequest(Signable):
    network: Channel
    chaincode: str
    request: builtins.bytes = field(repr=False)  # a serialized gateway ChaincodeEventsRequest
    signature: builtins.bytes = field(default=b"", repr=False)

    @property
    def bytes(self) -> builtins.bytes:
        """The serialized SignedChaincodeEventsRequest."""
        signed = gateway_pb2.SignedChaincodeEventsRequest(request=self.request, signature=self.signature)
        return builtins.bytes(signed.SerializeToString())

    def _message(self) -> builtins.bytes:
        return self.request

    def _signed_request(self) -> gateway_pb2.SignedChaincodeEventsRequest:
        return gateway_pb2.SignedChaincodeEventsRequest(request=self.request, signature=self._signed())

    def get_events(self, timeout: float | None = None) -> EventStream[ChaincodeEvent]:
        """Start the stream now; `timeout` ends it (without error) after that many seconds."""
        gateway = self.network.gateway
        signed = self._signed_request()
        try:
            call = gateway.transport.ChaincodeEvents(signed, timeout=timeout)
        except grpc.RpcError as exc:
            raise wrap_rpc_error(EventsError, "chaincode events", "", exc) from exc
        return EventStream(call, chaincode_events_of(self.chaincode), "chaincode events", timeout)


@dataclass
class BlockEventsRequest(Signable):
    """A Deliver request for blocks (`kind` "block"), filtered blocks or blocks with private data."""

    network: Channel
    kind: str
    payload: builtins.bytes = field(repr=False)  # a serialized common.Payload carrying the SeekInfo
    signature: builtins.bytes = field(default=b"", repr=False)

    @property
    def bytes(self) -> builtins.bytes:
        """The serialized Envelope sent to the Deliver service."""
        return builtins.bytes(common_pb2.Envelope(payload=self.payload, signature=self.signature).SerializeToString())

    def _message(self) -> builtins.bytes:
        return self.payload

    def _envelope(self) -> common_pb2.Envelope:
        return common_pb2.Envelope(payload=self.payload, signature=self._signed())

    def _rpc(self) -> Any:
        """The Deliver method that serves this kind of block."""
        return getattr(self.network.gateway.transport, BLOCK_KINDS[self.kind])

    def get_events(self, timeout: float | None = None) -> EventStream[Any]:
        """Start the stream now: common.Block, peer.FilteredBlock or peer.BlockAndPrivateData by kind."""
        try:
            call = self._rpc()(iter([self._envelope()]), timeout=timeout)
        except grpc.RpcError as exc:
            raise wrap_rpc_error(EventsError, f"{self.kind} events", "", exc) from exc
        return EventStream(call, delivered(self.kind), f"{self.kind} events", timeout)
