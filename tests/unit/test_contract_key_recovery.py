"""Compromised keys and key recovery (key_recovery.py, _compromised.py): a patient who lost their wallet is
re-enrolled by their hospital's admin, registers a new key from the new enrollment only, and the custodians
re-wrap what the patient held; a clinician whose key was reported compromised gets no key from pending grants;
nothing is ever wrapped for a compromised key again."""

from __future__ import annotations

import json
from typing import Any

from careledger_protocol import jwk_thumbprint

from .chaincode_helpers import (
    H1,
    H2,
    JWK,
    Actor,
    World,
    certificate_sha256,
    enrollment_certificate,
    jwe,
    jwe_for,
    other_jwk,
)

OLD_KID = jwk_thumbprint(json.loads(JWK))
NEW_JWK = other_jwk(1)
NEW_KID = jwk_thumbprint(json.loads(NEW_JWK))


def _events(w: World, since: int) -> list[str]:
    return [e.name for e in w.ledger.events[since:]]


def _wkey(record_id: str, recipient: str) -> str:
    return f"\x00wkey\x00{record_id}\x00{recipient}\x00"


def _entry(w: World, record_id: str, recipient: str) -> dict[str, Any]:
    return dict(json.loads(w.ledger.private["careledger-private"][_wkey(record_id, recipient)]))


def _holdings(w: World) -> None:
    """Alice's records at Hospital1 (rec-1) and Hospital2 (rec-2), and Bob's (rec-b) she holds as his proxy."""
    w.create("rec-1")
    w.create("rec-2", by=w.dr_h2)
    keys = {"wrapped_keys": {w.bob.id: jwe("patient"), f"org:{H1}": jwe("custodian")}}
    w.dr_h1.ok("CreateRecord", w.record("rec-b", patient=w.bob), transient=keys)
    proxy = {"patient_id": w.bob.id, "proxy_id": w.alice.id, "rights": ["view"], "valid_until": "2026-12-31T00:00:00Z"}
    w.bob.ok("SetProxy", proxy, transient={"wrapped_keys": {"rec-b": jwe("proxy")}})


def _open(w: World, new_alice: Actor) -> dict[str, Any]:
    doc = {
        "member_id": w.alice.id,
        "proofing": "in-person",
        "certificate_sha256": certificate_sha256(new_alice.certificate_pem),
    }
    return dict(w.h1_admin.ok("OpenKeyRecovery", doc))


def _rewrap(w: World, versions: dict[str, int], kid: str = NEW_KID) -> tuple[dict[str, Any], dict[str, Any]]:
    doc = {"member_id": w.alice.id, "records": [{"record_id": r, "version": v} for r, v in versions.items()]}
    return doc, {"wrapped_keys": {r: jwe_for(kid, "rewrapped") for r in versions}}


