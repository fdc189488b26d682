"""Emergency access across hospitals and its review, on the ledger: the custodian releases the key only against a
committed emergency that awaits it, the requester reads it within the window, reviewers judge each emergency,
and no note, justification or re-wrapped key reaches a block."""

from __future__ import annotations

from typing import Any

import pytest
from careledger_protocol import CONFLICT, FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND

from .chaincode_helpers import H1, H2, SALT, Actor, World, jwe

JUSTIFICATION = "Unconscious patient in the emergency department: allergy history needed"
NOTE = "Documented cardiac arrest on arrival; access was proportionate and brief"


@pytest.fixture
def w() -> World:
    world = World()
    world.create("rec-1")
    world.create("rec-2", category="imaging")
    return world


def emergency(w: World, by: Actor, *records: str) -> dict[str, Any]:
    transient = {"justification": JUSTIFICATION, "salt": SALT}
    return dict(by.ok("EmergencyAccess", {"record_ids": list(records or ["rec-1"])}, transient=transient))


def review(w: World, by: Actor, txid: str, verdict: str = "justified") -> Any:
    doc = {"access_tx_id": txid, "verdict": verdict}
    return by.call("ReviewEmergency", doc, transient={"note": NOTE, "salt": SALT})


def test_a_cross_hospital_emergency_awaits_the_custodians_release(w: World) -> None:
    access = emergency(w, w.dr_h2, "rec-1", "rec-2")
    assert [d["key_available"] for d in access["decisions"]] == [False, False]
    txid = access["tx_id"]
    keys = w.dr_h2.ok("GetEmergencyKeys", txid)["keys"]
    assert not keys["rec-1"]["available"]
    assert "not released" in keys["rec-1"]["reason"]
    queue = w.h1_admin.ok("ListEmergencies", H1, "awaiting-release", "10", "")["items"]
    assert [(e["access_tx_id"], e["awaiting_release"]) for e in queue] == [(txid, ["rec-1", "rec-2"])]

    to_release = w.h1_admin.ok("GetEmergencyKeysToRelease", txid)
    assert [k["record_id"] for k in to_release["keys"]] == ["rec-1", "rec-2"]
    assert to_release["keys"][0]["wrapped_key"] == jwe("custodian")  # the organization's entry
    assert to_release["keys"][0]["requester"] == w.dr_h2.id
    assert to_release["keys"][0]["requester_key"]

    released = w.h1_admin.ok(
        "ReleaseEmergencyKeys", {"access_tx_id": txid}, transient={"wrapped_keys": {"rec-1": jwe("for-h2")}}
    )
    assert released["released"] == ["rec-1"]
    assert w.ledger.events[-1].name == "EmergencyKeysReleased"
    keys = w.dr_h2.ok("GetEmergencyKeys", txid)["keys"]
    assert keys["rec-1"]["available"]
    assert keys["rec-1"]["wrapped_key"] == jwe("for-h2")
    assert keys["rec-1"]["recipient"] == w.dr_h2.id
    assert not keys["rec-2"]["available"]
    listed = w.auditor.ok("ListEmergencies", "", "all", "10", "")["items"][0]
    assert listed["released"] == ["rec-1"]
    assert listed["awaiting_release"] == ["rec-2"]

    again = w.h1_admin.refused(
        FAILED_PRECONDITION,
        "ReleaseEmergencyKeys",
        {"access_tx_id": txid},
        transient={"wrapped_keys": {"rec-1": jwe()}},
    )
    assert "awaits no key" in again
    w.dr_h1.ok("ReleaseEmergencyKeys", {"access_tx_id": txid}, transient={"wrapped_keys": {"rec-2": jwe("h2")}})
    assert w.h1_admin.ok("ListEmergencies", H1, "awaiting-release", "10", "")["items"] == []

    w.ledger.advance(minutes=11)
    ended = w.dr_h2.ok("GetEmergencyKeys", txid)["keys"]["rec-1"]
    assert not ended["available"]
    assert "ended" in ended["reason"]


