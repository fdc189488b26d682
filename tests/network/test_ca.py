"""The Fabric CA client against the live CAs: onboarding (flow 1), reenrollment, revocation, refusals."""

from __future__ import annotations

import json
import uuid

import pytest
from careledger import Attribute, CAClient, CAError, SigningIdentity, Wallet
from careledger.connection import connect
from careledger_chaincode.runtime import ClientIdentity
from careledger_network import crypto as netcrypto
from careledger_network.network import Network

pytestmark = pytest.mark.network


@pytest.fixture
def ca(network: Network) -> CAClient:
    org = network.c.org("hospital1")
    return netcrypto.ca_client(org.ca, netcrypto.org_paths(network.state, org))


def test_admin_onboards_a_patient_who_reaches_the_ledger(network: Network, ca: CAClient) -> None:
    wallet = Wallet(network.state / "wallets" / "hospital1")
    admin = wallet.get("h1-admin")
    new_id = f"h1-patient-{uuid.uuid4().hex[:8]}"
    secret = ca.register(admin, new_id, attributes=(Attribute("role", "patient"), Attribute("member_id", new_id)))
    enrollment = ca.enroll(new_id, secret)
    identity = SigningIdentity("Hospital1MSP", enrollment.certificate_pem, enrollment.private_key)
    attrs = ClientIdentity.from_certificate("Hospital1MSP", enrollment.certificate_pem).attributes
    assert attrs["role"] == "patient"
    assert attrs["member_id"] == new_id
    wallet.put(new_id, identity, enrollment.ca_chain_pem, passphrase=b"s3cret", extra={"role": "patient"})
    try:
        with connect(network.state / "profiles" / "hospital1.json", new_id, passphrase=b"s3cret") as gw:
            who = json.loads(
                gw.network(network.c.channel).contract(network.c.chaincode_name).evaluate_transaction("WhoAmI")
            )
        assert who["member_id"] == f"{new_id}@Hospital1MSP"

        renewed = ca.reenroll(identity)
        assert renewed.certificate_pem != enrollment.certificate_pem
        assert (
            ClientIdentity.from_certificate("Hospital1MSP", renewed.certificate_pem).attributes["member_id"] == new_id
        )

        ca.revoke(admin, new_id, reason="keycompromise")
        with pytest.raises(CAError):
            ca.enroll(new_id, secret)
        with pytest.raises(CAError):
            ca.reenroll(SigningIdentity("Hospital1MSP", renewed.certificate_pem, renewed.private_key))
    finally:
        wallet.remove(new_id)


def test_a_clinician_cannot_register_identities(network: Network, ca: CAClient) -> None:
    clinician = Wallet(network.state / "wallets" / "hospital1").get("h1-clinician-1")
    with pytest.raises(CAError) as info:
        ca.register(clinician, f"x-{uuid.uuid4().hex[:8]}")
    assert info.value.status in (401, 403)


def test_an_admin_cannot_grant_attributes_beyond_its_delegation(network: Network, ca: CAClient) -> None:
    admin = Wallet(network.state / "wallets" / "hospital1").get("h1-admin")
    with pytest.raises(CAError, match="Authorization failure"):
        ca.register(admin, f"x-{uuid.uuid4().hex[:8]}", attributes=(Attribute("hf.Revoker", "true"),))


def test_wrong_secret_is_refused(ca: CAClient) -> None:
    with pytest.raises(CAError) as info:
        ca.enroll("h1-patient-1", "not-the-secret")
    assert info.value.status == 401