def test_a_patient_who_lost_their_wallet_gets_every_key_back_under_a_new_key() -> None:
    w = World()
    _holdings(w)
    new_alice = Actor(w.ledger, w.alice.local_id, H1, "patient", enrollment_certificate(w.alice.local_id))
    before = len(w.ledger.events)
    recovery = _open(w, new_alice)
    assert recovery["status"] == "awaiting-key"
    assert recovery["opened_by"] == w.h1_admin.id
    assert recovery["compromised_kid"] == OLD_KID
    assert _events(w, before) == ["KeyRecoveryOpened"]

    # The lost key: nothing is wrapped for it, nothing released to it, and it cannot be swapped by whoever holds it.
    reason = w.dr_h1.refused(
        "FAILED_PRECONDITION", "CreateRecord", w.record("rec-3"), transient={"wrapped_keys": w.record_keys()}
    )
    assert "reported compromised" in reason
    access = w.alice.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})
    released = w.alice.ok("GetAccessKeys", access["tx_id"])["keys"]["rec-1"]
    assert not released["available"]
    assert "compromised" in released["reason"]
    w.alice.refused("FAILED_PRECONDITION", "UpdateMemberKey", NEW_JWK)
    w.h1_admin.refused("FAILED_PRECONDITION", "ResetMemberKey", w.alice.id, NEW_JWK)

    # Only the enrollment the admin named registers the new key, and never the compromised one.
    w.alice.refused("NOT_AUTHORIZED", "RegisterRecoveredKey", NEW_JWK)
    assert "compromised" in new_alice.refused("FAILED_PRECONDITION", "RegisterRecoveredKey", JWK)
    w.h1_admin.refused("FAILED_PRECONDITION", "GetRecoveryKeysToRewrap", w.alice.id)
    before = len(w.ledger.events)
    recovery = new_alice.ok("RegisterRecoveredKey", NEW_JWK)
    assert _events(w, before) == ["MemberKeyRecovered"]
    assert recovery["status"] == "rewrapping"
    assert recovery["new_kid"] == NEW_KID
    assert recovery["custodians"] == {H1: {"to_rewrap": 2, "rewrapped": 0}, H2: {"to_rewrap": 1, "rewrapped": 0}}
    member = w.alice.ok("GetMember", w.alice.id)
    assert member["public_key"]["kid"] == NEW_KID
    assert [m["kid"] for m in member["compromised_keys"]] == [OLD_KID]

    # Entries still wrapped for the old key are not released: they wait for their custodian's re-wrap.
    access = new_alice.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})
    assert "re-wraps" in new_alice.ok("GetAccessKeys", access["tx_id"])["keys"]["rec-1"]["reason"]

    # Each custodian's admin re-wraps its own records, for the new key only.
    listed = w.h1_admin.ok("GetRecoveryKeysToRewrap", w.alice.id)
    assert [k["record_id"] for k in listed["keys"]] == ["rec-1", "rec-b"]
    assert listed["public_key"]["kid"] == NEW_KID
    assert listed["keys"][0]["recipient"] == f"org:{H1}"
    assert listed["remaining"] == 2
    w.dr_h1.refused("NOT_AUTHORIZED", "GetRecoveryKeysToRewrap", w.alice.id)
    doc, keys = _rewrap(w, {"rec-1": 1})
    w.dr_h1.refused("NOT_AUTHORIZED", "RewrapRecoveredKeys", doc, transient=keys)
    doc, keys = _rewrap(w, {"rec-1": 1})
    assert "awaits a re-wrap" in w.h2_admin.refused("FAILED_PRECONDITION", "RewrapRecoveredKeys", doc, transient=keys)
    doc, keys = _rewrap(w, {"rec-1": 1}, kid=OLD_KID)
    assert "new key" in w.h1_admin.refused("FAILED_PRECONDITION", "RewrapRecoveredKeys", doc, transient=keys)
    doc, keys = _rewrap(w, {"rec-1": 1, "rec-b": 1})
    before = len(w.ledger.events)
    recovery = w.h1_admin.ok("RewrapRecoveredKeys", doc, transient=keys)
    assert _events(w, before) == ["MemberKeysRewrapped"]
    assert recovery["custodians"][H1] == {"to_rewrap": 2, "rewrapped": 2}
    assert recovery["status"] == "rewrapping"
    # Until every custodian has re-wrapped, the key stays the recovered one (Hospital2's would wait for ever).
    assert "still re-wrapping" in new_alice.refused("FAILED_PRECONDITION", "UpdateMemberKey", other_jwk(3))
    assert "still re-wrapping" in w.h1_admin.refused("FAILED_PRECONDITION", "ResetMemberKey", w.alice.id, other_jwk(3))
    assert w.alice.ok("GetMember", w.alice.id)["public_key"]["kid"] == NEW_KID
    assert _entry(w, "rec-b", w.alice.id)["grants"]  # the proxy relation it holds the key by is kept
    doc, keys = _rewrap(w, {"rec-2": 1})
    recovery = w.h2_admin.ok("RewrapRecoveredKeys", doc, transient=keys)
    assert recovery["status"] == "completed"
    assert "completed_at" in recovery
    assert _entry(w, "rec-1", w.alice.id)["jwe"] == jwe_for(NEW_KID, "rewrapped")
    access = new_alice.ok("RequestAccess", {"record_ids": ["rec-1", "rec-2"], "purpose": "treatment"})
    assert all(k["available"] for k in new_alice.ok("GetAccessKeys", access["tx_id"])["keys"].values())

    # What the portal shows; who else may read it.
    assert new_alice.ok("GetKeyRecovery", w.alice.id)["opened_by"] == w.h1_admin.id
    w.auditor.ok("GetKeyRecovery", w.alice.id)
    w.bob.refused("NOT_AUTHORIZED", "GetKeyRecovery", w.alice.id)
    w.h2_admin.refused("NOT_AUTHORIZED", "GetKeyRecovery", w.alice.id)

    # From now on the key changes only from the recovered enrollment: the lost wallet's certificate cannot.
    assert "recovered" in w.alice.refused("FAILED_PRECONDITION", "UpdateMemberKey", other_jwk(2))
    assert new_alice.ok("UpdateMemberKey", other_jwk(2))["compromised_keys"][0]["kid"] == OLD_KID


