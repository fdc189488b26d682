"""HSMSigner against SoftHSM: signatures Fabric verifies (DER, low S) from keys that never leave the token,
on P-256 and P-384, shared by threads; clear errors for a wrong token, key or curve."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives import hashes as crypto_hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from fabric_gateway import Gateway, Identity, hashes
from fabric_gateway.hsm import HSMSigner

from .fake_gateway import FakeTransport
from .local_tls import certificate_pem
from .softhsm import Token, softhsm_token
from .test_gateway_signers import P256_ORDER, P384_ORDER


@pytest.fixture(scope="module")
def token() -> Token:
    return softhsm_token()


@pytest.mark.parametrize(
    ("curve", "order", "hash_function", "algorithm"),
    [
        ("secp256r1", P256_ORDER, hashes.SHA256, crypto_hashes.SHA256()),
        ("secp384r1", P384_ORDER, hashes.SHA384, crypto_hashes.SHA384()),
    ],
)
def test_hsm_signatures_verify_and_are_low_s(
    token: Token, curve: str, order: int, hash_function: hashes.Hash, algorithm: crypto_hashes.HashAlgorithm
) -> None:
    public = token.generate(f"user-{curve}", curve)
    with HSMSigner(token.library, token_label=token.label, pin=token.pin, key_label=f"user-{curve}") as sign:
        for i in range(30):
            message = f"proposal {i}".encode()
            signature = sign(hash_function(message))
            public.verify(signature, message, ec.ECDSA(algorithm))
            assert decode_dss_signature(signature)[1] <= order // 2


def test_a_gateway_signs_every_stage_in_the_hsm(token: Token) -> None:
    public = token.generate("gateway-user")
    with HSMSigner(token.library, token_label=token.label, pin=token.pin, key_label="gateway-user") as sign:
        transport = FakeTransport(public)  # verifies every signature with the HSM key's public half
        certificate = certificate_pem(ec.generate_private_key(ec.SECP256R1()))  # any certificate will do here
        gateway = Gateway(Identity("Org1MSP", certificate), transport, sign=sign)
        contract = gateway.network("ch1").contract("cc")
        with ThreadPoolExecutor(max_workers=4) as pool:  # one session, shared by threads
            results = list(pool.map(lambda i: contract.submit_transaction("Put", str(i)), range(8)))
    assert results == [b"result"] * 8


def test_wrong_token_or_key_says_what_is_wrong(token: Token) -> None:
    with pytest.raises(ValueError, match="no PKCS#11 token labelled 'absent'"):
        HSMSigner(token.library, token_label="absent", pin=token.pin, key_label="x")
    with pytest.raises(ValueError, match="no single EC private key 'nobody'"):
        HSMSigner(token.library, token_label=token.label, pin=token.pin, key_label="nobody")
