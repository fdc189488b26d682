"""A hospital's record store: ciphertexts kept by SHA-256, served over HTTPS to signed requests and
released only against the ledger's access decisions. Run one with `python -m careledger_store`.

It stands on the client (careledger: the gateway to ask the ledger, the errors); the client's side of
the conversation is careledger.store.StoreClient.
"""

from ._auth import AuthError, Requester, verify_request
from ._blobs import BlobError, BlobNotFound, BlobStore, FileBlobStore, S3BlobStore
from ._nonces import NonceCache, NonceCacheFull
from ._server import StoreApp, StoreConfig

__all__ = [
    "AuthError",
    "BlobError",
    "BlobNotFound",
    "BlobStore",
    "FileBlobStore",
    "NonceCache",
    "NonceCacheFull",
    "Requester",
    "S3BlobStore",
    "StoreApp",
    "StoreConfig",
    "verify_request",
]