def test_only_an_admin_of_the_members_organization_opens_a_recovery_and_never_for_its_own_certificate() -> None:
    w = World()
    pin = certificate_sha256(enrollment_certificate("x"))
    doc = {"member_id": w.alice.id, "proofing": "video-call", "certificate_sha256": pin}
    for stranger in (w.h2_admin, w.dr_h1, w.alice, w.h1_auditor):
        stranger.refused("NOT_AUTHORIZED", "OpenKeyRecovery", doc)
    w.h1_admin.refused("INVALID_ARGUMENT", "OpenKeyRecovery", {**doc, "proofing": "a phone call"})
    w.h1_admin.refused("NOT_FOUND", "OpenKeyRecovery", {**doc, "member_id": "h1-patient-9@Hospital1MSP"})
    w.h1_admin.refused("NOT_FOUND", "GetKeyRecovery", w.alice.id)
    admin = Actor(w.ledger, "h1-admin", H1, "admin", enrollment_certificate("h1-admin"))
    own = {**doc, "certificate_sha256": certificate_sha256(admin.certificate_pem)}
    assert "your own certificate" in admin.refused("INVALID_ARGUMENT", "OpenKeyRecovery", own)
    # opening again names another enrollment: the first can no longer register the key
    first = Actor(w.ledger, w.alice.local_id, H1, "patient", enrollment_certificate("first"))
    second = Actor(w.ledger, w.alice.local_id, H1, "patient", enrollment_certificate("second"))
    _open(w, first)
    _open(w, second)
    first.refused("NOT_AUTHORIZED", "RegisterRecoveredKey", NEW_JWK)
    assert second.ok("RegisterRecoveredKey", NEW_JWK)["status"] == "completed"  # Alice held no keys


