"""Wallet keys sealed under a passphrase (used by `_wallet.py`).

scrypt (RFC 7914) derives a 256-bit key from the passphrase and a random salt, and AES-256-GCM encrypts
the private key's PKCS#8 DER. The file is PEM-armoured JSON:

    -----BEGIN CARELEDGER ENCRYPTED PRIVATE KEY-----
    base64 of {"v": 1, "purpose": "signing" | "encryption", "label": "<wallet label>",
               "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "<base64, 16 bytes>"},
               "cipher": {"name": "AES-256-GCM", "nonce": "<base64, 12 bytes>"},
               "ciphertext": "<base64: DER, then the 16-byte tag>"}
    -----END CARELEDGER ENCRYPTED PRIVATE KEY-----

The associated data is `careledger-sealed-key/1` and the canonical JSON (sorted keys, no spaces) of
every field but the ciphertext: a changed parameter, purpose or label fails like a wrong passphrase, and
a key copied into another entry or slot does not open there.

`open_private_key` also reads the two other formats: plain PKCS#8 PEM (keys without a passphrase) and
the PKCS#8 that older wallets encrypted with `BestAvailableEncryption` (PBKDF2-SHA256, 2,048
iterations: about 1 ms per guess here, against ~0.1 s and 32 MiB for scrypt as used below).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .errors import IdentityError


@dataclass(frozen=True)
class ScryptParams:
    """scrypt's cost: memory is 128 * r * n bytes, time grows with n * r * p."""

    n: int = 2**15
    r: int = 8
    p: int = 1


# n=2**15, r=8, p=1 (32 MiB) derives in 90-130 ms on this project's machines (2-core AMD EPYC, cryptography
# 50 / OpenSSL 3; 2**16 took 195-330 ms). A sign-in opens two keys, so about a quarter of a second, and
# each offline guess costs the same 32 MiB and ~0.1 s, against ~1 ms for the old PBKDF2 format.
SCRYPT = ScryptParams()
# What a sealed file may ask for when it is opened: bounded, so a damaged or hostile file cannot make us
# allocate gigabytes or spin for minutes. Every write uses the wallet's own parameters.
_MAX_N, _MAX_R, _MAX_P, _MAX_MEMORY = 2**20, 32, 16, 1 << 30
_BEGIN = b"-----BEGIN CARELEDGER ENCRYPTED PRIVATE KEY-----"
_END = b"-----END CARELEDGER ENCRYPTED PRIVATE KEY-----"
_LEGACY_BEGIN = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
_AAD_PREFIX = b"careledger-sealed-key/1\n"
SIGNING, ENCRYPTION = "signing", "encryption"
_FIELDS, _KDF_FIELDS = {"v", "purpose", "label", "kdf", "cipher", "ciphertext"}, {"name", "n", "r", "p", "salt"}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _aad(header: dict[str, Any]) -> bytes:
    return _AAD_PREFIX + json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _derive(passphrase: bytes, salt: bytes, params: ScryptParams) -> bytes:
    return Scrypt(salt=salt, length=32, n=params.n, r=params.r, p=params.p).derive(passphrase)


def seal_private_key(
    key: PrivateKeyTypes, passphrase: bytes, purpose: str, label: str, params: ScryptParams = SCRYPT
) -> bytes:
    """The sealed-key file (module docstring) of `key` under `passphrase`."""
    if not passphrase:
        raise IdentityError("a sealed key needs a passphrase")
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    kdf = {"name": "scrypt", "n": params.n, "r": params.r, "p": params.p, "salt": _b64(salt)}
    header = {
        "v": 1,
        "purpose": purpose,
        "label": label,
        "kdf": kdf,
        "cipher": {"name": "AES-256-GCM", "nonce": _b64(nonce)},
    }
    ciphertext = AESGCM(_derive(passphrase, salt, params)).encrypt(nonce, der, _aad(header))
    body = json.dumps({**header, "ciphertext": _b64(ciphertext)}, sort_keys=True, separators=(",", ":")).encode()
    return _BEGIN + b"\n" + base64.encodebytes(body) + _END + b"\n"


def _parse_sealed(data: bytes) -> tuple[dict[str, Any], ScryptParams, bytes, bytes, bytes]:
    """(header, scrypt parameters, salt, nonce, ciphertext); ValueError/KeyError/TypeError when malformed."""
    text = data.strip()
    if not (text.startswith(_BEGIN) and text.endswith(_END)):
        raise ValueError("no sealed-key armour")
    doc = json.loads(base64.b64decode(b"".join(text[len(_BEGIN) : -len(_END)].split()), validate=True))
    if not isinstance(doc, dict) or set(doc) != _FIELDS or doc["v"] != 1:
        raise ValueError("not a version-1 sealed key")
    kdf, cipher = doc["kdf"], doc["cipher"]
    if set(kdf) != _KDF_FIELDS or kdf["name"] != "scrypt" or cipher.get("name") != "AES-256-GCM":
        raise ValueError("unknown key derivation or cipher")
    n, r, p = kdf["n"], kdf["r"], kdf["p"]
    if not all(type(v) is int for v in (n, r, p)) or n < 2 or n & (n - 1):
        raise ValueError("scrypt parameters must be integers, n a power of two")
    if n > _MAX_N or not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P or 128 * r * n > _MAX_MEMORY:
        raise ValueError("scrypt parameters out of bounds")
    salt, nonce = base64.b64decode(kdf["salt"], validate=True), base64.b64decode(cipher["nonce"], validate=True)
    ciphertext = base64.b64decode(doc["ciphertext"], validate=True)
    if len(salt) < 16 or len(nonce) != 12 or len(ciphertext) < 17:
        raise ValueError("salt, nonce or ciphertext of the wrong size")
    header = {k: v for k, v in doc.items() if k != "ciphertext"}
    return header, ScryptParams(n, r, p), salt, nonce, ciphertext


def plain_pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def is_encrypted(data: bytes) -> bool:
    return data.lstrip().startswith(_BEGIN) or _LEGACY_BEGIN in data


def sealed_params(data: bytes) -> ScryptParams | None:
    """The scrypt parameters a sealed key was written with; None for any other format."""
    try:
        return _parse_sealed(data)[1]
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        return None


def open_private_key(data: bytes, passphrase: bytes | None, purpose: str, label: str) -> tuple[PrivateKeyTypes, bool]:
    """(the key, whether it is in the old PBKDF2 format) from any of the three formats. Every failure is an
    IdentityError; a wrong passphrase and a tampered file cannot be told apart (GCM only says 'not authentic')."""
    what = "private key" if purpose == SIGNING else f"{purpose} key"
    if data.lstrip().startswith(_BEGIN):
        if not passphrase:
            raise IdentityError(f"the {what} of {label!r} is encrypted: give its passphrase")
        try:
            header, params, salt, nonce, ciphertext = _parse_sealed(data)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise IdentityError(f"the {what} of {label!r} is damaged (not a sealed key this version reads)") from None
        if header["purpose"] != purpose or header["label"] != label:
            raise IdentityError(f"the {what} file of {label!r} was sealed for another entry or use: refused")
        try:
            der = AESGCM(_derive(passphrase, salt, params)).decrypt(nonce, ciphertext, _aad(header))
        except InvalidTag:
            raise IdentityError(f"cannot open the {what} of {label!r}: wrong passphrase?") from None
        return serialization.load_der_private_key(der, password=None), False
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except (ValueError, TypeError) as exc:
        raise IdentityError(f"cannot open the {what} of {label!r}: wrong passphrase?") from exc
    return key, bool(passphrase) and _LEGACY_BEGIN in data
