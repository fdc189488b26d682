"""What a call to the Gateway service needs: the service's methods, the deadlines, a signer, and the
channel and gateway a proposal or transaction belongs to (as protocols, so that the stages of a
transaction do not depend on the Gateway and Network classes that make them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

Signer = Callable[[bytes], bytes]  # message bytes -> DER signature


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


class GatewayEndpoint(Protocol):
    """A connection to a gateway peer as an identity (Gateway)."""

    creator: bytes  # the serialized identity
    deadlines: Deadlines

    @property
    def transport(self) -> Transport: ...
    def sign(self, message: bytes) -> bytes: ...


class Channel(Protocol):
    """A channel reached through a gateway (Network)."""

    @property
    def name(self) -> str: ...
    @property
    def gateway(self) -> GatewayEndpoint: ...