def test_pending_grants_to_a_clinician_whose_key_was_reported_compromised_release_nothing() -> None:
    w = World()
    w.create("rec-1")
    w.create("rec-2")
    w.give(w.dr_h2.id, ["rec-1"], categories=["imaging"])
    access = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})
    assert w.dr_h2.ok("GetAccessKeys", access["tx_id"])["keys"]["rec-1"]["available"]
    report = {"member_id": w.dr_h2.id, "reason": "left-organization"}
    w.h1_admin.refused("NOT_AUTHORIZED", "ReportKeyCompromised", report)
    w.dr_h1.refused("NOT_AUTHORIZED", "ReportKeyCompromised", report)
    before = len(w.ledger.events)
    member = w.h2_admin.ok("ReportKeyCompromised", report)
    assert _events(w, before) == ["MemberKeyCompromised"]
    assert member["compromised_keys"][0]["reason"] == "left-organization"
    w.h2_admin.refused("FAILED_PRECONDITION", "ReportKeyCompromised", report)

    # The grant is still active, but its keys, and the store's ciphertext, are no longer released to the member.
    released = w.dr_h2.ok("GetAccessKeys", access["tx_id"])["keys"]["rec-1"]
    assert not released["available"]
    assert "compromised" in released["reason"]
    verdict = w.h1_admin.ok("VerifyAccess", access["tx_id"], w.dr_h2.id, "rec-1")
    assert not verdict["granted"]
    assert "compromised" in verdict["reason"]
    # Nor is a key wrapped for them again: a new grant, or a new record its category grant covers.
    grant = w.grant(w.dr_h2.id, ["rec-2"])
    w.alice.refused("FAILED_PRECONDITION", "GrantConsent", grant, transient={"wrapped_keys": {"rec-2": jwe()}})
    recipients = w.dr_h1.ok("GetNewRecordRecipients", w.alice.id, "imaging")
    assert w.dr_h2.id not in {r["id"] for r in recipients}
    keys = w.record_keys(**{w.dr_h2.id: jwe("grantee")})
    record = w.record("rec-3", category="imaging")
    assert "may not receive" in w.dr_h1.refused(
        "INVALID_ARGUMENT", "CreateRecord", record, transient={"wrapped_keys": keys}
    )
    w.dr_h1.ok("CreateRecord", record, transient={"wrapped_keys": w.record_keys()})  # the patient's care goes on
    assert w.dr_h1.ok("GetRecipients", "rec-1") == w.dr_h1.ok("GetRecipients", "rec-2")  # patient and custodian
    version = {"ciphertext_sha256": "b" * 64, "size": 9, "locator": "sha256/" + "b" * 64}
    w.alice.ok("AddRecordVersion", "rec-1", version, transient={"wrapped_keys": w.record_keys()})
    assert f"\x00wkey\x00rec-1\x00{w.dr_h2.id}\x00" not in w.ledger.private["careledger-private"]
    # Their emergency access gets no key released by the custodian either.
    transient = {"justification": "Unconscious patient in the emergency department", "salt": "5a1t" * 8}
    emergency = w.dr_h2.ok("EmergencyAccess", {"record_ids": ["rec-2"]}, transient=transient)
    w.h1_admin.refused("FAILED_PRECONDITION", "GetEmergencyKeysToRelease", emergency["tx_id"])


def test_a_key_named_compromised_is_never_wrapped_for_again() -> None:
    w = World()
    w.create("rec-1")
    new_alice = Actor(w.ledger, w.alice.local_id, H1, "patient", enrollment_certificate(w.alice.local_id))
    _open(w, new_alice)
    new_alice.ok("RegisterRecoveredKey", NEW_JWK)
    version = {"ciphertext_sha256": "a" * 64, "size": 9, "locator": "sha256/" + "a" * 64}
    stale = {"wrapped_keys": {w.alice.id: jwe_for(OLD_KID), f"org:{H1}": jwe("custodian")}}
    reason = new_alice.refused("FAILED_PRECONDITION", "AddRecordVersion", "rec-1", version, transient=stale)
    assert OLD_KID in reason
    fresh = {"wrapped_keys": {w.alice.id: jwe_for(NEW_KID), f"org:{H1}": jwe("custodian")}}
    new_alice.ok("AddRecordVersion", "rec-1", version, transient=fresh)
    # the new version was keyed for the new key: the custodian's list still holds it, as settled, not as work
    listed = w.h1_admin.ok("GetRecoveryKeysToRewrap", w.alice.id)
    assert (listed["keys"], listed["settled"], listed["remaining"]) == ([], [{"record_id": "rec-1", "version": 2}], 1)
    doc, keys = _rewrap(w, {"rec-1": 2})
    assert "without a key" in w.h1_admin.refused("FAILED_PRECONDITION", "RewrapRecoveredKeys", doc, transient=keys)
    assert _entry(w, "rec-1", w.alice.id)["jwe"] == jwe_for(NEW_KID)  # never overwritten by a stale re-wrap
    recovery = w.h1_admin.ok("RewrapRecoveredKeys", doc, transient={"wrapped_keys": {}})
    assert recovery["custodians"][H1] == {"to_rewrap": 1, "rewrapped": 0}
    assert recovery["status"] == "completed"
    assert _entry(w, "rec-1", w.alice.id)["jwe"] == jwe_for(NEW_KID)


