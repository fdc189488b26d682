"""Fabric CAs and every identity of the network, enrolled through them.

Per organization (folder <state>/crypto/<org>/):
    ca/                       fabric-ca-server home (root CA key and cert, its TLS cert, database)
    msp/                      the org's verifying MSP, used in the channel configuration
    nodes/<node>/msp, tls/    each peer's or orderer's local MSP and TLS key pair
    chaincode/                TLS server pair of the org's chaincode server, and the peer's client pair
Wallets (folder <state>/wallets/<org>/<id>/) hold the admin's and every demo user's identity.
"""

from __future__ import annotations

import datetime
import json
import secrets
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from careledger import (
    Attribute,
    CAClient,
    Enrollment,
    SigningIdentity,
    Wallet,
    load_private_key,
    new_private_key,
    private_key_pem,
    subject_alternative_names,
    write_atomic,
    write_msp,
)
from careledger.errors import CAError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .consortium import CA, LOOPBACK_NAMES, Consortium, Org
from .paths import Fabric

# Identities whose certificates carry this organizational unit may read raw blocks (block_access.py):
# auditors, and each organization's event reader, the service identity its apps stream events with.
BLOCK_READER_AFFILIATION = "blockreader"
EVENT_READER = "event-reader"


def affiliation_for(role: str) -> str:
    return BLOCK_READER_AFFILIATION if role in ("auditor", "service") else ""


BOOTSTRAP_ID = "caadmin"


@dataclass(frozen=True)
class OrgPaths:
    root: Path

    @property
    def ca_home(self) -> Path:
        return self.root / "ca"

    @property
    def ca_tls_cert(self) -> Path:
        return self.ca_home / "tls-cert.pem"

    @property
    def ca_cert(self) -> Path:
        return self.ca_home / "ca-cert.pem"

    @property
    def msp(self) -> Path:
        return self.root / "msp"

    def node(self, name: str) -> Path:
        return self.root / "nodes" / name

    @property
    def chaincode(self) -> Path:
        return self.root / "chaincode"

    @property
    def store(self) -> Path:
        return self.root / "store"


def org_paths(state: Path, org: Org) -> OrgPaths:
    return OrgPaths(state / "crypto" / org.key)


def wallet(state: Path, org: Org) -> Wallet:
    return Wallet(state / "wallets" / org.key)


# -- CA servers ---------------------------------------------------------------------------------------
def init_ca(fabric: Fabric, ca: CA, paths: OrgPaths, hosts: tuple[str, ...] = LOOPBACK_NAMES) -> None:
    """Create the CA's root key and certificate (fabric-ca-server init) and its TLS server certificate,
    which names `hosts` (the org's Org.tls_hosts)."""
    if not paths.ca_cert.exists():
        _init_ca_home(fabric, ca, paths, hosts)
    if not paths.ca_tls_cert.exists():
        _issue_ca_tls_certificate(paths, ca, hosts)


