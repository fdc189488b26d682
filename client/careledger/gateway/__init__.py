"""A Fabric Gateway client (Fabric 2.4+ / 3.x) on grpcio and the official protos."""

from ._client import Contract, FileCheckpoint, Gateway, Network
from ._connection import connect, grpc_channel, load_profile
from ._proposal import new_transaction_id
from ._transaction import Commit, Proposal, Status, Transaction
from ._transport import Deadlines, Signer, Transport

__all__ = [
    "Commit",
    "Contract",
    "Deadlines",
    "FileCheckpoint",
    "Gateway",
    "Network",
    "Proposal",
    "Signer",
    "Status",
    "Transaction",
    "Transport",
    "connect",
    "grpc_channel",
    "load_profile",
    "new_transaction_id",
]
