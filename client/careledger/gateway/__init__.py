"""A Fabric Gateway client (Fabric 2.4+ / 3.x) on grpcio and the official protos."""

from ._client import (
    Commit,
    Contract,
    Deadlines,
    FileCheckpoint,
    Gateway,
    Network,
    Proposal,
    Signer,
    Status,
    Transaction,
    Transport,
    chaincode_error_code,
)
from ._connection import connect, grpc_channel

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
    "chaincode_error_code",
    "connect",
    "grpc_channel",
]
