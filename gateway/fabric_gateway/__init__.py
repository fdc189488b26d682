"""A Hyperledger Fabric Gateway client (Fabric 2.4+ and 3.x) for Python, on grpcio and the official protos.

Gateway → Network → Contract → Proposal → Transaction → Commit, as in the official Go, Node and Java
clients; see README.md. Errors: GatewayError and its subclasses, one per stage (fabric_gateway._errors).
"""

from . import hashes, signers
from ._checkpoint import Checkpoint, FileCheckpointer, InMemoryCheckpointer
from ._contract import Contract
from ._errors import (
    CommitError,
    CommitStatusError,
    EndorseError,
    EventsError,
    GatewayContext,
    GatewayError,
    PeerMessage,
    SubmitError,
)
from ._event_requests import BlockEventsRequest, ChaincodeEventsRequest
from ._events import ChaincodeEvent, EventStream
from ._gateway import Gateway, GatewayOptions, TLSOptions, certificate_hash, tls_channel
from ._identity import Identity
from ._network import EventsStart, Network
from ._proposal_builder import new_transaction_id
from ._transaction import Commit, Proposal, Status, SubmittedTransaction, Transaction
from ._transport import Deadlines, GrpcTransport, Transport

__version__ = "0.1.0"

__all__ = [
    "BlockEventsRequest",
    "ChaincodeEvent",
    "ChaincodeEventsRequest",
    "Checkpoint",
    "Commit",
    "CommitError",
    "CommitStatusError",
    "Contract",
    "Deadlines",
    "EndorseError",
    "EventStream",
    "EventsError",
    "EventsStart",
    "FileCheckpointer",
    "Gateway",
    "GatewayContext",
    "GatewayError",
    "GatewayOptions",
    "GrpcTransport",
    "Identity",
    "InMemoryCheckpointer",
    "Network",
    "PeerMessage",
    "Proposal",
    "Status",
    "SubmitError",
    "SubmittedTransaction",
    "TLSOptions",
    "Transaction",
    "Transport",
    "certificate_hash",
    "hashes",
    "new_transaction_id",
    "signers",
    "tls_channel",
]
