"""The client of the hospitals' record stores: ciphertexts by SHA-256, every request signed with the
caller's identity. The stores themselves are the careledger_store package."""

from ._client import NotOnLedger, StoreClient, StoreError
from ._signing import sign_request

__all__ = ["NotOnLedger", "StoreClient", "StoreError", "sign_request"]