def test_only_the_custodians_staff_release_and_only_what_is_awaited(w: World) -> None:
    txid = emergency(w, w.dr_h2)["tx_id"]
    for actor in (w.h2_admin, w.dr_h2, w.alice, w.auditor):
        actor.refused(NOT_AUTHORIZED, "GetEmergencyKeysToRelease", txid)
    keys = {"wrapped_keys": {"rec-1": jwe()}}
    for actor in (w.h2_admin, w.dr_h2, w.alice):
        actor.refused(NOT_AUTHORIZED, "ReleaseEmergencyKeys", {"access_tx_id": txid}, transient=keys)
    other = {"wrapped_keys": {"rec-2": jwe()}}  # a record this emergency did not open
    w.h1_admin.refused(FAILED_PRECONDITION, "ReleaseEmergencyKeys", {"access_tx_id": txid}, transient=other)
    w.h1_admin.refused(INVALID_ARGUMENT, "ReleaseEmergencyKeys", {"access_tx_id": txid})
    inline = {"access_tx_id": txid, "wrapped_keys": {"rec-1": jwe()}}
    assert "transient" in w.h1_admin.refused(INVALID_ARGUMENT, "ReleaseEmergencyKeys", inline)
    ordinary = w.dr_h1.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["tx_id"]
    w.h1_admin.refused(NOT_FOUND, "GetEmergencyKeysToRelease", ordinary)
    w.dr_h1.refused(NOT_FOUND, "GetEmergencyKeys", ordinary)
    w.dr_h1.refused(NOT_AUTHORIZED, "GetEmergencyKeys", txid)
    w.ledger.advance(minutes=11)  # past the window: nothing to release, and a release is refused
    assert w.h1_admin.ok("GetEmergencyKeysToRelease", txid)["keys"] == []
    assert "ended" in w.h1_admin.refused(
        FAILED_PRECONDITION, "ReleaseEmergencyKeys", {"access_tx_id": txid}, transient=keys
    )


def test_an_emergency_at_the_custodian_awaits_no_release(w: World) -> None:
    access = emergency(w, w.dr_h1b)
    assert access["decisions"][0]["key_available"] is True
    assert w.h1_admin.ok("ListEmergencies", H1, "awaiting-release", "10", "")["items"] == []
    assert w.h1_admin.ok("ListEmergencies", H1, "unreviewed", "10", "")["items"][0]["access_tx_id"] == access["tx_id"]


def test_reviews_by_auditors_and_the_custodians_officers(w: World) -> None:
    first, second = emergency(w, w.dr_h2)["tx_id"], emergency(w, w.dr_h2)["tx_id"]
    w.alice.refused(NOT_FOUND, "GetEmergencyReview", first)
    for actor in (w.dr_h1, w.dr_h2, w.alice, w.h2_admin):
        outcome = review(w, actor, first)
        assert outcome.message.startswith(NOT_AUTHORIZED), outcome.message
    done = review(w, w.auditor, first, "unjustified")
    assert done.status == 200, done.message
    assert w.ledger.events[-1].name == "EmergencyReviewed"
    again = review(w, w.h1_admin, first)
    assert again.message.startswith(CONFLICT)
    assert review(w, w.h1_auditor, second).status == 200  # the custodian's privacy officer
    for reader in (w.alice, w.dr_h2, w.auditor, w.h1_admin):
        seen = reader.ok("GetEmergencyReview", first)
        assert seen["verdict"] == "unjustified"
        assert seen["note"] == NOTE
        assert seen["reviewer"] == w.auditor.id
    for stranger in (w.bob, w.dr_h1, w.h2_admin):
        stranger.refused(NOT_AUTHORIZED, "GetEmergencyReview", first)
    assert w.auditor.ok("ListEmergencies", "", "unreviewed", "10", "")["items"] == []
    listed = w.auditor.ok("ListEmergencies", "", "all", "10", "")["items"]
    assert [e["review"]["verdict"] for e in listed] == ["unjustified", "justified"]
    short = w.auditor.call(
        "ReviewEmergency",
        {"access_tx_id": emergency(w, w.dr_h2)["tx_id"], "verdict": "justified"},
        transient={"note": "ok", "salt": SALT},
    )
    assert short.message.startswith(INVALID_ARGUMENT)
    assert "20 letters" in short.message


