"""endorsement_hsm.feature (H1-H6): the endorsement scenarios with a user whose private key lives in an HSM
(SoftHSM through PKCS#11). The key is made in the token, certified by Hospital1's Fabric CA from a CSR the
token signed, and signs every proposal, transaction and commit-status request from inside the token."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Iterator

import pytest
from asn1crypto import csr, keys
from asn1crypto import x509 as asn1_x509
from careledger import Wallet
from careledger_network import crypto as netcrypto
from cryptography.hazmat.primitives import serialization
from fabric_gateway import Contract, Gateway, Identity, tls_channel
from fabric_gateway.hsm import HSMSigner

from ...unit.softhsm import softhsm_token
from .conftest import ORGS, Scenarios

pytestmark = pytest.mark.network


def _certificate_request(common_name: str, public_der: bytes, sign: Callable[[bytes], bytes]) -> str:
    """A PKCS#10 request for the token's key, signed by the token (ECDSA with SHA-256)."""
    info = csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": asn1_x509.Name.build({"common_name": common_name}),
            "subject_pk_info": keys.PublicKeyInfo.load(public_der),
            "attributes": [],
        }
    )
    request = csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": sign(hashlib.sha256(info.dump()).digest()),
        }
    )
    body = base64.encodebytes(request.dump()).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"


@pytest.fixture(scope="module")
def hsm_contract(scenarios: Scenarios) -> Iterator[Callable[[], Contract]]:
    network = scenarios.network
    token = softhsm_token()
    label = f"User1-{uuid.uuid4().hex[:8]}"
    public = token.generate(label)
    public_der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    org = network.c.org("hospital1")
    ca = netcrypto.ca_client(org.ca, netcrypto.org_paths(network.state, org))
    user = f"h1-hsm-{uuid.uuid4().hex[:8]}"
    admin = Wallet(network.state / "wallets" / "hospital1").get("h1-admin")
    with HSMSigner(token.library, token_label=token.label, pin=token.pin, key_label=label) as sign:
        secret = ca.register(admin, user)
        certificate = ca.enroll_csr(user, secret, _certificate_request(user, public_der, sign))
        peer = scenarios.profile("hospital1")["peers"]["peer0-hospital1"]  # type: ignore[index]
        channel = tls_channel(peer["url"], peer["tlsCACerts"]["pem"].encode())
        with Gateway.connect(Identity(org.msp_id, certificate), channel, sign=sign) as gateway:
            yield lambda: gateway.network(network.c.channel).contract("private")


@pytest.mark.parametrize("org", ["org1", "org2", "org3"], ids=["h1-org1", "h2-org2", "h3-org3"])
def test_h1_h3_submit_signed_in_the_hsm(hsm_contract: Callable[[], Contract], org: str) -> None:
    msp = getattr(ORGS, org)
    transaction = hsm_contract().new_proposal("getPeerOrg", endorsing_organizations=[msp]).endorse()
    assert transaction.result.decode() == msp
    assert transaction.submit().status().successful


def test_h4_submit_endorsed_by_exactly_org1_and_org3(hsm_contract: Callable[[], Contract]) -> None:
    named = [ORGS.org1, ORGS.org3]
    transient = {msp: b"" for msp in named}
    assert hsm_contract().submit("checkEndorsingOrg", transient=transient, endorsing_organizations=named) == b"success"


@pytest.mark.parametrize("org", ["org1", "org2"], ids=["h5-org1", "h6-org2"])
def test_h5_h6_evaluate_signed_in_the_hsm(hsm_contract: Callable[[], Contract], org: str) -> None:
    msp = getattr(ORGS, org)
    assert hsm_contract().evaluate("getPeerOrg", endorsing_organizations=[msp]).decode() == msp
