"""Signers and hash functions: what Fabric's MSP verifies (DER ECDSA with low S on P-256 and P-384, Ed25519
over the whole message), chosen per identity."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes as crypto_hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from fabric_gateway import hashes, signers

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P384_ORDER = int("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973", 16)


@pytest.mark.parametrize(
    ("curve", "order", "hash_function", "algorithm"),
    [
        (ec.SECP256R1(), P256_ORDER, hashes.SHA256, crypto_hashes.SHA256()),
        (ec.SECP384R1(), P384_ORDER, hashes.SHA384, crypto_hashes.SHA384()),
        (ec.SECP256R1(), P256_ORDER, hashes.SHA3_256, crypto_hashes.SHA3_256()),
    ],
)
def test_ecdsa_signatures_verify_and_are_low_s(
    curve: ec.EllipticCurve, order: int, hash_function: hashes.Hash, algorithm: crypto_hashes.HashAlgorithm
) -> None:
    key = ec.generate_private_key(curve)
    sign = signers.for_private_key(key)
    for i in range(40):  # about half of raw signatures would be high-S
        message = f"message {i}".encode()
        signature = sign(hash_function(message))
        key.public_key().verify(signature, message, ec.ECDSA(algorithm))
        assert decode_dss_signature(signature)[1] <= order // 2


def test_ed25519_signs_the_whole_message_with_the_none_hash() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    signature = signers.for_private_key(key)(hashes.NONE(b"proposal bytes"))
    key.public_key().verify(signature, b"proposal bytes")


def test_keys_fabric_cannot_verify_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="P-256 and P-384"):
        signers.ecdsa(ec.generate_private_key(ec.SECP521R1()))
    with pytest.raises(ValueError, match="check the hash"):
        signers.ecdsa(ec.generate_private_key(ec.SECP256R1()))(b"short")
    with pytest.raises(TypeError, match="ECDSA or Ed25519"):
        signers.for_private_key("not a key")  # type: ignore[arg-type]