def _listed(admin: Actor, page_size: str = "10") -> tuple[list[str], int]:
    """Every member ListKeyRecoveriesToRewrap names to the admin, following the bookmarks; and the pages read."""
    items: list[str] = []
    bookmark, pages = "", 0
    while True:
        page = admin.ok("ListKeyRecoveriesToRewrap", page_size, bookmark)
        items, bookmark, pages = items + page["items"], page["bookmark"], pages + 1
        if not bookmark:
            return items, pages


def _recover(w: World, patient: Actor, jwk: str) -> Actor:
    """The patient's admin opens the recovery naming a new enrollment, which registers `jwk`."""
    new = Actor(w.ledger, patient.local_id, H1, "patient", enrollment_certificate(f"{patient.local_id}-new"))
    doc = {
        "member_id": patient.id,
        "proofing": "in-person",
        "certificate_sha256": certificate_sha256(new.certificate_pem),
    }
    w.h1_admin.ok("OpenKeyRecovery", doc)
    new.ok("RegisterRecoveredKey", jwk)
    return new


def test_each_custodians_admin_lists_the_recoveries_awaiting_its_rewrap_and_only_those() -> None:
    w = World()
    _holdings(w)  # Alice holds rec-1 and rec-b at Hospital1, rec-2 at Hospital2
    carol = Actor(w.ledger, "h1-patient-3", H1, "patient")
    carol.ok("RegisterMember", JWK)
    w.dr_h1.ok("CreateRecord", w.record("rec-c", patient=carol), transient={"wrapped_keys": w.record_keys(carol)})
    assert _listed(w.h1_admin) == ([], 1)
    new_alice = Actor(w.ledger, w.alice.local_id, H1, "patient", enrollment_certificate(w.alice.local_id))
    _open(w, new_alice)
    assert _listed(w.h1_admin)[0] == []  # no key registered yet: nothing to re-wrap
    new_alice.ok("RegisterRecoveredKey", NEW_JWK)
    _recover(w, carol, other_jwk(2))
    assert _listed(w.h1_admin)[0] == [w.alice.id, carol.id]
    assert _listed(w.h2_admin)[0] == [w.alice.id]
    # one id a page at most, in member id order; Alice's list at Hospital2 leaves Hospital1 a page with none
    assert _listed(w.h1_admin, "1") == ([w.alice.id, carol.id], 3)

    doc, keys = _rewrap(w, {"rec-1": 1, "rec-b": 1})
    w.h1_admin.ok("RewrapRecoveredKeys", doc, transient=keys)
    assert _listed(w.h1_admin)[0] == [carol.id]
    assert _listed(w.h2_admin)[0] == [w.alice.id]  # until Hospital2 re-wraps its own
    doc, keys = _rewrap(w, {"rec-2": 1})
    w.h2_admin.ok("RewrapRecoveredKeys", doc, transient=keys)
    assert _listed(w.h2_admin)[0] == []
    assert new_alice.ok("GetKeyRecovery", w.alice.id)["status"] == "completed"

    # Opening Carol's recovery again (a wrong certificate named) voids her lists until the key is registered anew.
    pin = certificate_sha256(enrollment_certificate("again"))
    w.h1_admin.ok("OpenKeyRecovery", {"member_id": carol.id, "proofing": "video-call", "certificate_sha256": pin})
    assert _listed(w.h1_admin)[0] == []


