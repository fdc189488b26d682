"""Consent requests on the ledger: who may ask, answer and list them, what lapses, and that no message or reason
reaches a block."""

from __future__ import annotations

import json
from typing import Any

import pytest
from careledger_protocol import FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND

from .chaincode_helpers import SALT, World

MESSAGE = "Your cardiologist at Hospital2 needs last month's potassium results"
REASON = "I prefer to discuss this with my own doctor first"


@pytest.fixture
def w() -> World:
    world = World()
    world.create("rec-1")
    world.create("rec-2", category="imaging")
    return world


def ask(w: World, by: Any = None, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "patient_id": w.alice.id,
        "categories": ["laboratory"],
        "purposes": ["treatment"],
        "valid_until": "2027-01-01T00:00:00Z",
        **changes,
    }
    return dict((by or w.dr_h2).ok("RequestConsent", doc, transient={"message": MESSAGE, "salt": SALT}))


def test_a_clinician_asks_and_the_patient_reads_the_message(w: World) -> None:
    request = ask(w)
    assert request["status"] == "pending"
    assert request["requester"] == w.dr_h2.id
    assert request["message_length"] == len(MESSAGE)
    assert "message" not in request
    seen = w.alice.ok("GetConsentRequest", request["id"])
    assert seen["message"] == MESSAGE
    assert w.dr_h2.ok("GetConsentRequest", request["id"])["message"] == MESSAGE
    assert w.auditor.ok("GetConsentRequest", request["id"])["message"] == MESSAGE
    for other in (w.bob, w.dr_h1, w.h1_auditor):
        w_msg = other.refused(NOT_AUTHORIZED, "GetConsentRequest", request["id"])
        assert "patient, the requester and auditors" in w_msg
    assert [e.name for e in w.ledger.events][-1] == "ConsentRequested"


def test_no_message_or_reason_reaches_a_block(w: World) -> None:
    request = ask(w)
    w.alice.ok(
        "AnswerConsentRequest",
        {"request_id": request["id"], "decision": "declined"},
        transient={"reason": REASON, "salt": SALT},
    )
    for text in (MESSAGE, REASON, "potassium", "discuss"):
        assert not any(block.contains(text.encode()) for block in w.ledger.blocks), text
    refused = w.dr_h2.refused(
        INVALID_ARGUMENT,
        "RequestConsent",
        {"patient_id": w.alice.id, "categories": ["laboratory"], "purposes": ["treatment"], "message": "hi"},
    )
    assert "transient" in refused


def test_who_may_ask(w: World) -> None:
    doc = {"patient_id": w.alice.id, "categories": ["laboratory"], "purposes": ["treatment"]}
    doc["valid_until"] = "2027-01-01T00:00:00Z"
    for actor in (w.alice, w.auditor, w.h1_admin):
        assert "role" in actor.refused(NOT_AUTHORIZED, "RequestConsent", doc)
    assert "research" in w.dr_h2.refused(INVALID_ARGUMENT, "RequestConsent", {**doc, "purposes": ["research"]})
    ask(w, by=w.researcher, purposes=["research"])
    assert "not registered" in w.dr_h2.refused(NOT_FOUND, "RequestConsent", {**doc, "patient_id": "ghost@Hospital1MSP"})
    assert "not a patient" in w.dr_h2.refused(INVALID_ARGUMENT, "RequestConsent", {**doc, "patient_id": w.dr_h1.id})
    bob_record = w.dr_h2.refused(NOT_FOUND, "RequestConsent", {**doc, "record_ids": ["rec-nope"]})
    assert "not a record of" in bob_record
    past = {**doc, "valid_until": "2025-01-01T00:00:00Z"}
    assert "future" in w.dr_h2.refused(INVALID_ARGUMENT, "RequestConsent", past)
    empty = {k: v for k, v in doc.items() if k != "categories"}
    assert "record_ids or categories" in w.dr_h2.refused(INVALID_ARGUMENT, "RequestConsent", empty)


def test_approving_names_the_grant_that_answers(w: World) -> None:
    request = ask(w)
    answer = {"request_id": request["id"], "decision": "approved"}
    assert "grant_id" in w.alice.refused(INVALID_ARGUMENT, "AnswerConsentRequest", answer)
    other = w.give(w.dr_h1.id, ["rec-1"])
    refused = w.alice.refused(INVALID_ARGUMENT, "AnswerConsentRequest", {**answer, "grant_id": other["id"]})
    assert "does not give the requester access" in refused
    grant = w.give(w.dr_h2.id, ["rec-1"])
    assert "only the patient" in w.bob.refused(
        NOT_AUTHORIZED, "AnswerConsentRequest", {**answer, "grant_id": grant["id"]}
    )
    w.dr_h2.refused(NOT_AUTHORIZED, "AnswerConsentRequest", {**answer, "grant_id": grant["id"]})
    answered = w.alice.ok("AnswerConsentRequest", {**answer, "grant_id": grant["id"]})
    assert answered["status"] == "approved"
    assert answered["grant_id"] == grant["id"]
    again = w.alice.refused(FAILED_PRECONDITION, "AnswerConsentRequest", {**answer, "grant_id": grant["id"]})
    assert "approved" in again
    mine = w.dr_h2.ok("ListConsentRequestsByRequester", w.dr_h2.id, "10", "")["items"]
    assert [(r["id"], r["status"]) for r in mine] == [(request["id"], "approved")]


def test_a_grant_made_before_the_request_does_not_answer_it(w: World) -> None:
    grant = w.give(w.dr_h2.id, ["rec-1"])
    request = ask(w)
    answer = {"request_id": request["id"], "decision": "approved", "grant_id": grant["id"]}
    assert "made after the request" in w.alice.refused(INVALID_ARGUMENT, "AnswerConsentRequest", answer)


def test_declining_without_a_reason_and_a_lapsed_request(w: World) -> None:
    first, second = ask(w), ask(w)
    declined = w.alice.ok("AnswerConsentRequest", {"request_id": first["id"], "decision": "declined"})
    assert declined["status"] == "declined"
    assert "reason_sha256" not in declined
    w.ledger.advance(days=31)
    lapsed = w.alice.refused(
        FAILED_PRECONDITION, "AnswerConsentRequest", {"request_id": second["id"], "decision": "declined"}
    )
    assert "expired" in lapsed
    listed = w.alice.ok("ListConsentRequestsForPatient", w.alice.id, "10", "")["items"]
    assert [r["status"] for r in listed] == ["declined", "expired"]


def test_who_may_list(w: World) -> None:
    ask(w)
    assert len(w.auditor.ok("ListConsentRequestsForPatient", w.alice.id, "10", "")["items"]) == 1
    assert len(w.auditor.ok("ListConsentRequestsByRequester", w.dr_h2.id, "10", "")["items"]) == 1
    for actor in (w.bob, w.dr_h2, w.dr_h1, w.h1_auditor):
        actor.refused(NOT_AUTHORIZED, "ListConsentRequestsForPatient", w.alice.id, "10", "")
    for actor in (w.dr_h1, w.alice, w.h1_auditor):
        actor.refused(NOT_AUTHORIZED, "ListConsentRequestsByRequester", w.dr_h2.id, "10", "")
    page = w.alice.ok("ListConsentRequestsForPatient", w.alice.id, "1", "")
    assert len(page["items"]) == 1


def test_the_private_text_is_held_under_the_request(w: World) -> None:
    request = ask(w)
    private = w.ledger.private["careledger-private"]
    held = [json.loads(v) for k, v in private.items() if request["id"] in k and "consent-request-text" in k]
    assert held
    assert held[0]["message"] == MESSAGE
