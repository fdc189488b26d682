"""Verifying a signed request (careledger_protocol.signed_requests): who sent it, and the body hash it signed.

A store accepts a request when
- the signature matches, by the key of the certificate sent along;
- its timestamp is within MAX_SKEW_SECONDS (120 s) of the store's clock;
- its nonce was not seen in that window: a captured request cannot be sent again (replay);
- the certificate was issued by the CA of the MSP it claims, is valid now and is not on that CA's CRL
  (both as the store's Trust knows them now, _trust.py);
- the certificate carries the CareLedger attributes (role, member_id) as the chaincode requires them.
"""

from __future__ import annotations

import base64
import datetime
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from careledger import CareLedgerError
from careledger_protocol import LOCAL_ID, ROLES, certificate_attributes, ledger_member_id
from careledger_protocol.signed_requests import (
    H_BODY,
    MAX_SKEW_SECONDS,
    SIGNED_HEADERS,
    canonical_request,
)
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ._nonces import NonceCache
from ._trust import Trust

_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class AuthError(CareLedgerError):
    """The request's signature or identity is not acceptable; the message says why."""


@dataclass(frozen=True)
class Requester:
    msp_id: str
    member_id: str  # the certificate's member_id attribute, unqualified
    role: str
    certificate: x509.Certificate
    body_sha256: str = ""  # the body's SHA-256 as signed: the body must match it

    @property
    def ledger_id(self) -> str:
        return ledger_member_id(self.member_id, self.msp_id)


def verify_request(
    headers: Mapping[str, str],
    method: str,
    path: str,
    trust: Trust,
    *,
    nonces: NonceCache,
    now: float | None = None,
) -> Requester:
    """Check a signed request from its headers; return who sent it and the body hash it signed.

    `trust` answers an MSP id's CA certificates and the serials its CA revoked.
    The nonce is remembered only once everything else checked out, so unauthenticated requests cannot
    fill the replay cache. Raises AuthError, or NonceCacheFull when too many requests are live."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        msp_id, cert_b64, timestamp, nonce, digest, sig_b64 = (lower[h.lower()] for h in SIGNED_HEADERS)
    except KeyError as missing:
        name = next(h for h in SIGNED_HEADERS if h.lower() == missing.args[0])
        raise AuthError(f"unsigned request: header {name} is missing") from None
    if not _TIMESTAMP.match(timestamp):
        raise AuthError("the request time is not a number of seconds")
    if not _NONCE.match(nonce):
        raise AuthError("the nonce must be 16 to 64 characters of base64url")
    if not _SHA256.match(digest):
        raise AuthError(f"{H_BODY} must be the body's SHA-256 in lower-case hex")
    now = time.time() if now is None else now
    skew = abs(now - int(timestamp))
    if skew > MAX_SKEW_SECONDS:
        raise AuthError(f"the request is {int(skew)} s away from the server's clock (at most {MAX_SKEW_SECONDS} s)")
    try:
        cert = x509.load_pem_x509_certificate(base64.b64decode(cert_b64, validate=True))
        signature = base64.b64decode(sig_b64, validate=True)
    except ValueError:
        raise AuthError("the certificate or signature header is not valid base64 PEM/DER") from None
    public_key = cert.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise AuthError("only EC identities are accepted")
    try:
        public_key.verify(
            signature, canonical_request(method, path, timestamp, nonce, digest), ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        raise AuthError("the request signature does not match the request") from None
    _check_certificate(cert, msp_id, trust)
    attrs = certificate_attributes(cert)
    role, member_id = attrs.get("role", ""), attrs.get("member_id", "")
    # The protocol's rules: a certificate the ledger would refuse is refused here too.
    if role not in ROLES or not LOCAL_ID.match(member_id):
        raise AuthError("the certificate carries no valid CareLedger role and member_id")
    # A replay is the same signed request again: its nonce is in the cache until its timestamp expires.
    if not nonces.add(nonce, int(timestamp) + MAX_SKEW_SECONDS, now):
        raise AuthError("replayed request: this nonce was used already (sign every request afresh)")
    return Requester(msp_id=msp_id, member_id=member_id, role=role, certificate=cert, body_sha256=digest)


def _check_certificate(cert: x509.Certificate, msp_id: str, trust: Trust) -> None:
    """The certificate chains to a CA of the MSP it claims (so the member_id it carries is that org's to
    give), is within its validity period, and that CA has not revoked it."""
    cas = trust.cas(msp_id)
    if not cas:
        raise AuthError(f"{msp_id} is not an organization of this consortium")
    now = datetime.datetime.now(datetime.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise AuthError("the certificate is expired or not yet valid")
    if not any(_issued_by(cert, ca, now) for ca in cas):
        raise AuthError(f"the certificate was not issued by the CA of {msp_id}")
    if cert.serial_number in trust.revoked(msp_id):
        raise AuthError("certificate revoked")


def _issued_by(cert: x509.Certificate, ca: x509.Certificate, now: datetime.datetime) -> bool:
    ca_key = ca.public_key()
    if cert.issuer != ca.subject or not isinstance(ca_key, ec.EllipticCurvePublicKey):
        return False
    if not ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
        return False
    hash_algorithm = cert.signature_hash_algorithm
    if not isinstance(hash_algorithm, hashes.HashAlgorithm):
        return False
    try:
        ca_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hash_algorithm))
    except InvalidSignature:
        return False
    return True
