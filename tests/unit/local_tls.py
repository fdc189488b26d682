"""Throw-away TLS for servers the unit tests start on loopback: a self-signed certificate and a free port."""

from __future__ import annotations

import datetime
import ipaddress
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(key: ec.EllipticCurvePrivateKey, common_name: str, loopback: bool = False) -> x509.Certificate:
    """A certificate for key, signed by itself, valid from a minute ago for a day; with loopback, it names
    127.0.0.1 and may serve as its own trust anchor (a client's CA file)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if loopback:
        address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
        builder = builder.add_extension(x509.SubjectAlternativeName([address]), critical=False)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return builder.sign(key, hashes.SHA256())


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_tls_pair(folder: Path, stem: str) -> tuple[Path, Path]:
    """A server certificate for 127.0.0.1 and its key, written as folder/<stem>.crt and <stem>.key (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert_path, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
    cert_path.write_bytes(pem(self_signed(key, "127.0.0.1", loopback=True)))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def certificate_pem(key: ec.EllipticCurvePrivateKey, common_name: str = "tester") -> bytes:
    """A self-signed certificate for key, as PEM: what a wallet identity needs beside its key."""
    return pem(self_signed(key, common_name))
