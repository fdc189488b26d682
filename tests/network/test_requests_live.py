"""Consent requests and emergencies across hospitals on the live network: a request approved (with the grant made
from it) and one declined, a Hospital2 clinician's emergency access to a Hospital1 patient's record that really
decrypts once Hospital1's system releases the key, its review by the health authority's auditor, and the patient
reading all of it; the free text of each step is checked to be absent from the blocks' arguments."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import nullcontext

import pytest
from careledger.services import OpenedRecord, Refused, Session
from careledger_apps import _releaser
from careledger_network.network import Network

from .conftest import eventually, record_seen
from .resources import observation

pytestmark = pytest.mark.network

MESSAGE = "Your cardiologist at Hospital2 asks for your potassium results before the visit"
REASON = "I would rather discuss this with my own doctor first"
JUSTIFICATION = "Patient unconscious in our emergency department; potassium history needed now"
NOTE = "Cardiac arrest documented on arrival; the access was proportionate and brief"


@pytest.fixture(scope="module")
def people(network: Network) -> Iterator[dict[str, Session]]:
    profiles = network.state / "profiles"
    opened = {
        "h1-admin": Session.open(profiles / "hospital1.json", "h1-admin"),
        "patient": Session.open(profiles / "hospital1.json", "h1-patient-1"),
        "dr-h1": Session.open(profiles / "hospital1.json", "h1-clinician-1"),
        "dr-h2": Session.open(profiles / "hospital2.json", "h2-clinician-1"),
        "auditor": Session.open(profiles / "healthauthority.json", "ha-auditor-1"),
    }
    for s in opened.values():
        s.register()  # a fresh network: the organization key and members (a no-op when registered)
    # Hospital1's system: the admin identity with the organization key, as the hospital app's releaser runs it.
    opened["h1-system"] = Session.open(profiles / "hospital1.json", "h1-admin", org_key_from="h1-admin")
    yield opened
    for s in opened.values():
        s.close()


def test_a_request_approved_and_one_declined(people: dict[str, Session]) -> None:
    dr_h2, patient = people["dr-h2"], people["patient"]
    record = people["dr-h1"].create_record("h1-patient-1", observation("Potassium", 4.1, "mmol/L"), "laboratory")
    record_seen(dr_h2, record["id"])  # created through Hospital1's peer; the request below names it
    asked = dr_h2.request_consent(
        "h1-patient-1@Hospital1MSP", ["treatment"], "2099-01-01T00:00:00Z", [record["id"]], message=MESSAGE
    )
    assert asked["status"] == "pending"
    assert "message" not in asked
    eventually(lambda: any(r["id"] == asked["id"] for r in patient.consent_requests_to()), "the request reaches H1")
    assert patient.consent_request(asked["id"])["message"] == MESSAGE
    grant, answered = patient.grant_requested(asked["id"])
    assert answered["status"] == "approved"
    assert answered["grant_id"] == grant["id"]
    eventually(
        lambda: isinstance(dr_h2.open_records([record["id"]])[0], OpenedRecord), "the approved request opens the record"
    )
    mine = {r["id"]: r for r in dr_h2.my_consent_requests()}
    assert mine[asked["id"]]["status"] == "approved"

    second = dr_h2.request_consent(
        "h1-patient-1@Hospital1MSP", ["diagnosis-ai"], "2099-01-01T00:00:00Z", categories=["imaging"], message=MESSAGE
    )
    eventually(lambda: any(r["id"] == second["id"] for r in patient.consent_requests_to()), "the second request")
    declined = patient.decline_consent_request(second["id"], REASON)
    assert declined["status"] == "declined"
    eventually(lambda: dr_h2.consent_request(second["id"])["status"] == "declined", "H2 sees the decline")
    assert dr_h2.consent_request(second["id"])["reason"] == REASON
    patient.revoke(grant["id"])


def test_a_cross_hospital_emergency_decrypts_is_reviewed_and_the_patient_reads_the_review(
    people: dict[str, Session],
) -> None:
    dr_h2, patient, auditor = people["dr-h2"], people["patient"], people["auditor"]
    # A category of its own: no earlier test's grant to Hospital2 covers it, so only Hospital1 holds the key.
    record = people["dr-h1"].create_record("h1-patient-1", observation("Potassium", 5.9, "mmol/L"), _category())
    record_seen(dr_h2, record["id"])
    opening = dr_h2.break_glass([record["id"]], JUSTIFICATION)
    assert opening.waiting == [record["id"]]  # allowed, but only Hospital1 holds the key
    assert isinstance(opening.items[0], Refused)

    # Hospital1's system sees the committed emergency and re-wraps the key for the requester (the hospital app's
    # releaser thread does exactly this round, every few seconds, when EMERGENCY_RELEASER is set).
    released: list[int] = []
    system = people["h1-system"]
    eventually(lambda: released.append(_releaser.run_once(lambda: nullcontext(system)).released) or sum(released) > 0,
               "Hospital1 releases the key", timeout=30)  # fmt: skip
    eventually(
        lambda: isinstance(dr_h2.open_released(opening.access_tx_id)[0], OpenedRecord), "the key reaches Hospital2"
    )
    opened = dr_h2.open_released(opening.access_tx_id)[0]
    assert isinstance(opened, OpenedRecord)
    assert opened.resource["valueQuantity"]["value"] == 5.9

    eventually(
        lambda: any(e["access_tx_id"] == opening.access_tx_id for e in auditor.emergencies()), "the review queue"
    )
    review = auditor.review_emergency(opening.access_tx_id, "justified", NOTE)
    assert review["verdict"] == "justified"
    assert review["note_length"] == len(NOTE)
    assert "note" not in review
    eventually(lambda: patient.emergency_review(opening.access_tx_id) is not None, "the review reaches Hospital1")
    seen = patient.emergency_review(opening.access_tx_id)
    assert seen is not None
    assert seen["note"] == NOTE
    assert patient.justification(opening.access_tx_id)["justification"] == JUSTIFICATION
    assert all(e["access_tx_id"] != opening.access_tx_id for e in auditor.emergencies())  # no longer awaiting


def test_break_glass_from_a_patient_page_opens_records_the_clinician_could_not_see(people: dict[str, Session]) -> None:
    dr_h2 = people["dr-h2"]
    category = _category()
    record = people["dr-h1"].create_record("h1-patient-1", observation("Sodium", 139, "mmol/L"), category)
    record_seen(dr_h2, record["id"])
    opening = dr_h2.break_glass_for_patient("h1-patient-1@Hospital1MSP", JUSTIFICATION, categories=[category])
    assert record["id"] in [i.record_id for i in opening.items]
    system = people["h1-system"]
    eventually(lambda: _releaser.run_once(lambda: nullcontext(system)).released >= 0 and bool(
        [i for i in dr_h2.open_released(opening.access_tx_id) if isinstance(i, OpenedRecord)]
    ), "the patient's chemistry record opens", timeout=30)  # fmt: skip


def _category() -> str:
    return f"er-{uuid.uuid4().hex[:8]}"
