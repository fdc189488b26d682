"""Per-organization bundles of a multi-host consortium: each holds what its org needs and no other org's
private key. Builds real crypto with the Fabric CA binaries (every CA on loopback for a few seconds)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
import yaml
from careledger_network import generate
from careledger_network.bundle import MANIFEST, Manifest, open_bundle, verify, write_bundle
from careledger_network.consortium import DEFAULT_PATH, Consortium, Org, load
from careledger_network.network import Network
from careledger_network.paths import SetupError, fabric_paths
from cryptography import x509
from cryptography.hazmat.primitives import serialization

HOSTS = {  # org key -> (host, address): one a name with an address, the others bare addresses
    "ordererorg": ("orderer.careledger.test", "10.231.0.10"),
    "hospital1": ("10.231.0.11", ""),
    "hospital2": ("10.231.0.12", ""),
    "healthauthority": ("10.231.0.13", ""),
}
# Secrets that are not PEM: Fabric CA's idemix keys and the enrollment secrets we keep.
CA_SECRETS = ("IssuerSecretKey", "IssuerRevocationPrivateKey", "bootstrap.json", "secrets.json")
_PEM_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.S)
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)

pytestmark = pytest.mark.skipif(bool(fabric_paths().missing()), reason="Fabric binaries not installed (make fabric)")


def _definition(tmp: Path) -> Path:
    doc = yaml.safe_load(DEFAULT_PATH.read_text())
    doc["orderer_org"].update(port_base=23000, host=HOSTS["ordererorg"][0], address=HOSTS["ordererorg"][1])
    for i, org in enumerate(doc["orgs"]):
        org.update(port_base=23100 + 100 * i, host=HOSTS[org["name"].lower()][0])
    path = tmp / "consortium.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Consortium, Path, Path, dict[str, Path]]:
    tmp = tmp_path_factory.mktemp("multihost")
    definition = _definition(tmp)
    c = load(definition)
    state = tmp / "state"
    Network(c, state, echo=lambda line: None).generate()
    bundles = {}
    for org in (c.orderer_org, *c.orgs):
        bundles[org.key] = tmp / "bundles" / org.key
        write_bundle(c, definition, state, org.key, bundles[org.key])
    return c, definition, state, bundles


def _private_keys(data: bytes) -> list[bytes]:
    """The public keys (SubjectPublicKeyInfo DER) of every PEM private key in `data`."""
    keys = []
    for block in _PEM_KEY.findall(data):
        try:
            key = serialization.load_pem_private_key(block, password=None)
        except ValueError:  # Fabric CA's idemix revocation key: SEC1 (P-384) under a PKCS#8 label
            key = serialization.load_pem_private_key(block.replace(b" PRIVATE KEY", b" EC PRIVATE KEY"), None)
        keys.append(
            key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    return keys


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _owned_public_keys(state: Path, org: Org) -> set[bytes]:
    """Public keys of every private key the org holds in the full state folder (its crypto folder and wallet)."""
    roots = [state / "crypto" / org.key, state / "wallets" / org.key]
    return {k for root in roots for f in _files(root) for k in _private_keys(f.read_bytes())}


def test_no_bundle_holds_another_organizations_private_key(
    generated: tuple[Consortium, Path, Path, dict[str, Path]],
) -> None:
    c, _, state, bundles = generated
    orgs = (c.orderer_org, *c.orgs)
    owned = {org.key: _owned_public_keys(state, org) for org in orgs}
    assert all(owned.values())
    for org in orgs:
        others = set().union(*(keys for key, keys in owned.items() if key != org.key))
        found: set[bytes] = set()
        for f in _files(bundles[org.key]):
            keys = set(_private_keys(f.read_bytes()))
            assert not keys & others, f"{f} holds another organization's private key"
            found |= keys
            if f.name in CA_SECRETS or f.name.endswith("_sk"):
                assert f.relative_to(bundles[org.key]).parts[:2] == ("crypto", org.key), f"{f} is another org's secret"
            # A certificate's key is fine to hold, a private key of one is not: check the certificates too.
            for block in _PEM_CERT.findall(f.read_bytes()):
                x509.load_pem_x509_certificate(block)
        assert found == owned[org.key], f"the bundle of {org.name} lacks some of its own keys"
        assert not (bundles[org.key] / "wallets").exists() or {
            p.name for p in (bundles[org.key] / "wallets").iterdir()
        } == {org.key}


def test_each_bundle_holds_what_its_org_needs(generated: tuple[Consortium, Path, Path, dict[str, Path]]) -> None:
    c, definition, _, bundles = generated
    for org in (c.orderer_org, *c.orgs):
        root = bundles[org.key]
        _, bundled_org, manifest = open_bundle(root)
        assert bundled_org.key == org.key
        assert manifest.channel == c.channel
        verify(root, manifest)
        own = root / "crypto" / org.key
        assert (own / "ca" / "tls-key.pem").exists()
        assert list((own / "ca" / "msp" / "keystore").glob("*_sk"))
        nodes = [p.name for p in org.peers] + [o.name for o in c.orderers_of(org)]
        for node in nodes:
            assert (own / "nodes" / node / "tls" / "server.key").exists()
            assert (own / "nodes" / node / "msp" / "keystore" / "key.pem").exists()
        assert (root / "wallets" / org.key / org.admin / "msp" / "keystore" / "key.pem").exists()
        for other in (c.orderer_org, *c.orgs):
            assert (root / "crypto" / other.key / "ca" / "ca-cert.pem").exists()
            assert (root / "crypto" / other.key / "msp" / "msp" / "tlscacerts" / "tlsca.pem").exists()
        genesis = root / "configtx" / f"{c.channel}.block"
        assert genesis.exists() == (org.key == c.orderer_org.key)
        if org.peers:
            assert (own / "chaincode" / "server.key").exists()
            assert (own / "chaincode" / "client.key").exists()
        if org.store_port:
            assert (own / "store" / "server.key").exists()
        assert set(manifest.files) == {str(f.relative_to(root)) for f in _files(root)} - {MANIFEST}
        assert Manifest.read(root).consortium_sha256 == manifest.consortium_sha256
        assert (root / "consortium.yaml").read_bytes() == definition.read_bytes()


def test_tls_certificates_name_the_org_host_and_loopback(
    generated: tuple[Consortium, Path, Path, dict[str, Path]],
) -> None:
    c, _, _, bundles = generated
    for org in (c.orderer_org, *c.orgs):
        own = bundles[org.key] / "crypto" / org.key
        host, address = HOSTS[org.key]
        certs = [own / "ca" / "tls-cert.pem"] + [
            own / "nodes" / n.name / "tls" / "server.crt" for n in (*org.peers, *c.orderers_of(org))
        ]
        for cert_file in certs:
            sans = (
                x509.load_pem_x509_certificate(cert_file.read_bytes())
                .extensions.get_extension_for_class(x509.SubjectAlternativeName)
                .value
            )
            ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
            names = set(sans.get_values_for_type(x509.DNSName))
            assert {"127.0.0.1"} <= ips, cert_file
            assert {"localhost"} <= names, cert_file
            if address:
                assert {address} <= ips, cert_file
                assert {host} <= names, cert_file
            else:
                assert {str(ipaddress.ip_address(host))} <= ips, cert_file


def test_bundles_name_no_path_of_the_generating_machine(
    generated: tuple[Consortium, Path, Path, dict[str, Path]],
) -> None:
    _, _, state, bundles = generated
    for root in bundles.values():
        for f in _files(root):
            assert str(state).encode() not in f.read_bytes(), f"{f} names the generating machine's {state}"


def test_configs_written_on_the_host_use_its_bundle_and_the_org_host(
    generated: tuple[Consortium, Path, Path, dict[str, Path]],
) -> None:
    c, _, _, bundles = generated
    org = c.org("hospital2")
    root = bundles[org.key]
    peer = org.peers[0]
    core = yaml.safe_load(generate.write_peer_config(c, fabric_paths(), root, org, peer).read_text())
    assert core["peer"]["address"] == f"10.231.0.12:{peer.port}"
    assert core["peer"]["mspConfigPath"].startswith(str(root))
    package, _ = generate.chaincode_package(c, root, org, 1)
    assert package.is_relative_to(root)
    profile = generate.write_connection_profile(c, root, org).read_text()
    assert f"grpcs://10.231.0.11:{c.org('hospital1').peers[0].port}" in profile
    assert f"grpcs://orderer.careledger.test:{c.orderers[0].port}" in profile


def test_a_changed_public_certificate_is_refused(
    generated: tuple[Consortium, Path, Path, dict[str, Path]], tmp_path: Path
) -> None:
    c, definition, state, _ = generated
    root = tmp_path / "h1"
    manifest = write_bundle(c, definition, state, "hospital1", root)
    (root / "crypto" / "hospital2" / "ca" / "ca-cert.pem").write_text("not the certificate")
    with pytest.raises(SetupError, match=r"crypto/hospital2/ca/ca-cert\.pem"):
        verify(root, manifest)
    with pytest.raises(SetupError, match="not empty"):
        write_bundle(c, definition, state, "hospital1", root)
