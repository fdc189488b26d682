"""ECDSA P-256 keys and signatures as Fabric expects them (SHA-256 digest, DER, low-S)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID

# Order of the P-256 group; Fabric rejects signatures whose S is in the upper half.
_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def sign_digest(key: ec.EllipticCurvePrivateKey, digest: bytes) -> bytes:
    """Sign a SHA-256 digest; the signature is DER with S normalised to the lower half."""
    der = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    r, s = decode_dss_signature(der)
    if s > _P256_N // 2:
        s = _P256_N - s
    return encode_dss_signature(r, s)


def sign(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    return sign_digest(key, hashlib.sha256(message).digest())


def private_key_pem(key: ec.EllipticCurvePrivateKey, passphrase: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def load_private_key(pem: bytes, passphrase: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=passphrase)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError("only EC private keys are supported for Fabric identities")
    return key


def csr_pem(key: ec.EllipticCurvePrivateKey, common_name: str, hosts: tuple[str, ...] = ()) -> str:
    """A certificate signing request; the CA fills in the rest of the subject from its own config."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                import ipaddress

                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class SigningIdentity:
    """An MSP id, an X.509 certificate and the private key that signs for it."""

    msp_id: str
    certificate_pem: bytes
    private_key: ec.EllipticCurvePrivateKey

    def sign(self, message: bytes) -> bytes:
        return sign(self.private_key, message)

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem)
