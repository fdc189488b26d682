from __future__ import annotations

from pathlib import Path

import pytest
from careledger import IdentityError, SigningIdentity, Wallet
from careledger._signing import new_private_key, sign
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from .local_tls import certificate_pem
from .test_gateway_signers import P256_ORDER


def test_signatures_are_low_s_and_verify() -> None:
    key = new_private_key()
    for i in range(64):  # half of random signatures would be high-S without normalisation
        message = f"message {i}".encode()
        signature = sign(key, message)
        _, s = decode_dss_signature(signature)
        assert s <= P256_ORDER // 2
        key.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("passphrase", [None, b"correct horse"])
def test_wallet_round_trip(tmp_path: Path, passphrase: bytes | None) -> None:
    key = new_private_key()
    identity = SigningIdentity("Hospital1MSP", certificate_pem(key), key)
    wallet = Wallet(tmp_path)
    wallet.put("alice", identity, b"CA PEM", passphrase=passphrase)
    loaded = wallet.get("alice", passphrase)
    assert loaded.msp_id == "Hospital1MSP"
    assert loaded.certificate_pem == identity.certificate_pem
    assert loaded.private_key.private_numbers() == key.private_numbers()
    assert wallet.labels() == ["alice"]
    assert (tmp_path / "alice" / "msp" / "keystore" / "key.pem").stat().st_mode & 0o777 == 0o600
    if passphrase:
        assert b"ENCRYPTED" in (tmp_path / "alice" / "msp" / "keystore" / "key.pem").read_bytes()


def test_wallet_errors_say_what_to_do(tmp_path: Path) -> None:
    """(Passphrase errors: test_wallet_sealing.)"""
    key = new_private_key()
    wallet = Wallet(tmp_path)
    wallet.put("bob", SigningIdentity("Hospital2MSP", certificate_pem(key), key), b"CA")
    with pytest.raises(IdentityError, match="known: bob"):
        wallet.get("carol")
    with pytest.raises(IdentityError, match="invalid wallet label"):
        wallet.path("../etc")
