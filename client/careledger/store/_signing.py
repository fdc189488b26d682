"""Signing a request to a record store with the caller's Fabric identity (careledger_protocol.signed_requests)."""

from __future__ import annotations

import base64
import secrets
import time

from careledger_protocol.signed_requests import (
    H_BODY,
    H_CERT,
    H_MSP,
    H_NONCE,
    H_SIG,
    H_TIME,
    body_digest,
    canonical_request,
)

from .._signing import SigningIdentity


def sign_request(identity: SigningIdentity, method: str, path: str, body: bytes | bytearray = b"") -> dict[str, str]:
    """The headers that authenticate one request (sign each request afresh: the nonce is single-use)."""
    timestamp, nonce, digest = str(int(time.time())), secrets.token_urlsafe(24), body_digest(body)
    signature = identity.sign(canonical_request(method, path, timestamp, nonce, digest))
    return {
        H_MSP: identity.msp_id,
        H_CERT: base64.b64encode(identity.certificate_pem).decode(),
        H_TIME: timestamp,
        H_NONCE: nonce,
        H_BODY: digest,
        H_SIG: base64.b64encode(signature).decode(),
    }
