"""A hospital's record store: ciphertexts kept by SHA-256, served over HTTPS to signed requests and
released only against the ledger's access decisions. Run one with `python -m careledger_store`.

It stands on the client (careledger: the gateway to ask the ledger, the errors); the client's side of
the conversation is careledger.store.StoreClient.
"""

from ._auth import AuthError, Requester, verify_request
from ._blobs import (
    BlobCorrupt,
    BlobError,
    BlobNotFound,
    BlobStore,
    BlobUnavailable,
    FileBlobStore,
    S3BlobStore,
    check_address,
)
from ._nonces import NonceCache, NonceCacheFull
from ._places import PlaceSpec, open_blobs
from ._replicas import ReplicatedBlobStore, ReplicaWriteFailed
from ._scrub import Finding, Problem, ScrubReport, scrub
from ._server import StoreApp, StoreConfig
from ._trust import StaticTrust, Trust, TrustFile, TrustFileError

__all__ = [
    "AuthError",
    "BlobCorrupt",
    "BlobError",
    "BlobNotFound",
    "BlobStore",
    "BlobUnavailable",
    "FileBlobStore",
    "Finding",
    "NonceCache",
    "NonceCacheFull",
    "PlaceSpec",
    "Problem",
    "ReplicaWriteFailed",
    "ReplicatedBlobStore",
    "Requester",
    "S3BlobStore",
    "ScrubReport",
    "StaticTrust",
    "StoreApp",
    "StoreConfig",
    "Trust",
    "TrustFile",
    "TrustFileError",
    "check_address",
    "open_blobs",
    "scrub",
    "verify_request",
]
