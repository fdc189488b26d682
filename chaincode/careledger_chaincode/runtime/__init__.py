"""A Fabric chaincode runtime for Python, on grpcio and the official hyperledger-fabric-protos.

Written instead of wrapping fabric-chaincode-python 2.5.4 (see chaincode/README.md for why).
"""

from ._contract import (
    ChaincodeError,
    Context,
    Contract,
    Outcome,
    Router,
    transaction,
)
from ._identity import ClientIdentity
from ._interface import KeyModification, OutOfRange, Stub
from ._server import ChaincodeServer, TLSFiles
from ._stub import ChaincodeStub, PeerError, PeerFeatures

__all__ = [
    "ChaincodeError",
    "ChaincodeServer",
    "ChaincodeStub",
    "ClientIdentity",
    "Context",
    "Contract",
    "KeyModification",
    "OutOfRange",
    "Outcome",
    "PeerError",
    "PeerFeatures",
    "Router",
    "Stub",
    "TLSFiles",
    "transaction",
]