def test_only_an_organizations_admin_lists_the_recoveries_awaiting_it() -> None:
    w = World()
    w.create("rec-1")
    _recover(w, w.alice, NEW_JWK)
    for stranger in (w.dr_h1, w.alice, w.bob, w.h1_auditor, w.auditor, w.researcher):
        assert "admin" in stranger.refused("NOT_AUTHORIZED", "ListKeyRecoveriesToRewrap", "10", "")
    for size in ("0", "1001", "ten"):
        w.h1_admin.refused("INVALID_ARGUMENT", "ListKeyRecoveriesToRewrap", size, "")
    # a bookmark is a place in the recoveries' lists, never a way out of them
    for bookmark in ("\x00key-recovery\x00", f"\x00wkey\x00rec-1\x00{w.alice.id}\x00", "\x00"):
        w.h1_admin.refused("INVALID_ARGUMENT", "ListKeyRecoveriesToRewrap", "10", bookmark)
    assert w.h1_admin.ok("ListKeyRecoveriesToRewrap", "", "") == {"items": [w.alice.id], "bookmark": ""}


def _rewrapped_events(w: World, since: int) -> list[dict[str, Any]]:
    return [json.loads(e.payload) for e in w.ledger.events[since:] if e.name == "MemberKeysRewrapped"]


def test_a_recovery_whose_only_record_at_a_custodian_was_erased_since_completes_when_that_custodian_runs() -> None:
    w = World()
    w.create("rec-1")
    w.create("rec-2", by=w.dr_h2)
    new_alice = Actor(w.ledger, w.alice.local_id, H1, "patient", enrollment_certificate(w.alice.local_id))
    _open(w, new_alice)
    recovery = new_alice.ok("RegisterRecoveredKey", NEW_JWK)
    assert recovery["custodians"][H2] == {"to_rewrap": 1, "rewrapped": 0}
    new_alice.ok("EraseRecord", "rec-2")  # after the lists were written: Hospital2's holds only an erased record

    listed = w.h2_admin.ok("GetRecoveryKeysToRewrap", w.alice.id)
    assert listed["keys"] == []
    assert listed["settled"] == [{"record_id": "rec-2", "version": 1}]
    assert listed["remaining"] == 1
    assert _listed(w.h2_admin)[0] == [w.alice.id]
    doc, keys = _rewrap(w, {"rec-1": 1})
    assert w.h1_admin.ok("RewrapRecoveredKeys", doc, transient=keys)["status"] == "rewrapping"  # Hospital2 waits

    # The erased record's key is never written back: a key handed in for it is refused, and none is needed.
    doc, keys = _rewrap(w, {"rec-2": 1})
    assert "no re-wrap needed" in w.h2_admin.refused("FAILED_PRECONDITION", "RewrapRecoveredKeys", doc, transient=keys)
    before = len(w.ledger.events)
    recovery = w.h2_admin.ok("RewrapRecoveredKeys", doc)  # no transient at all: nothing needs a key
    assert recovery["status"] == "completed"
    assert "completed_at" in recovery
    assert recovery["custodians"] == {H1: {"to_rewrap": 1, "rewrapped": 1}, H2: {"to_rewrap": 1, "rewrapped": 0}}
    assert _rewrapped_events(w, before) == [
        {
            "member_id": w.alice.id,
            "custodian": H2,
            "rewrapped": 0,
            "remaining": 0,
            "status": "completed",
            "by": w.h2_admin.id,
        }
    ]
    assert _listed(w.h2_admin)[0] == []
    assert _wkey("rec-2", w.alice.id) not in w.ledger.private["careledger-private"]
    assert new_alice.ok("GetKeyRecovery", w.alice.id)["status"] == "completed"
    w.h2_admin.refused("FAILED_PRECONDITION", "RewrapRecoveredKeys", doc)  # off the list: done already


