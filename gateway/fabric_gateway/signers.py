"""Signers: a function of a digest (made by a hash function from `hashes`) to a signature. Kept apart from
the hash so that a key may live in an HSM or a remote signing service that signs digests.

    sign = signers.for_private_key(private_key)    # ECDSA P-256/P-384 (DER, low-S) or Ed25519
    gateway = Gateway(identity, channel, sign=sign, hash=hashes.SHA256)

Ed25519 signs whole messages: pair it with `hashes.NONE`.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature, encode_dss_signature

Sign = Callable[[bytes], bytes]  # digest -> signature

# Each curve's group order: Fabric refuses an ECDSA signature whose S is in the upper half.
_CURVE_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973", 16
    ),
}
_PREHASHED: dict[int, hashes.HashAlgorithm] = {32: hashes.SHA256(), 48: hashes.SHA384()}


def ecdsa(key: ec.EllipticCurvePrivateKey) -> Sign:
    """Signs 32- or 48-byte digests with an ECDSA P-256 or P-384 key: DER, S normalised to the lower half."""
    order = _CURVE_ORDERS.get(key.curve.name)
    if order is None:
        raise ValueError(f"Fabric accepts ECDSA keys on P-256 and P-384, not {key.curve.name}")

    def sign(digest: bytes) -> bytes:
        algorithm = _PREHASHED.get(len(digest))
        if algorithm is None:
            raise ValueError(f"an ECDSA signer signs 32- or 48-byte digests, not {len(digest)} bytes: check the hash")
        r, s = decode_dss_signature(key.sign(digest, ec.ECDSA(Prehashed(algorithm))))
        return encode_dss_signature(r, order - s if s > order // 2 else s)

    return sign


def ed25519_signer(key: ed25519.Ed25519PrivateKey) -> Sign:
    """Signs whole messages with an Ed25519 key (Fabric 3): pair it with hashes.NONE."""
    return key.sign


def for_private_key(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> Sign:
    """The signer for a private key held in memory."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return ed25519_signer(key)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ecdsa(key)
    raise TypeError(f"Fabric identities use ECDSA or Ed25519 keys, not {type(key).__name__}")