def test_who_may_list_emergencies(w: World) -> None:
    emergency(w, w.dr_h2)
    assert len(w.auditor.ok("ListEmergencies", "", "all", "10", "")["items"]) == 1
    assert len(w.auditor.ok("ListEmergencies", H1, "all", "10", "")["items"]) == 1
    assert w.h2_admin.ok("ListEmergencies", H2, "all", "10", "")["items"] == []
    w.h2_admin.refused(NOT_AUTHORIZED, "ListEmergencies", H1, "all", "10", "")
    for actor in (w.dr_h1, w.dr_h2, w.alice, w.h1_admin):
        actor.refused(NOT_AUTHORIZED, "ListEmergencies", "", "all", "10", "")
    w.dr_h1.refused(NOT_AUTHORIZED, "ListEmergencies", H1, "all", "10", "")
    w.auditor.refused(INVALID_ARGUMENT, "ListEmergencies", "", "awaiting-release", "10", "")
    w.auditor.refused(INVALID_ARGUMENT, "ListEmergencies", "", "everything", "10", "")


def test_no_note_justification_or_released_key_reaches_a_block(w: World) -> None:
    txid = emergency(w, w.dr_h2)["tx_id"]
    w.h1_admin.ok("ReleaseEmergencyKeys", {"access_tx_id": txid}, transient={"wrapped_keys": {"rec-1": jwe("secret")}})
    assert review(w, w.auditor, txid).status == 200
    inline = w.auditor.refused(
        INVALID_ARGUMENT, "ReviewEmergency", {"access_tx_id": txid, "verdict": "justified", "note": NOTE}
    )
    assert "transient" in inline
    for needle in (NOTE, JUSTIFICATION, "cardiac", "allergy", "ek-secret"):
        assert not any(block.contains(needle.encode()) for block in w.ledger.blocks), needle


def test_break_glass_from_a_patient_page_opens_the_patients_active_records(w: World) -> None:
    w.create("rec-3", category="imaging")
    w.alice.ok("EraseRecord", "rec-3")
    transient = {"justification": JUSTIFICATION, "salt": SALT}
    access = w.dr_h2.ok("EmergencyAccessForPatient", {"patient_id": w.alice.id}, transient=transient)
    assert [d["record_id"] for d in access["decisions"]] == ["rec-1", "rec-2"]
    assert access["emergency"] is True
    imaging = w.dr_h2.ok(
        "EmergencyAccessForPatient", {"patient_id": w.alice.id, "categories": ["imaging"]}, transient=transient
    )
    assert [d["record_id"] for d in imaging["decisions"]] == ["rec-2"]
    queue = w.h1_admin.ok("ListEmergencies", H1, "awaiting-release", "10", "")["items"]
    assert [e["access_tx_id"] for e in queue] == [access["tx_id"], imaging["tx_id"]]
    for actor in (w.researcher, w.alice, w.auditor):
        actor.refused(NOT_AUTHORIZED, "EmergencyAccessForPatient", {"patient_id": w.alice.id}, transient=transient)
    w.dr_h2.refused(FAILED_PRECONDITION, "EmergencyAccessForPatient", {"patient_id": w.bob.id}, transient=transient)
    w.dr_h2.refused(NOT_FOUND, "EmergencyAccessForPatient", {"patient_id": "ghost@Hospital1MSP"}, transient=transient)
    short = w.dr_h2.refused(
        INVALID_ARGUMENT,
        "EmergencyAccessForPatient",
        {"patient_id": w.alice.id},
        transient={"justification": "now", "salt": SALT},
    )
    assert "20 letters" in short
    inline = {"patient_id": w.alice.id, "justification": JUSTIFICATION}
    assert "transient" in w.dr_h2.refused(INVALID_ARGUMENT, "EmergencyAccessForPatient", inline, transient=transient)
    assert not any(block.contains(JUSTIFICATION.encode()) for block in w.ledger.blocks)
