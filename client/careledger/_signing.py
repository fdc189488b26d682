"""ECDSA P-256 keys for Fabric identities: new keys, PEM, CSRs, and signing (SHA-256, by fabric_gateway)."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fabric_gateway import signers


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def sign_digest(key: ec.EllipticCurvePrivateKey, digest: bytes) -> bytes:
    """Sign a SHA-256 digest as Fabric verifies it (DER, S in the lower half): fabric_gateway's signer."""
    return signers.ecdsa(key)(digest)


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


def subject_alternative_names(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    """A certificate's names for its hosts: IP addresses as addresses, anything else as a DNS name."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def csr_pem(key: ec.EllipticCurvePrivateKey, common_name: str, hosts: tuple[str, ...] = ()) -> str:
    """A certificate signing request; the CA fills in the rest of the subject from its own config."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    if hosts:
        builder = builder.add_extension(subject_alternative_names(hosts), critical=False)
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
