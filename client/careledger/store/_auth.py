"""Signed HTTP requests: the requester proves who it is with its Fabric identity (certificate + key).

The signature covers method, path with query, a timestamp and the body's SHA-256; the server checks
the signature, the timestamp window, that the certificate was issued by the CA of the claimed MSP,
and reads the CareLedger attributes (role, member_id) from it.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from .._signing import SigningIdentity
from ..errors import CareLedgerError

MAX_SKEW_SECONDS = 300
_ATTRS_OID = x509.ObjectIdentifier("1.2.3.4.5.6.7.8.1")  # Fabric CA attributes extension
H_MSP, H_CERT, H_TIME, H_SIG = "X-CareLedger-MSP", "X-CareLedger-Cert", "X-CareLedger-Time", "X-CareLedger-Signature"


class AuthError(CareLedgerError):
    """The request's signature or identity is not acceptable; the message says why."""


def _canonical(method: str, path: str, timestamp: str, body: bytes | bytearray) -> bytes:
    return f"{method.upper()}\n{path}\n{timestamp}\n{hashlib.sha256(body).hexdigest()}".encode()


def sign_request(identity: SigningIdentity, method: str, path: str, body: bytes | bytearray = b"") -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = identity.sign(_canonical(method, path, timestamp, body))
    return {
        H_MSP: identity.msp_id,
        H_CERT: base64.b64encode(identity.certificate_pem).decode(),
        H_TIME: timestamp,
        H_SIG: base64.b64encode(signature).decode(),
    }


@dataclass(frozen=True)
class Requester:
    msp_id: str
    member_id: str
    role: str
    certificate: x509.Certificate


def _attributes(cert: x509.Certificate) -> dict[str, str]:
    try:
        ext = cert.extensions.get_extension_for_oid(_ATTRS_OID).value
    except x509.ExtensionNotFound:
        return {}
    raw = ext.value if isinstance(ext, x509.UnrecognizedExtension) else b"{}"
    attrs = json.loads(raw).get("attrs", {})
    return {str(k): str(v) for k, v in attrs.items()}


def verify_request(
    headers: dict[str, str],
    method: str,
    path: str,
    body: bytes,
    trusted_cas: dict[str, list[x509.Certificate]],
    now: float | None = None,
) -> Requester:
    """Check a signed request; return who sent it. `trusted_cas` maps MSP id to its CA certificates."""
    try:
        msp_id, cert_b64, timestamp, sig_b64 = (headers[h] for h in (H_MSP, H_CERT, H_TIME, H_SIG))
    except KeyError as missing:
        raise AuthError(f"unsigned request: header {missing.args[0]} is missing") from None
    now = time.time() if now is None else now
    try:
        skew = abs(now - int(timestamp))
    except ValueError:
        raise AuthError("the request time is not a number of seconds") from None
    if skew > MAX_SKEW_SECONDS:
        raise AuthError(f"the request is {int(skew)} s away from the server's clock (at most {MAX_SKEW_SECONDS} s)")
    try:
        cert = x509.load_pem_x509_certificate(base64.b64decode(cert_b64))
        signature = base64.b64decode(sig_b64)
    except ValueError:
        raise AuthError("the certificate or signature header is not valid base64 PEM/DER") from None
    public_key = cert.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise AuthError("only EC identities are accepted")
    try:
        public_key.verify(signature, _canonical(method, path, timestamp, body), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AuthError("the request signature does not match the request") from None
    _check_issuer(cert, msp_id, trusted_cas)
    attrs = _attributes(cert)
    if not attrs.get("member_id") or not attrs.get("role"):
        raise AuthError("the certificate carries no CareLedger role and member_id")
    return Requester(msp_id=msp_id, member_id=attrs["member_id"], role=attrs["role"], certificate=cert)


def _check_issuer(cert: x509.Certificate, msp_id: str, trusted_cas: dict[str, list[x509.Certificate]]) -> None:
    cas = trusted_cas.get(msp_id)
    if not cas:
        raise AuthError(f"{msp_id} is not an organization of this consortium")
    now = datetime.datetime.now(datetime.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise AuthError("the certificate is expired or not yet valid")
    for ca in cas:
        ca_key = ca.public_key()
        if cert.issuer != ca.subject or not isinstance(ca_key, ec.EllipticCurvePublicKey):
            continue
        try:
            ca_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))  # type: ignore[arg-type]
        except InvalidSignature:
            continue
        return
    raise AuthError(f"the certificate was not issued by the CA of {msp_id}")
