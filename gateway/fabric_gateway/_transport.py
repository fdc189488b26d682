"""What the client sends its calls through: the peer's Gateway service (evaluate, endorse, submit, commit
status, chaincode events) and its Deliver service (block events). A grpc channel gives both (GrpcTransport);
tests inject a fake with the same methods. Also the per-kind default deadlines, and the protocols that let
the stages of a transaction depend on what they use rather than on the Gateway and Network classes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from fabric_protos.gateway import gateway_pb2_grpc
from fabric_protos.peer import events_pb2_grpc

from ._errors import EndorseError
from .hashes import Hash


@dataclass(frozen=True)
class Deadlines:
    """Default deadlines in seconds for each kind of call; a call's own `timeout` overrides its kind's."""

    evaluate: float = 10.0
    endorse: float = 30.0
    submit: float = 10.0
    commit_status: float = 60.0


class Transport(Protocol):
    """The Gateway and Deliver services' methods, as a grpc stub offers them."""

    def Evaluate(self, request: Any, timeout: float | None = None) -> Any: ...
    def Endorse(self, request: Any, timeout: float | None = None) -> Any: ...
    def Submit(self, request: Any, timeout: float | None = None) -> Any: ...
    def CommitStatus(self, request: Any, timeout: float | None = None) -> Any: ...
    def ChaincodeEvents(self, request: Any, timeout: float | None = None) -> Any: ...
    def Deliver(self, requests: Iterator[Any], timeout: float | None = None) -> Any: ...
    def DeliverFiltered(self, requests: Iterator[Any], timeout: float | None = None) -> Any: ...
    def DeliverWithPrivateData(self, requests: Iterator[Any], timeout: float | None = None) -> Any: ...


class GrpcTransport:
    """Both services on one grpc channel to a gateway peer."""

    def __init__(self, channel: grpc.Channel) -> None:
        gateway = gateway_pb2_grpc.GatewayStub(channel)
        deliver = events_pb2_grpc.DeliverStub(channel)
        self.Evaluate, self.Endorse, self.Submit = gateway.Evaluate, gateway.Endorse, gateway.Submit
        self.CommitStatus, self.ChaincodeEvents = gateway.CommitStatus, gateway.ChaincodeEvents
        self.Deliver, self.DeliverFiltered = deliver.Deliver, deliver.DeliverFiltered
        self.DeliverWithPrivateData = deliver.DeliverWithPrivateData


class GatewayEndpoint(Protocol):
    """A connection to a gateway peer as an identity (what Gateway offers the stages)."""

    @property
    def creator(self) -> bytes: ...  # the serialized identity
    @property
    def deadlines(self) -> Deadlines: ...
    @property
    def transport(self) -> Transport: ...
    @property
    def hash(self) -> Hash: ...
    @property
    def tls_certificate_hash(self) -> bytes: ...
    def sign(self, message: bytes) -> bytes: ...
    def refine(self, error: EndorseError) -> EndorseError: ...


class Channel(Protocol):
    """A channel reached through a gateway (what Network offers the stages)."""

    @property
    def name(self) -> str: ...
    @property
    def gateway(self) -> GatewayEndpoint: ...


def deadline(timeout: float | None, default: float) -> float:
    """A call's own timeout when given (0 included: it means "no time at all", not "the default")."""
    return default if timeout is None else timeout
