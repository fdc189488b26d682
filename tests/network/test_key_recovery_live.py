"""Key recovery on the live network: a patient of Hospital1 who lost their wallet is enrolled again by the
hospital's admin (a new certificate carrying the same member id), registers a new key from it, and Hospital1's
system re-wraps what the patient held. The patient opens their record with the new key, the old key is marked
compromised, the recovery is completed, and the Hospital2 clinician the patient had granted still opens it."""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path

import pytest
from careledger import Attribute, SigningIdentity
from careledger.services import OpenedRecord, Session
from careledger_network import crypto as netcrypto
from careledger_network.network import Network

from .conftest import eventually
from .resources import observation

pytestmark = pytest.mark.network

OBSERVATION = observation("Ferritin", 41.0, "ng/mL")


def _until(days: int) -> str:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _enroll_again(network: Network, member: str, label: str) -> None:
    """What Hospital1's admin has its CA do once the person's identity is proved: a new certificate carrying the
    same member id, under a new enrollment id (the first one's key went with the lost wallet), kept in the wallet
    under `label`."""
    org = network.c.org("hospital1")
    wallet = netcrypto.wallet(network.state, org)
    ca = netcrypto.ca_client(org.ca, netcrypto.org_paths(network.state, org))
    attributes = (Attribute("role", "patient"), Attribute("member_id", member))
    secret = ca.register(wallet.get(org.admin), label, attributes=attributes)
    enrollment = ca.enroll(label, secret)
    identity = SigningIdentity(org.msp_id, enrollment.certificate_pem, enrollment.private_key)
    wallet.put(label, identity, enrollment.ca_chain_pem, extra={"role": "patient"})


def test_a_patient_who_lost_their_wallet_opens_their_record_with_a_new_key(network: Network) -> None:
    profile: Path = network.state / "profiles" / "hospital1.json"
    org = network.c.org("hospital1")
    user = f"h1-lostkey-{uuid.uuid4().hex[:6]}"
    patient_id, recovered = f"{user}@Hospital1MSP", f"{user}-recovered"
    netcrypto.enroll_user(network.state, org, user, "patient")
    try:
        with (
            Session.open(profile, "h1-admin", org_key_from="h1-admin") as admin,  # the hospital's system
            Session.open(profile, "h1-clinician-1") as dr_h1,
            Session.open(network.state / "profiles" / "hospital2.json", "h2-clinician-1") as dr_h2,
        ):
            for session in (admin, dr_h1, dr_h2):
                session.register()  # no-ops when registered already
            with Session.open(profile, user) as lost:
                lost.register()
                old_kid = lost.member(patient_id)["public_key"]["kid"]
                record = dr_h1.create_record(user, OBSERVATION, category="laboratory")
                grant = lost.grant(dr_h2.member_id(), ["treatment"], _until(30), [record["id"]])

            # The wallet is lost. The admin proves who the patient is, has the CA enroll them again, and opens the
            # recovery naming the new certificate, which the patient reads from the new wallet.
            _enroll_again(network, user, recovered)
            with Session.open(profile, recovered) as patient:
                assert patient.member_id() == patient_id
                opened = admin.open_key_recovery(user, patient.certificate_sha256(), "in-person")
                assert (opened["status"], opened["compromised_kid"]) == ("awaiting-key", old_kid)
                registered = patient.register_recovered_key()
                assert registered["status"] == "rewrapping"
                assert registered["custodians"] == {"Hospital1MSP": {"to_rewrap": 1, "rewrapped": 0}}

                admin.rewrap_pending_recoveries()  # what the hospital app's key jobs run each round

                recovery = patient.key_recovery()
                assert recovery is not None
                assert recovery["status"] == "completed"
                assert recovery["custodians"]["Hospital1MSP"] == {"to_rewrap": 1, "rewrapped": 1}
                member = patient.member(patient_id)
                assert member["public_key"]["kid"] == registered["new_kid"] != old_kid
                assert [k["kid"] for k in member.get("compromised_keys", [])] == [old_kid]
                [mine] = patient.open_records([record["id"]])  # with the new key
                assert isinstance(mine, OpenedRecord), mine
                assert mine.resource["valueQuantity"]["value"] == 41.0

            # Nothing changed for whom the patient had granted: the clinician's own key still opens the record.
            eventually(lambda: grant["id"] in {g["id"] for g in dr_h2.grants_to_me()}, "the grant reaches Hospital2")
            [theirs] = dr_h2.open_records([record["id"]], "treatment")
            assert isinstance(theirs, OpenedRecord), theirs
    finally:
        wallet = netcrypto.wallet(network.state, org)
        for label in (user, recovered):
            if label in wallet.labels():
                wallet.remove(label)
