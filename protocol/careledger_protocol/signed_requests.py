"""How a request to a record store is signed: the headers, and the text the signature covers.

The signature covers the method, the path with its query, a timestamp, a random nonce and the body's
SHA-256, which travels in its own header. So a store authenticates a request from its headers alone,
before it reads a byte of the body, and then checks the body against the signed hash as it streams in.
The client signs (careledger.store), the store verifies (careledger_store); both read this module.
"""

from __future__ import annotations

import hashlib

# A request's timestamp may be this far from the store's clock; its nonce is remembered that long.
MAX_SKEW_SECONDS = 120
H_MSP = "X-CareLedger-MSP"
H_CERT = "X-CareLedger-Cert"  # the signer's certificate, PEM in base64
H_TIME = "X-CareLedger-Time"  # seconds since the epoch
H_NONCE = "X-CareLedger-Nonce"  # 16 to 64 characters of base64url, single-use
H_BODY = "X-CareLedger-Body-SHA256"  # lower-case hex
H_SIG = "X-CareLedger-Signature"  # ECDSA over SHA-256 of the canonical request, DER in base64
SIGNED_HEADERS = (H_MSP, H_CERT, H_TIME, H_NONCE, H_BODY, H_SIG)


def body_digest(body: bytes | bytearray) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_request(method: str, path: str, timestamp: str, nonce: str, body_sha256: str) -> bytes:
    """The bytes a request's signature covers."""
    return f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{body_sha256}".encode()
