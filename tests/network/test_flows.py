"""Every flow of the product through the services, on the live network with real encryption and stores."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from careledger import crypto
from careledger.errors import EndorseError, UploadPendingError
from careledger.services import OpenedRecord, Refused, Session
from careledger.store import StoreClient, StoreError
from careledger_network.network import Network

from .conftest import grant_seen, record_seen

pytestmark = pytest.mark.network

OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "718-7", "display": "Hemoglobin"}]},
    "valueQuantity": {"value": 13.7, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"},
}


def _session(network: Network, org: str, user: str, org_key_from: str | None = None) -> Session:
    return Session.open(network.state / "profiles" / f"{org}.json", user, org_key_from=org_key_from)


@pytest.fixture(scope="module")
def people(network: Network) -> Iterator[dict[str, Session]]:
    sessions = {
        "h1-admin": _session(network, "hospital1", "h1-admin"),
        "h2-admin": _session(network, "hospital2", "h2-admin"),
        "patient": _session(network, "hospital1", "h1-patient-1"),
        "other-patient": _session(network, "hospital1", "h1-patient-2"),
        "dr-h1": _session(network, "hospital1", "h1-clinician-1"),
        "dr-h2": _session(network, "hospital2", "h2-clinician-1"),
    }
    for s in sessions.values():
        s.register()
    sessions["dr-h1-system"] = _session(network, "hospital1", "h1-clinician-1", org_key_from="h1-admin")
    yield sessions
    for s in sessions.values():
        s.close()


def _store_blob_path(network: Network, address: str) -> Path:
    return network.state / "stores" / "hospital1" / address[:2] / address[2:4] / address


def test_a_failed_upload_waits_in_the_outbox_until_the_admin_flushes_it(
    people: dict[str, Session], network: Network
) -> None:
    """The store unreachable right after CreateRecord: the record is registered and its ciphertext waits in
    hospital1's upload outbox beside its wallets; a flush as the admin (the hospital app's job) uploads it."""
    dr_h1, admin, patient = people["dr-h1"], people["h1-admin"], people["patient"]
    real = dr_h1.store("Hospital1MSP")
    dr_h1._stores["Hospital1MSP"] = StoreClient("https://127.0.0.1:9", real.tls_root_pem, real.identity, timeout=5)
    try:
        with pytest.raises(UploadPendingError) as pending:
            dr_h1.create_record("h1-patient-1", OBSERVATION, category="laboratory")
    finally:
        dr_h1._stores["Hospital1MSP"] = real
    record, kept = pending.value.record, pending.value.outbox
    assert kept.parent == network.state / "outbox" / "hospital1" / "Hospital1MSP"
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == record["ciphertext_sha256"]
    admin.flush_outbox()  # a running hospital app's job may have been first: either way it is uploaded now
    assert not kept.exists()
    assert _store_blob_path(network, record["ciphertext_sha256"]).exists()
    [opened] = patient.open_records([record["id"]])
    assert isinstance(opened, OpenedRecord)


def test_full_record_lifecycle(people: dict[str, Session], network: Network) -> None:
    dr_h1, dr_h2, patient = people["dr-h1"], people["dr-h2"], people["patient"]
    record = dr_h1.create_record("h1-patient-1", OBSERVATION, category="laboratory")
    address = record["ciphertext_sha256"]
    stored = _store_blob_path(network, address).read_bytes()
    assert b"Hemoglobin" not in stored  # only ciphertext at rest
    assert hashlib.sha256(stored).hexdigest() == address

    own = patient.open_records([record["id"]])
    assert isinstance(own[0], OpenedRecord)
    assert own[0].resource["valueQuantity"]["value"] == 13.7

    record_seen(dr_h2, record["id"])  # created through Hospital1's peer; Hospital2's has it a moment later
    refused = dr_h2.open_records([record["id"]])
    assert refused == [Refused(record["id"], "no consent from the patient covers this record")]

    grant = patient.grant(dr_h2.member_id(), ["treatment"], "2099-01-01T00:00:00Z", record_ids=[record["id"]])
    grant_seen(dr_h2, grant["id"])
    opened = dr_h2.open_records([record["id"]])
    assert isinstance(opened[0], OpenedRecord)
    assert opened[0].resource["code"]["coding"][0]["code"] == "718-7"

    patient.revoke(grant["id"])
    grant_seen(dr_h2, grant["id"], "revoked")
    after = dr_h2.open_records([record["id"]])
    assert isinstance(after[0], Refused)
    assert "no consent" in after[0].reason

    rotated = patient.rotate_record(record["id"])
    assert rotated["version"] == 2
    assert rotated["ciphertext_sha256"] != address
    reopened = patient.open_records([record["id"]])
    assert isinstance(reopened[0], OpenedRecord)
    assert reopened[0].version == 2
    assert reopened[0].resource == own[0].resource

    log = patient.access_log()
    mine = [e for e in log if e["record_id"] == record["id"]]
    assert {(e["requester"], e["decision"]) for e in mine} >= {
        (dr_h2.member_id(), "allowed"),
        (dr_h2.member_id(), "denied"),
    }

    patient.erase(record["id"])
    assert not _store_blob_path(network, address).exists()
    assert not _store_blob_path(network, rotated["ciphertext_sha256"]).exists()
    gone = patient.open_records([record["id"]])
    assert isinstance(gone[0], Refused)
    assert "erased" in gone[0].reason


def test_category_grant_covers_records_created_later(people: dict[str, Session]) -> None:
    dr_h1, dr_h2, patient = people["dr-h1"], people["dr-h2"], people["patient"]
    category = f"cat-{hashlib.sha256(str(id(people)).encode()).hexdigest()[:8]}"
    grant = patient.grant(dr_h2.member_id(), ["diagnosis-ai"], "2099-01-01T00:00:00Z", categories=[category])
    record = dr_h1.create_record("h1-patient-1", OBSERVATION, category=category)
    record_seen(dr_h2, record["id"])  # after the grant, both through Hospital1's peer
    opened = dr_h2.open_records([record["id"]], purpose="diagnosis-ai")
    assert isinstance(opened[0], OpenedRecord)
    patient.revoke(grant["id"])


def test_emergency_access_at_the_custodian_uses_the_org_key(people: dict[str, Session]) -> None:
    record = people["dr-h1"].create_record("h1-patient-2", OBSERVATION, category="laboratory")
    opened = people["dr-h1-system"].open_records(
        [record["id"]], emergency_justification="Unconscious patient in the ED; need last hemoglobin."
    )
    assert isinstance(opened[0], OpenedRecord)
    event = [e for e in people["other-patient"].access_log() if e["record_id"] == record["id"]][-1]
    assert event["emergency"] is True
    assert "justification_sha256" in event


def test_store_refusals(people: dict[str, Session], network: Network) -> None:
    dr_h1, dr_h2, patient = people["dr-h1"], people["dr-h2"], people["patient"]
    store_log = Path(network.table.load()["store-hospital1"].log)
    logged_before = store_log.read_text().count(" refused ")
    record = dr_h1.create_record("h1-patient-1", OBSERVATION, category="laboratory")
    address = record["ciphertext_sha256"]
    own_tx = patient.request_access([record["id"]], "treatment")["tx_id"]
    # A clinician replaying the patient's access transaction id is refused: the ledger names another requester.
    with pytest.raises(StoreError) as replay:
        dr_h2.store("Hospital1MSP").get(address, record["id"], own_tx)
    assert replay.value.status == 403
    assert "another requester" in str(replay.value)
    # Another org's clinician cannot upload to this hospital's store.
    with pytest.raises(StoreError) as upload:
        dr_h2.store("Hospital1MSP").put(b"CLR1" + b"x" * 40, record["id"])
    assert upload.value.status == 403
    # A forged signature (the certificate of one user, the key of another) is refused.
    forged = StoreClient(
        dr_h2.store("Hospital1MSP").url,
        dr_h2.store("Hospital1MSP").tls_root_pem,
        type(patient.wallet.get("h1-patient-1"))(
            "Hospital1MSP",
            patient.wallet.get("h1-patient-1").certificate_pem,
            dr_h1.wallet.get("h1-clinician-1").private_key,
        ),
    )
    with pytest.raises(StoreError) as forged_error:
        forged.get(address, record["id"], own_tx)
    assert forged_error.value.status == 401
    # The patient, with its own committed access, gets the blob; it matches the ledger's hash.
    blob = patient.store("Hospital1MSP").get(address, record["id"], own_tx)
    assert crypto.content_address(blob) == address
    # Destroying a blob needs the record erased on the ledger first.
    with pytest.raises(StoreError) as early:
        patient.store("Hospital1MSP").delete(address, record["id"])
    assert early.value.status == 409
    # Each refusal is audited in the store's log: who, what and why.
    refusals = store_log.read_text().splitlines()
    audited = [line for line in refusals if " refused " in line][logged_before:]
    assert len(audited) == 4, audited
    assert "for h2-clinician-1 of Hospital2MSP: 403 NOT_AUTHORIZED" in audited[0]
    assert "for an unauthenticated caller: 401 NOT_AUTHENTICATED" in audited[2]


def test_create_record_refuses_invalid_fhir(people: dict[str, Session]) -> None:
    from careledger.fhir import FHIRError

    with pytest.raises(FHIRError, match="Observation"):
        people["dr-h1"].create_record(
            "h1-patient-1", {"resourceType": "Observation", "status": 5}, category="laboratory"
        )
    with pytest.raises(FHIRError, match="not a FHIR R4 resource type"):
        people["dr-h1"].create_record("h1-patient-1", {"resourceType": "Spaceship"}, category="laboratory")


def test_ledger_refusals_surface_with_their_code(people: dict[str, Session]) -> None:
    with pytest.raises(EndorseError) as info:
        people["other-patient"].revoke("g-" + "0" * 32)
    assert info.value.code == "NOT_FOUND"
    with pytest.raises(EndorseError) as not_patient:
        people["dr-h1"].submit("GrantConsent", json.dumps({"grantee": "h2-clinician-1@Hospital2MSP"}))
    assert not_patient.value.code == "NOT_AUTHORIZED"


def test_store_connection_is_kept_alive_and_survives_a_store_restart(
    people: dict[str, Session], network: Network
) -> None:
    """One TLS connection serves many requests; when the store restarts, the next request is resent once
    on a new connection instead of failing."""
    record = people["dr-h1"].create_record("h1-patient-1", OBSERVATION, "laboratory")
    patient = people["patient"]
    access = patient.request_access([record["id"]], "treatment")
    client = patient.store("Hospital1MSP")
    first = client.get(record["ciphertext_sha256"], record["id"], access["tx_id"])
    connection = client._local.conn
    assert connection is not None
    assert connection.sock is not None
    assert client.get(record["ciphertext_sha256"], record["id"], access["tx_id"]) == first
    assert client._local.conn is connection  # the same connection, no new handshake
    store = network.table.load()["store-hospital1"].pid
    os.kill(store, signal.SIGKILL)
    network.start()
    assert client.get(record["ciphertext_sha256"], record["id"], access["tx_id"]) == first
    assert client._local.conn is not connection
