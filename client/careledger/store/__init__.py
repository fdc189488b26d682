"""Encrypted record stores: content-addressed blobs, served per custodian over HTTPS with signed requests."""

from ._auth import AuthError, Requester, sign_request, verify_request
from ._blobs import BlobError, BlobNotFound, BlobStore, FileBlobStore, S3BlobStore
from ._client import StoreClient, StoreError
from ._nonces import NonceCache

__all__ = [
    "AuthError",
    "BlobError",
    "BlobNotFound",
    "BlobStore",
    "FileBlobStore",
    "NonceCache",
    "Requester",
    "S3BlobStore",
    "StoreClient",
    "StoreError",
    "sign_request",
    "verify_request",
]
