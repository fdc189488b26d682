"""The S3 API server a hospital's record store replicates to when consortium.yaml says `replica: s3proxy`:
S3Proxy (a Java S3 server, fetched by `make s3proxy`) run by the network on the organization's own host.

Its folder is `<state>/replicas/<org>/`: the bucket (the filesystem provider keeps each bucket as a folder),
its access key and a random secret made on first start (kept only there, mode 0600: the store reads them as
a boto3 credentials file), S3Proxy's properties and its TLS keystore. It serves HTTPS only, on the org's host
at port base + 9, with the org's store certificate.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from careledger import write_atomic
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, load_pem_private_key, pkcs12

from . import crypto
from .consortium import Org
from .consortium_stores import StoreReplica
from .errors import NetworkError
from .s3proxy import JAR, S3ProxyUnavailable, ensure_jar, java
from .specs import ProcessSpec

ACCESS_KEY = "careledger-store"


@dataclass(frozen=True)
class ReplicaServerFolder:
    root: Path

    @property
    def buckets(self) -> Path:
        return self.root / "buckets"

    @property
    def credentials(self) -> Path:
        return self.root / "credentials"

    @property
    def properties(self) -> Path:
        return self.root / "s3proxy.properties"

    @property
    def keystore(self) -> Path:
        return self.root / "tls.p12"


def replica_folder(state: Path, org: Org) -> ReplicaServerFolder:
    return ReplicaServerFolder(state / "replicas" / org.key)


def _served(org: Org) -> StoreReplica:
    if org.store_replica is None or not org.store_replica.served_by_network:
        raise NetworkError(
            f"{org.name}'s record store has no replica the network serves (record_store: {{replica: s3proxy}})"
        )
    return org.store_replica


def prepare(state: Path, org: Org) -> ReplicaServerFolder:
    """The folder, the bucket and the secrets (made once; kept across restarts, so the bucket stays readable)."""
    replica = _served(org)
    folder = replica_folder(state, org)
    (folder.buckets / replica.bucket).mkdir(parents=True, exist_ok=True)
    if not folder.credentials.exists():
        secret = secrets.token_urlsafe(32)
        credentials = f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {secret}\n"
        write_atomic(folder.credentials, credentials.encode(), mode=0o600)
    secret = _secret(folder.credentials)
    # TLS like every other endpoint: the org's store certificate (it names the org's host), in a PKCS#12
    # keystore for Jetty; the store trusts it through the org's CA (AWS_CA_BUNDLE, store_places.py).
    tls = crypto.org_paths(state, org).store
    key = load_pem_private_key((tls / "server.key").read_bytes(), password=None)
    certificate = x509.load_pem_x509_certificate((tls / "server.crt").read_bytes())
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise NetworkError(f"{tls / 'server.key'} is not an EC key: regenerate {org.name}'s store TLS pair")
    keystore = pkcs12.serialize_key_and_certificates(
        b"replica", key, certificate, None, BestAvailableEncryption(secret.encode())
    )
    write_atomic(folder.keystore, keystore, mode=0o600)
    properties = (
        f"s3proxy.secure-endpoint=https://{org.host}:{replica.server_port}\n"
        f"s3proxy.keystore-path={folder.keystore}\ns3proxy.keystore-password={secret}\n"
        "s3proxy.authorization=aws-v2-or-v4\n"
        f"s3proxy.identity={ACCESS_KEY}\ns3proxy.credential={secret}\n"
        "jclouds.provider=filesystem\n"
        f"jclouds.filesystem.basedir={folder.buckets}\n"
        f"jclouds.identity={ACCESS_KEY}\njclouds.credential={secret}\n"
    )
    write_atomic(folder.properties, properties.encode(), mode=0o600)
    return folder


def _secret(credentials: Path) -> str:
    for line in credentials.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.strip() == "aws_secret_access_key":
            return value.strip()
    raise NetworkError(f"{credentials} has no aws_secret_access_key: delete it to make a new one")


def make_ready(state: Path, orgs: list[Org]) -> None:
    """Java and the jar (fetched once, its SHA-256 checked once per call), then each org's folder with its
    bucket and secrets: before those servers start."""
    names = " and ".join(org.name for org in orgs)
    if java() is None:
        raise NetworkError(f"the record stores of {names} replicate to S3Proxy, which needs Java: install a JRE 17")
    try:
        ensure_jar()
    except S3ProxyUnavailable as exc:
        raise NetworkError(f"record-store replicas of {names}: {exc} (`make s3proxy` fetches it)") from None
    for org in orgs:
        prepare(state, org)


def replica_server_spec(state: Path, org: Org) -> ProcessSpec:
    replica = _served(org)
    folder = replica_folder(state, org)
    # A light JVM: the serial collector and the quick compiler start in half the CPU on these 2 cores; S3Proxy
    # moves blobs, it does not compute.
    return ProcessSpec(
        name=f"replica-{org.key}",
        command=[
            java() or "java",
            "-Xmx192m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-jar",
            str(JAR),
            "--properties",
            str(folder.properties),
        ],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        ports=[replica.server_port],
        health_url="",  # healthy once it accepts connections (S3Proxy has no health endpoint)
        ca_file=None,
        host=org.host,
    )
