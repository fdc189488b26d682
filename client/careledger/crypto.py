"""Envelope encryption of records: safe recipes, not primitives.

Each record version is encrypted with a fresh 256-bit key (AES-256-GCM, 96-bit random nonce). The
associated data binds the ciphertext to its record id, patient id and version, so a blob moved to
another record or version fails to decrypt. The key is wrapped for each recipient as a JWE (RFC 7516,
general JSON serialization, ECDH-ES+A256KW with A256GCM), which any JOSE library can open with the
recipient's private key; the JWE's protected header names the record and version in a `careledger`
parameter marked critical (`crit`), so a JOSE library that does not check it refuses to open the key
rather than skip the check, and opening a key here checks it: a wrapped key swapped in from another record
is refused. The recipient's `kid` is the RFC 7638 thumbprint of its JWK, the `kid` it registered on the
ledger. Keys wrapped before (no `crit`, the member id as `kid`) still open.

    blob = seal(plaintext, key, record)            # b"CLR1" + nonce + ciphertext + tag
    wrapped = wrap_key(key, record, recipient_jwk)
    key = unwrap_key(wrapped, record, private_key)
    plaintext = open_blob(blob, key, record)
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.registry import HeaderParameter

from .errors import IntegrityError

MAGIC = b"CLR1"
NONCE_BYTES = 12
KEY_BYTES = 32
KEY_CONTENT_TYPE = "application/careledger-record-key"


def _check_binding(value: Any) -> None:
    if not isinstance(value, dict) or set(value) != {"record_id", "patient_id", "version"}:
        raise ValueError("careledger header must name record_id, patient_id and version")


# Only the algorithms we use, and our record binding as a known protected header parameter.
_REGISTRY = jwe.JWERegistry(
    header_registry={"careledger": HeaderParameter("CareLedger record binding", _check_binding)},
    algorithms=["ECDH-ES+A256KW", "A256GCM"],
    max_recipients=1,
)


@dataclass(frozen=True)
class RecordRef:
    """What a ciphertext and its keys are bound to."""

    record_id: str
    patient_id: str
    version: int

    def associated_data(self) -> bytes:
        doc = {"patient_id": self.patient_id, "record_id": self.record_id, "version": self.version}
        return b"careledger-record/v1|" + json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def new_record_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(plaintext: bytes | bytearray, key: bytes, record: RecordRef) -> bytearray:
    """The ciphertext blob. Written in place (header, then ciphertext and tag) into one buffer: for large
    records the copies of a concatenation cost ten times the encryption itself."""
    if len(key) != KEY_BYTES:
        raise ValueError("record keys are 32 bytes (AES-256)")
    nonce = os.urandom(NONCE_BYTES)
    header = len(MAGIC) + NONCE_BYTES
    blob = bytearray(header + len(plaintext) + 16)
    blob[: len(MAGIC)] = MAGIC
    blob[len(MAGIC) : header] = nonce
    AESGCM(key).encrypt_into(nonce, plaintext, record.associated_data(), memoryview(blob)[header:])
    return blob


def open_blob(blob: bytes | bytearray, key: bytes, record: RecordRef) -> bytes:
    header = len(MAGIC) + NONCE_BYTES
    if not blob.startswith(MAGIC) or len(blob) < header + 16:
        raise IntegrityError(f"record {record.record_id}: not a CareLedger ciphertext (bad header or truncated)")
    view = memoryview(blob)
    try:
        return AESGCM(key).decrypt(bytes(view[len(MAGIC) : header]), view[header:], record.associated_data())
    except InvalidTag:
        raise IntegrityError(
            f"record {record.record_id} v{record.version}: the ciphertext or its binding to this record was altered"
        ) from None


def content_address(blob: bytes | bytearray) -> str:
    """The SHA-256 (hex) under which a ciphertext is stored and registered on the ledger."""
    return hashlib.sha256(blob).hexdigest()


# -- keys of members ---------------------------------------------------------------------------------------------
def new_encryption_key() -> ECKey:
    """A member's (or organization's) encryption key pair, separate from its signing key."""
    return ECKey.generate_key("P-256")


def public_jwk(key: ECKey) -> dict[str, Any]:
    """The public half as the ledger registers it: with its RFC 7638 thumbprint as `kid`."""
    jwk: dict[str, Any] = dict(key.as_dict(private=False))
    jwk["kid"] = key.thumbprint()
    return jwk


def import_public_jwk(jwk: dict[str, Any]) -> ECKey:
    clean = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}
    return ECKey.import_key(clean)


def private_key_pem(key: ECKey, passphrase: bytes | None = None) -> bytes:
    from cryptography.hazmat.primitives import serialization

    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_key.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def load_private_key(pem: bytes, passphrase: bytes | None = None) -> ECKey:
    from cryptography.hazmat.primitives import serialization

    return ECKey.import_key(serialization.load_pem_private_key(pem, password=passphrase))  # type: ignore[arg-type]


# -- wrapping record keys ------------------------------------------------------------------------------------------
def wrap_key(key: bytes, record: RecordRef, recipient: dict[str, Any] | ECKey) -> dict[str, Any]:
    """The record key as a JWE for one recipient (its public JWK), addressed by the key's thumbprint."""
    public = recipient if isinstance(recipient, ECKey) else import_public_jwk(recipient)
    protected = {
        "enc": "A256GCM",
        "cty": KEY_CONTENT_TYPE,
        "careledger": {"record_id": record.record_id, "patient_id": record.patient_id, "version": record.version},
        "crit": ["careledger"],
    }
    message = jwe.GeneralJSONEncryption(protected, key)
    message.add_recipient({"alg": "ECDH-ES+A256KW", "kid": public.thumbprint()}, public)
    return dict(jwe.encrypt_json(message, None, registry=_REGISTRY))


def unwrap_key(wrapped: dict[str, Any], record: RecordRef, private_key: ECKey) -> bytes:
    """Open a wrapped key (general JSON syntax) and check it belongs to this record and version."""
    try:
        opened = jwe.decrypt_json(wrapped, private_key, registry=_REGISTRY)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(
            f"record {record.record_id}: the wrapped key cannot be opened ({type(exc).__name__})"
        ) from None
    binding = opened.protected.get("careledger", {})
    expected = {"record_id": record.record_id, "patient_id": record.patient_id, "version": record.version}
    if binding != expected:
        raise IntegrityError(f"record {record.record_id}: the wrapped key belongs to {binding or 'no record'}")
    plaintext = opened.plaintext
    if plaintext is None or len(plaintext) != KEY_BYTES:
        raise IntegrityError(f"record {record.record_id}: the wrapped key is not a 32-byte key")
    return bytes(plaintext)


def rewrap_key(
    wrapped: dict[str, Any], record: RecordRef, private_key: ECKey, recipient: dict[str, Any]
) -> dict[str, Any]:
    """Wrap a record key one holds for another recipient (a new grantee)."""
    return wrap_key(unwrap_key(wrapped, record, private_key), record, recipient)


def rotate(
    blob: bytes | bytearray, key: bytes, record: RecordRef, recipients: dict[str, dict[str, Any]]
) -> tuple[bytearray, RecordRef, dict[str, dict[str, Any]]]:
    """Re-encrypt under a fresh key as the next version, wrapped for the remaining recipients."""
    plaintext = open_blob(blob, key, record)
    next_record = RecordRef(record.record_id, record.patient_id, record.version + 1)
    new_key = new_record_key()
    new_blob = seal(plaintext, new_key, next_record)
    return new_blob, next_record, {who: wrap_key(new_key, next_record, jwk) for who, jwk in recipients.items()}