def test_a_batch_with_erased_and_live_records_rewraps_the_live_ones_and_settles_the_others() -> None:
    w = World()
    _holdings(w)  # Alice holds rec-1 and rec-b at Hospital1, rec-2 at Hospital2
    new_alice = Actor(w.ledger, w.alice.local_id, H1, "patient", enrollment_certificate(w.alice.local_id))
    _open(w, new_alice)
    new_alice.ok("RegisterRecoveredKey", NEW_JWK)
    new_alice.ok("EraseRecord", "rec-1")
    listed = w.h1_admin.ok("GetRecoveryKeysToRewrap", w.alice.id)
    assert [k["record_id"] for k in listed["keys"]] == ["rec-b"]
    assert listed["settled"] == [{"record_id": "rec-1", "version": 1}]
    assert listed["remaining"] == 2

    # Refused, changing nothing: a live record without its key (or with no transient at all), a key for a settled
    # record (only the records that still need one carry a key), a key for a record not named.
    def unchanged() -> tuple[Any, ...]:
        private = w.ledger.private["careledger-private"]
        return (
            w.h1_admin.ok("GetRecoveryKeysToRewrap", w.alice.id),
            new_alice.ok("GetKeyRecovery", w.alice.id),
            private[_wkey("rec-b", w.alice.id)],
            _wkey("rec-1", w.alice.id) in private,
            len(w.ledger.events),
        )

    before = unchanged()
    doc, _ = _rewrap(w, {"rec-1": 1, "rec-b": 1})
    reason = w.h1_admin.refused("INVALID_ARGUMENT", "RewrapRecoveredKeys", doc, transient={"wrapped_keys": {}})
    assert "rec-b" in reason
    assert "transient" in w.h1_admin.refused("INVALID_ARGUMENT", "RewrapRecoveredKeys", doc)
    doc, keys = _rewrap(w, {"rec-1": 1, "rec-b": 1})
    assert "rec-1" in w.h1_admin.refused("FAILED_PRECONDITION", "RewrapRecoveredKeys", doc, transient=keys)
    doc, keys = _rewrap(w, {"rec-b": 1, "rec-1": 1})
    doc["records"] = [{"record_id": "rec-b", "version": 1}]
    w.h1_admin.refused("INVALID_ARGUMENT", "RewrapRecoveredKeys", doc, transient=keys)
    doc, _ = _rewrap(w, {"rec-b": 1})
    w.h1_admin.refused("INVALID_ARGUMENT", "RewrapRecoveredKeys", doc, transient={"wrapped_keys": {}})
    assert unchanged() == before

    doc, _ = _rewrap(w, {"rec-1": 1, "rec-b": 1})
    _, keys = _rewrap(w, {"rec-b": 1})
    before_events = len(w.ledger.events)
    recovery = w.h1_admin.ok("RewrapRecoveredKeys", doc, transient=keys)
    assert recovery["custodians"][H1] == {"to_rewrap": 2, "rewrapped": 1}
    assert recovery["status"] == "rewrapping"  # Hospital2's rec-2 still waits
    assert [(e["rewrapped"], e["remaining"]) for e in _rewrapped_events(w, before_events)] == [(1, 0)]
    assert _entry(w, "rec-b", w.alice.id)["jwe"] == jwe_for(NEW_KID, "rewrapped")
    assert _wkey("rec-1", w.alice.id) not in w.ledger.private["careledger-private"]
    assert _listed(w.h1_admin)[0] == []
    doc, keys = _rewrap(w, {"rec-2": 1})
    assert w.h2_admin.ok("RewrapRecoveredKeys", doc, transient=keys)["status"] == "completed"


def test_a_record_whose_holding_ended_since_is_settled_too() -> None:
    w = World()
    _holdings(w)
    new_alice = Actor(w.ledger, w.alice.local_id, H1, "patient", enrollment_certificate(w.alice.local_id))
    _open(w, new_alice)
    new_alice.ok("RegisterRecoveredKey", NEW_JWK)
    w.bob.ok("RevokeProxy", w.bob.id, w.alice.id)  # Alice's key to Bob's rec-b is purged
    listed = w.h1_admin.ok("GetRecoveryKeysToRewrap", w.alice.id)
    assert [k["record_id"] for k in listed["keys"]] == ["rec-1"]
    assert listed["settled"] == [{"record_id": "rec-b", "version": 1}]
    doc, _ = _rewrap(w, {"rec-1": 1, "rec-b": 1})
    _, keys = _rewrap(w, {"rec-1": 1})
    assert w.h1_admin.ok("RewrapRecoveredKeys", doc, transient=keys)["custodians"][H1]["rewrapped"] == 1
    assert _wkey("rec-b", w.alice.id) not in w.ledger.private["careledger-private"]
