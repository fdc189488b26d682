"""`make chaincode-upgrade` on a ledger written by the previous chaincode: the chaincode servers are swapped
for the previous code (from git), which writes real records, keys, a grant and access events in its layout;
then the network's own servers come back and the upgrade migrates the state. Every flow works after, and
the old audit events are still there."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import pytest
from careledger import crypto as ccrypto
from careledger import fhir
from careledger.services import OpenedRecord, Session
from careledger_network import crypto
from careledger_network.network import Network

from ..previous_chaincode import extract_previous_chaincode
from .conftest import grant_seen
from .resources import observation

pytestmark = [pytest.mark.network, pytest.mark.slow]

OBSERVATION = observation("Creatinine", 0.9, "mg/dL")


def _run_previous(network: Network, code: Path) -> list[str]:
    names = []
    for spec in network._chaincode_specs():
        network.table.stop(spec.name)
        name = f"{spec.name}-previous"
        log = network.state / "logs" / f"{name}.log"
        offset = log.stat().st_size if log.exists() else 0
        command = [sys.executable, "-m", network.c.chaincode_server_module]
        network.table.start(name, command, {**spec.env, "PYTHONPATH": str(code)}, ports=spec.ports)
        deadline = time.monotonic() + 30
        while "serving" not in (log.read_text() if log.exists() else "")[offset:]:
            assert time.monotonic() < deadline, "the previous chaincode server did not start"
            time.sleep(0.1)
        names.append(name)
    return names


def test_upgrade_migrates_a_ledger_of_the_previous_layout(network: Network, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:6]
    h1, h2 = network.c.org("hospital1"), network.c.org("hospital2")
    patient, clinician, grantee = f"h1-up-p-{run}", f"h1-up-c-{run}", f"h2-up-c-{run}"
    crypto.enroll_user(network.state, h1, patient, "patient")
    crypto.enroll_user(network.state, h1, clinician, "clinician")
    crypto.enroll_user(network.state, h2, grantee, "clinician")
    profiles = network.state / "profiles"
    started = _run_previous(network, extract_previous_chaincode(tmp_path))
    try:
        # The previous layout: bare member ids, wrapped keys as arguments in public state.
        with (
            Session.open(profiles / "hospital1.json", patient) as p,
            Session.open(profiles / "hospital1.json", clinician) as c,
            Session.open(profiles / "hospital2.json", grantee) as g,
            Session.open(profiles / "hospital1.json", "h1-admin") as admin,
        ):
            for s in (p, c, g, admin):
                s.register()
            recipients = {patient: p.encryption_key(), "org:Hospital1MSP": admin.encryption_key()}
            record_id = f"rec-up-{run}"
            ref = ccrypto.RecordRef(record_id, patient, 1)
            key = ccrypto.new_record_key()
            blob = ccrypto.seal(fhir.canonical_bytes(fhir.validate(OBSERVATION)), key, ref)
            address = ccrypto.content_address(blob)
            wrapped = {r: ccrypto.wrap_key(key, ref, k) for r, k in recipients.items()}
            c.submit(
                "CreateRecord",
                {
                    "record_id": record_id,
                    "patient_id": patient,
                    "category": "laboratory",
                    "resource_type": "Observation",
                    "ciphertext_sha256": address,
                    "size": len(blob),
                    "locator": f"Hospital1MSP/sha256/{address}",
                    "wrapped_keys": wrapped,
                },
            )
            c.store("Hospital1MSP").put(blob, record_id)
            grantee_jwk = g.evaluate("GetMember", grantee)["public_key"]
            rewrapped = ccrypto.wrap_key(key, ref, grantee_jwk)
            grant = {
                "grantee": grantee,
                "record_ids": [record_id],
                "purposes": ["treatment"],
                "valid_until": "2099-01-01T00:00:00Z",
                "wrapped_keys": {record_id: rewrapped},
            }
            granted = p.submit("GrantConsent", grant)
            grant_seen(g, granted["id"])  # granted through Hospital1's peer; asked for through Hospital2's
            old_access = g.submit("RequestAccess", json.dumps({"record_ids": [record_id], "purpose": "treatment"}))
    finally:
        for name in started:
            network.table.stop(name)
        network.start()  # the network's own (current) chaincode servers again

    # Deploys the next sequence and migrates the state. This ledger was migrated when the network came up
    # (before the previous code wrote into it here), so the migration is asked to look at every key again;
    # tests/unit/test_migration.py migrates a ledger only the previous chaincode ever wrote.
    network.upgrade_chaincode(rescan=True)

    with (
        Session.open(profiles / "hospital1.json", patient) as p,
        Session.open(profiles / "hospital2.json", grantee) as g,
    ):
        assert p.member_id() == f"{patient}@Hospital1MSP"
        own = p.open_records([record_id])
        assert isinstance(own[0], OpenedRecord)
        assert own[0].resource["valueQuantity"]["value"] == 0.9  # the old binding (sealed_for) still opens
        opened = g.open_records([record_id])  # the old grant still lets its grantee in
        assert isinstance(opened[0], OpenedRecord)
        log = [e for e in p.access_log() if e["tx_id"] == old_access["tx_id"]]
        assert [(e["requester"], e["decision"]) for e in log] == [(g.member_id(), "allowed")]
        rotated = p.rotate_record(record_id)
        assert rotated["sealed_for"] == p.member_id()
        assert isinstance(p.open_records([record_id])[0], OpenedRecord)
        p.erase(record_id)