def _init_ca_home(fabric: Fabric, ca: CA, paths: OrgPaths, hosts: tuple[str, ...]) -> None:
    paths.ca_home.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    write_atomic(
        paths.ca_home / "bootstrap.json",
        json.dumps({"id": BOOTSTRAP_ID, "secret": password}).encode(),
        mode=0o600,
    )
    result = subprocess.run(
        [
            fabric.bin("fabric-ca-server"),
            "init",
            "--home",
            str(paths.ca_home),
            "-b",
            f"{BOOTSTRAP_ID}:{password}",
            "--ca.name",
            ca.name,
            "--csr.cn",
            ca.name,
            "--csr.hosts",
            ",".join(hosts),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"fabric-ca-server init for {ca.name} failed:\n{result.stderr[-2000:]}")


def _issue_ca_tls_certificate(paths: OrgPaths, ca: CA, hosts: tuple[str, ...]) -> None:
    """The CA's own HTTPS (and operations) certificate, signed by the CA's root key.

    fabric-ca-server can auto-generate this, but then the key sits in its BCCSP keystore under a name
    we cannot point the operations endpoint at; signing it here gives both endpoints the same pair.
    """
    ca_cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    ca_key = None
    for candidate in (paths.ca_home / "msp" / "keystore").glob("*_sk"):
        key = load_private_key(candidate.read_bytes())
        if key.public_key().public_numbers() == ca_cert.public_key().public_numbers():  # type: ignore[union-attr]
            ca_key = key
    if ca_key is None:
        raise RuntimeError(f"cannot find the CA key of {paths.ca_home}")
    ca_public_key = ca_cert.public_key()
    if not isinstance(ca_public_key, ec.EllipticCurvePublicKey):
        raise RuntimeError(f"{paths.ca_cert} is not an EC certificate; Fabric CA makes P-256 roots")
    tls_key = new_private_key()
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{ca.name}-tls")]))
        .issuer_name(ca_cert.subject)
        .public_key(tls_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(subject_alternative_names(hosts), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.KeyUsage(True, True, False, True, False, False, False, False, False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public_key), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_atomic(paths.ca_tls_cert, cert.public_bytes(serialization.Encoding.PEM))
    write_atomic(paths.ca_home / "tls-key.pem", private_key_pem(tls_key), mode=0o600)


def ca_command(fabric: Fabric, ca: CA, paths: OrgPaths) -> tuple[list[str], dict[str, str]]:
    command = [
        fabric.bin("fabric-ca-server"),
        "start",
        "--home",
        str(paths.ca_home),
        "--address",
        ca.host,
        "--port",
        str(ca.port),
        "--ca.name",
        ca.name,
        "--tls.enabled",
        "--tls.certfile",
        str(paths.ca_tls_cert),
        "--tls.keyfile",
        str(paths.ca_home / "tls-key.pem"),
    ]
    env = {
        "FABRIC_CA_SERVER_OPERATIONS_LISTENADDRESS": f"{ca.host}:{ca.operations_port}",
        "FABRIC_CA_SERVER_OPERATIONS_TLS_ENABLED": "true",
        "FABRIC_CA_SERVER_OPERATIONS_TLS_CERT_FILE": str(paths.ca_tls_cert),
        "FABRIC_CA_SERVER_OPERATIONS_TLS_KEY_FILE": str(paths.ca_home / "tls-key.pem"),
        "FABRIC_CA_SERVER_METRICS_PROVIDER": "prometheus",
    }
    return command, env


def ca_client(ca: CA, paths: OrgPaths) -> CAClient:
    return CAClient(url=ca.url, tls_root_pem=paths.ca_cert.read_bytes(), ca_name=ca.name)


# -- identities ---------------------------------------------------------------------------------------
def _identity(msp_id: str, enrollment: Enrollment) -> SigningIdentity:
    return SigningIdentity(
        msp_id=msp_id, certificate_pem=enrollment.certificate_pem, private_key=enrollment.private_key
    )


def _write_tls(directory: Path, enrollment: Enrollment, cert_name: str = "server") -> None:
    write_atomic(directory / f"{cert_name}.crt", enrollment.certificate_pem)
    write_atomic(directory / f"{cert_name}.key", private_key_pem(enrollment.private_key), mode=0o600)
    write_atomic(directory / "ca.crt", enrollment.ca_chain_pem)


class _Registrar:
    """Registers identities with secrets we choose and keep (0600), so an interrupted run can resume."""

    def __init__(self, client: CAClient, registrar: SigningIdentity, secrets_file: Path) -> None:
        self.client = client
        self.registrar = registrar
        self.secrets_file = secrets_file
        self.secrets: dict[str, str] = json.loads(secrets_file.read_text()) if secrets_file.exists() else {}

    def secret(
        self, enrollment_id: str, id_type: str, attributes: tuple[Attribute, ...] = (), affiliation: str = ""
    ) -> str:
        if enrollment_id not in self.secrets:
            self.secrets[enrollment_id] = secrets.token_urlsafe(18)
            write_atomic(self.secrets_file, json.dumps(self.secrets, sort_keys=True).encode(), mode=0o600)
            try:
                self.client.register(
                    self.registrar,
                    enrollment_id,
                    secret=self.secrets[enrollment_id],
                    id_type=id_type,
                    attributes=attributes,
                    affiliation=affiliation,
                )
            except CAError as exc:
                if "already registered" not in str(exc):
                    raise
        return self.secrets[enrollment_id]


def enroll_org(consortium: Consortium, org: Org, state: Path, is_orderer_org: bool) -> None:
    """Register and enroll every identity of one org; what already exists is kept."""
    paths = org_paths(state, org)
    client = ca_client(org.ca, paths)
    hosts = org.tls_hosts
    boot = json.loads((paths.ca_home / "bootstrap.json").read_text())
    registrar = _Registrar(
        client,
        _identity(org.msp_id, client.enroll(boot["id"], boot["secret"])),
        paths.ca_home / "secrets.json",
    )
    ca_pem = paths.ca_cert.read_bytes()
    write_msp(paths.msp, org.msp_id, b"", None, ca_pem, tls_ca_pem=ca_pem)
    client.add_affiliation(registrar.registrar, BLOCK_READER_AFFILIATION)

    def enroll_node(name: str, node_type: str) -> None:
        node_dir = paths.node(name)
        if (node_dir / "tls" / "server.key").exists():
            return
        secret = registrar.secret(name, node_type)
        signing = client.enroll(name, secret)
        write_msp(node_dir, org.msp_id, signing.certificate_pem, private_key_pem(signing.private_key), ca_pem)
        _write_tls(node_dir / "tls", client.enroll(name, secret, hosts=hosts, profile="tls"))

    for orderer in consortium.orderers_of(org):  # the orderer org's, and under BFT an application org's too
        enroll_node(orderer.name, "orderer")
    if not is_orderer_org:
        for peer in org.peers:
            enroll_node(peer.name, "peer")
        if not (paths.chaincode / "client.key").exists():
            secret = registrar.secret(f"ccaas-{org.key}", "client")
            for pair in ("server", "client"):
                _write_tls(
                    paths.chaincode,
                    client.enroll(f"ccaas-{org.key}", secret, hosts=hosts, profile="tls"),
                    pair,
                )

    if org.app_port and not (paths.root / "app" / "server.key").exists():
        secret = registrar.secret(f"app-{org.key}", "client")
        _write_tls(paths.root / "app", client.enroll(f"app-{org.key}", secret, hosts=hosts, profile="tls"), "server")
    if org.store_port and not (paths.store / "server.key").exists():
        secret = registrar.secret(f"store-{org.key}", "client")
        _write_tls(paths.store, client.enroll(f"store-{org.key}", secret, hosts=hosts, profile="tls"), "server")

    store = wallet(state, org)
    if not (store.path(org.admin) / "tls" / "client.key").exists():
        admin_attrs = (
            Attribute("role", "admin"),
            Attribute("member_id", org.admin),
            Attribute("hf.Registrar.Roles", "client"),
            Attribute("hf.Registrar.Attributes", "role,member_id"),
            Attribute("hf.Revoker", "true"),
            Attribute("hf.GenCRL", "true"),  # to republish the CRL on the channel (`careledger-network revoke`)
        )
        secret = registrar.secret(org.admin, "admin", admin_attrs)
        admin = client.enroll(org.admin, secret)
        admin_dir = store.put(org.admin, _identity(org.msp_id, admin), ca_pem, extra={"role": "admin"})
        _write_tls(admin_dir / "tls", client.enroll(org.admin, secret, hosts=hosts, profile="tls"), "client")
    people = [(u.id, u.role) for u in org.users] + ([] if is_orderer_org else [(EVENT_READER, "service")])
    for user_id, role in people:
        if user_id in store.labels():
            continue
        attributes = (Attribute("role", role), Attribute("member_id", user_id))
        secret = registrar.secret(user_id, "client", attributes, affiliation_for(role))
        store.put(user_id, _identity(org.msp_id, client.enroll(user_id, secret)), ca_pem, extra={"role": role})


def enroll_all(consortium: Consortium, state: Path, orgs: tuple[Org, ...] | None = None) -> None:
    """Enroll the identities of `orgs` (default: every organization), each through its own CA."""
    keys = None if orgs is None else {o.key for o in orgs}
    jobs = [(consortium.orderer_org, True)] + [(org, False) for org in consortium.orgs]
    jobs = [(org, is_oo) for org, is_oo in jobs if keys is None or org.key in keys]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for future in [pool.submit(enroll_org, consortium, org, state, is_oo) for org, is_oo in jobs]:
            future.result()


def enroll_user(state: Path, org: Org, user_id: str, role: str, passphrase: bytes | None = None) -> None:
    """Onboard one person: the org admin registers them (role, member_id attributes) with the org's CA,
    they enroll with a key made here, and the identity goes into the org's wallet (encrypted when a
    passphrase is given). Skipped when the wallet already has them."""
    store = wallet(state, org)
    if user_id in store.labels():
        return
    paths = org_paths(state, org)
    client = ca_client(org.ca, paths)
    admin = store.get(org.admin)
    attributes = (Attribute("role", role), Attribute("member_id", user_id))
    secret = client.register(admin, user_id, attributes=attributes, affiliation=affiliation_for(role))
    enrollment = client.enroll(user_id, secret)
    identity = _identity(org.msp_id, enrollment)
    store.put(user_id, identity, enrollment.ca_chain_pem, passphrase=passphrase, extra={"role": role})
