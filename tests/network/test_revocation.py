"""A revoked certificate is refused by the peers, not just by the CA: `careledger-network revoke` puts the
CA's CRL into the org's MSP definition on the channel, and every peer then refuses and logs the identity."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from careledger.connection import connect
from careledger.errors import EndorseError, GatewayError
from careledger.services import Session
from careledger_network import crypto
from careledger_network.network import Network, NetworkError
from careledger_network.revocation import revoked_serials
from cryptography import x509

pytestmark = [pytest.mark.network, pytest.mark.slow]


def _who_am_i(network: Network, user: str) -> dict[str, str]:
    with connect(network.state / "profiles" / "hospital1.json", user) as gw:
        contract = gw.network(network.c.channel).contract(network.c.chaincode_name)
        who: dict[str, str] = json.loads(contract.evaluate_transaction("WhoAmI"))
        return who


def _refusals_logged(network: Network) -> int:
    log = Path(network.table.load()["peer0-hospital1"].log)
    return log.read_text(errors="replace").count("has been revoked")


def test_a_revoked_certificate_is_refused_by_every_peer(network: Network) -> None:
    org = network.c.org("hospital1")
    user = f"h1-revoked-{uuid.uuid4().hex[:6]}"
    crypto.enroll_user(network.state, org, user, "clinician")
    try:
        assert _who_am_i(network, user)["member_id"] == f"{user}@Hospital1MSP"
        logged_before = _refusals_logged(network)

        number = network.revoke("hospital1", user, "keycompromise")

        # The CRL is in the channel's definition of Hospital1MSP and lists the user's certificate.
        _, config = network.channel_config(org)
        certificate = x509.load_pem_x509_certificate(crypto.wallet(network.state, org).get(user).certificate_pem)
        assert certificate.serial_number in revoked_serials(config, org.msp_id)
        assert number > 0

        with pytest.raises(GatewayError) as evaluated:
            _who_am_i(network, user)
        assert "access denied" in str(evaluated.value)
        with connect(network.state / "profiles" / "hospital1.json", user) as gw:
            contract = gw.network(network.c.channel).contract(network.c.chaincode_name)
            with pytest.raises(EndorseError) as endorsed:
                contract.submit_transaction("RegisterMember", "{}")
        assert endorsed.value.transaction_id
        assert _refusals_logged(network) >= logged_before + 2  # each refusal is in the peer's log

        # Everyone else of the org still works.
        assert _who_am_i(network, "h1-clinician-1")["member_id"] == "h1-clinician-1@Hospital1MSP"
    finally:
        crypto.wallet(network.state, org).remove(user)


def test_revoking_an_unknown_identity_says_so(network: Network) -> None:
    with pytest.raises(NetworkError, match="did not revoke 'nobody-"):
        network.revoke("hospital1", f"nobody-{uuid.uuid4().hex[:6]}")


def test_a_clinician_revoked_for_leaving_is_never_keyed_again(network: Network) -> None:
    """Revoking for `affiliationchange` marks the member's encryption key compromised on the ledger too: the
    patient's category grant to them stays, but new records are no longer keyed for them (issue 21)."""
    org = network.c.org("hospital1")
    leaver = f"h1-leaver-{uuid.uuid4().hex[:6]}"
    crypto.enroll_user(network.state, org, leaver, "clinician")
    profile = network.state / "profiles" / "hospital1.json"
    try:
        with Session.open(profile, leaver) as session:
            session.register()
            leaver_id = session.member_id()
        with Session.open(profile, "h1-patient-1") as patient, Session.open(profile, "h1-clinician-1") as clinician:
            patient.register()
            clinician.register()
            patient.grant(leaver_id, ["treatment"], "2099-01-01T00:00:00Z", categories=["vital-signs"])
            assert leaver_id in _keyed_for(network, patient.member_id(), "vital-signs")

            network.revoke("hospital1", leaver, "affiliationchange")

            assert clinician.member(leaver_id).get("compromised_keys")
            assert leaver_id not in _keyed_for(network, patient.member_id(), "vital-signs")
    finally:
        crypto.wallet(network.state, org).remove(leaver)


def _keyed_for(network: Network, patient_id: str, category: str) -> list[str]:
    """Whom a new record of the patient in the category is keyed for (as Hospital1's clinician sees it)."""
    with connect(network.state / "profiles" / "hospital1.json", "h1-clinician-1") as gw:
        contract = gw.network(network.c.channel).contract(network.c.chaincode_name)
        recipients: list[dict[str, Any]] = json.loads(
            contract.evaluate_transaction("GetNewRecordRecipients", patient_id, category)
        )
        return [r["id"] for r in recipients]
