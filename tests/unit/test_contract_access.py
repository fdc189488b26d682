"""The healthcare contract on the in-memory ledger: access decisions, keys, emergency access, store
verification, the audit views, and what an access transaction may open and for how long."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from .chaincode_helpers import SALT, Actor, World, digest, jwe


@pytest.fixture
def w() -> World:
    return World()


def _request(actor: Actor, record_ids: list[str], purpose: str = "treatment") -> list[dict[str, Any]]:
    return list(actor.ok("RequestAccess", {"record_ids": record_ids, "purpose": purpose})["decisions"])


def _keys(actor: Actor, txid: str) -> dict[str, Any]:
    return dict(actor.ok("GetAccessKeys", txid)["keys"])


JUSTIFICATION = "Patient unconscious in the emergency department, needs allergy history"


def _emergency(actor: Actor, record_ids: list[str], text: str = JUSTIFICATION) -> dict[str, Any]:
    transient = {"justification": text, "salt": SALT}
    return dict(actor.ok("EmergencyAccess", {"record_ids": record_ids}, transient=transient))


def test_access_needs_consent_even_at_the_custodian(w: World) -> None:
    w.create()
    assert _request(w.dr_h1, ["rec-1"])[0]["decision"] == "denied"
    assert _request(w.dr_h2, ["rec-1"])[0]["decision"] == "denied"


def test_wrong_purpose_and_wrong_role(w: World) -> None:
    w.create()
    w.give(w.dr_h2.id, ["rec-1"], purposes=["treatment"])
    assert "purpose research needs role researcher" in _request(w.dr_h2, ["rec-1"], "research")[0]["reason"]
    assert "does not cover the purpose diagnosis-ai" in _request(w.dr_h2, ["rec-1"], "diagnosis-ai")[0]["reason"]


def test_expired_and_not_yet_valid_consent(w: World) -> None:
    w.create()
    w.give(w.dr_h2.id, ["rec-1"], valid_from="2026-06-01T00:00:00Z", valid_until="2026-07-01T00:00:00Z")
    assert "not valid yet" in _request(w.dr_h2, ["rec-1"])[0]["reason"]
    w.ledger.advance(days=160)
    assert _request(w.dr_h2, ["rec-1"])[0]["decision"] == "allowed"
    w.ledger.advance(days=60)
    assert "expired" in _request(w.dr_h2, ["rec-1"])[0]["reason"]


def test_a_back_dated_proposal_is_refused(w: World) -> None:
    """Finding 5: an expired consent was used by back-dating the proposal ~50 s."""
    w.create()
    w.give(w.dr_h2.id, ["rec-1"], valid_until="2026-01-01T00:10:00Z")
    w.ledger.advance(minutes=10)
    back_dated = w.ledger.clock - datetime.timedelta(seconds=50)
    outcome = w.ledger.invoke(
        w.dr_h2.identity,
        "RequestAccess",
        json.dumps({"record_ids": ["rec-1"], "purpose": "treatment"}),
        proposal_time=back_dated,
    )
    assert outcome.status == 400
    assert outcome.message.startswith("FAILED_PRECONDITION: the proposal's timestamp is")
    assert "expired" in _request(w.dr_h2, ["rec-1"])[0]["reason"]


def test_researcher_with_research_consent(w: World) -> None:
    w.create()
    w.give(w.researcher.id, ["rec-1"], purposes=["research"])
    assert _request(w.researcher, ["rec-1"], "research")[0]["decision"] == "allowed"
    assert "needs role clinician" in _request(w.researcher, ["rec-1"], "treatment")[0]["reason"]


def test_patient_opens_own_record_only(w: World) -> None:
    w.create()
    assert _request(w.alice, ["rec-1"])[0]["decision"] == "allowed"
    txid = w.alice.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["tx_id"]
    assert _keys(w.alice, txid)["rec-1"]["wrapped_key"] == jwe("patient")
    assert _request(w.bob, ["rec-1"])[0]["decision"] == "denied"


def test_unregistered_requester_is_refused(w: World) -> None:
    ghost = Actor(w.ledger, "h2-clinician-9", "Hospital2MSP", "clinician")
    ghost.refused("NOT_AUTHORIZED", "RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})


def test_batch_of_mixed_decisions_is_audited_per_record(w: World) -> None:
    for i in range(100):
        w.create(f"rec-{i:03d}")
    w.give(w.dr_h2.id, [f"rec-{i:03d}" for i in range(0, 100, 2)])
    before = len(w.ledger.events)
    ids = [f"rec-{i:03d}" for i in range(100)] + ["rec-missing"]
    decisions = _request(w.dr_h2, ids)
    assert [d["decision"] for d in decisions[:4]] == ["allowed", "denied", "allowed", "denied"]
    assert decisions[-1]["reason"] == "no such record"
    assert sum(d["decision"] == "allowed" for d in decisions) == 50
    assert w.ledger.events[before].name == "AccessRequested"
    assert len(json.loads(w.ledger.events[before].payload)["decisions"]) == 101
    log = w.alice.ok("ListAccessByPatient", w.alice.id, "1000", "")["items"]
    assert len(log) == 100
    assert {e["requester"] for e in log} == {w.dr_h2.id}
    assert w.dr_h2.ok("ListAccessByRequester", w.dr_h2.id, "1000", "")["items"][-1]["record_id"] == "rec-missing"


def test_batch_limits(w: World) -> None:
    w.dr_h2.refused("INVALID_ARGUMENT", "RequestAccess", {"record_ids": [], "purpose": "treatment"})
    too_many = {"record_ids": [f"r{i}" for i in range(501)], "purpose": "treatment"}
    w.dr_h2.refused("INVALID_ARGUMENT", "RequestAccess", too_many)
    w.dr_h2.refused("INVALID_ARGUMENT", "RequestAccess", {"record_ids": ["r1"], "purpose": "curiosity"})


# -- emergency access ------------------------------------------------------------------------------------------
def test_emergency_access_is_flagged_and_its_text_stays_out_of_blocks(w: World) -> None:
    w.create()
    result = _emergency(w.dr_h1, ["rec-1"])
    assert result["decisions"][0]["decision"] == "allowed"
    assert _keys(w.dr_h1, result["tx_id"])["rec-1"]["wrapped_key"] == jwe("custodian")
    other = _emergency(w.dr_h2, ["rec-1"])
    assert other["decisions"][0]["key_available"] is False  # another org must ask the custodian to release the key
    assert _keys(w.dr_h2, other["tx_id"])["rec-1"]["available"] is False
    event = w.alice.ok("ListAccessByPatient", w.alice.id, "10", "")["items"][0]
    assert event["emergency"] is True
    assert event["justification_sha256"] not in (digest(JUSTIFICATION), "")  # salted: not guessable by hashing
    text = JUSTIFICATION.encode()
    assert not any(block.contains(text) for block in w.ledger.blocks)
    assert not any(text in v for v in w.ledger.state.values())
    for reader in (w.alice, w.auditor, w.dr_h1):
        assert w.alice.ok("GetJustification", result["tx_id"])["justification"] == JUSTIFICATION
        assert reader.ok("GetJustification", result["tx_id"])["justification"] == JUSTIFICATION
    for outsider in (w.bob, w.dr_h2, w.h1_admin):
        outsider.refused("NOT_AUTHORIZED", "GetJustification", result["tx_id"])


@pytest.mark.parametrize(
    ("transient", "args", "message"),
    [
        ({"justification": "because", "salt": SALT}, {}, "at least 20 letters"),
        ({"justification": " " * 40, "salt": SALT}, {}, "at least 20 letters"),
        ({"justification": "1234567890" * 5, "salt": SALT}, {}, "at least 20 letters"),
        ({"justification": JUSTIFICATION}, {}, "salt"),
        ({}, {}, "transient field 'justification'"),
        ({"justification": JUSTIFICATION, "salt": SALT}, {"justification": JUSTIFICATION}, "transient"),
    ],
)
def test_emergency_justification_rules(w: World, transient: dict[str, str], args: dict[str, str], message: str) -> None:
    w.create()
    request = {"record_ids": ["rec-1"], **args}
    assert message in w.dr_h1.refused("INVALID_ARGUMENT", "EmergencyAccess", request, transient=transient)


def test_only_clinicians_break_the_glass(w: World) -> None:
    w.create()
    transient = {"justification": JUSTIFICATION, "salt": SALT}
    w.researcher.refused("NOT_AUTHORIZED", "EmergencyAccess", {"record_ids": ["rec-1"]}, transient=transient)


# -- keys and capabilities -------------------------------------------------------------------------------------
def test_access_keys_only_from_a_committed_transaction_of_the_caller(w: World) -> None:
    w.create()
    grant = w.give(w.dr_h2.id, ["rec-1"])
    simulated = w.dr_h2.ledger.invoke(
        w.dr_h2.identity, "RequestAccess", json.dumps({"record_ids": ["rec-1"], "purpose": "treatment"}), commit=False
    )
    assert b"encrypted_key" not in simulated.payload  # an evaluate yields decisions, never keys
    w.dr_h2.refused("NOT_FOUND", "GetAccessKeys", w.ledger.last_tx_id)  # it was never committed
    txid = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["tx_id"]
    w.dr_h1.refused("NOT_AUTHORIZED", "GetAccessKeys", txid)
    assert _keys(w.dr_h2, txid)["rec-1"]["available"] is True
    w.alice.ok("RevokeConsent", grant["id"])
    assert _keys(w.dr_h2, txid)["rec-1"] == {"available": False, "reason": "consent no longer active"}


def _new_version(w: World, tag: str = "v2") -> None:
    keys = {"wrapped_keys": {w.alice.id: jwe(), "org:Hospital1MSP": jwe(), w.dr_h2.id: jwe("v2")}}
    version = {"ciphertext_sha256": digest(tag), "size": 9, "locator": f"sha256/{tag}"}
    w.alice.ok("AddRecordVersion", "rec-1", version, transient=keys)


def test_an_access_opens_only_the_version_it_decided_on(w: World) -> None:
    """Finding 6: a later version was fetched with an old access transaction."""
    w.create()
    w.give(w.dr_h2.id, ["rec-1"])
    txid = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["tx_id"]
    _new_version(w)
    key = _keys(w.dr_h2, txid)["rec-1"]
    assert key["available"] is False
    assert "newer version" in key["reason"]
    verdict = w.h1_admin.ok("VerifyAccess", txid, w.dr_h2.id, "rec-1")
    assert verdict["granted"] is False
    assert "newer version" in verdict["reason"]
    fresh = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["tx_id"]
    assert _keys(w.dr_h2, fresh)["rec-1"]["version"] == 2


def test_an_access_ends_after_its_window(w: World) -> None:
    w.create()
    w.give(w.dr_h2.id, ["rec-1"])
    result = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})
    decided = datetime.datetime.fromisoformat(result["time"].replace("Z", "+00:00"))
    assert result["open_until"] == (decided + datetime.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    w.ledger.advance(minutes=11)
    assert "request access again" in _keys(w.dr_h2, result["tx_id"])["rec-1"]["reason"]
    assert w.h1_admin.ok("VerifyAccess", result["tx_id"], w.dr_h2.id, "rec-1")["granted"] is False


def test_the_store_check_rechecks_consent(w: World) -> None:
    """Finding 2 (store side): the store released ciphertext against an access whose consent had ended."""
    w.create()
    grant = w.give(w.dr_h2.id, ["rec-1"])
    txid = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["tx_id"]
    verdict = w.h1_admin.ok("VerifyAccess", txid, w.dr_h2.id, "rec-1")
    assert verdict["granted"] is True
    assert verdict["consent_valid_until"] == "2027-01-01T00:00:00.000000Z"
    assert verdict["open_until"] > verdict["time"]
    w.alice.ok("RevokeConsent", grant["id"])
    assert "no longer active" in w.h1_admin.ok("VerifyAccess", txid, w.dr_h2.id, "rec-1")["reason"]


def test_recipients_for_new_records_and_existing_ones(w: World) -> None:
    w.create()
    w.alice.ok(
        "GrantConsent",
        w.grant(w.dr_h2.id, categories=["laboratory"]),
        transient={"wrapped_keys": {"rec-1": jwe()}},
    )
    new = w.dr_h1.ok("GetNewRecordRecipients", w.alice.id, "laboratory")
    assert [r["id"] for r in new] == [w.alice.id, w.dr_h2.id, "org:Hospital1MSP"]
    assert new[0]["public_key"]["kty"] == "EC"
    assert [r["id"] for r in w.dr_h1.ok("GetNewRecordRecipients", w.alice.id, "imaging")] == [
        w.alice.id,
        "org:Hospital1MSP",
    ]
    w.alice.refused("NOT_AUTHORIZED", "GetNewRecordRecipients", w.alice.id, "laboratory")
    assert [r["id"] for r in w.alice.ok("GetRecipients", "rec-1")] == [w.alice.id, w.dr_h2.id, "org:Hospital1MSP"]
    w.dr_h2.refused("NOT_AUTHORIZED", "GetRecipients", "rec-1")


def test_verify_access(w: World) -> None:
    w.create()
    w.create("rec-2")
    w.give(w.dr_h2.id, ["rec-1"])
    txid = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1", "rec-2"], "purpose": "treatment"})["tx_id"]
    assert w.h1_admin.ok("VerifyAccess", txid, w.dr_h2.id, "rec-1")["granted"] is True
    assert w.h1_admin.ok("VerifyAccess", txid, w.dr_h2.id, "rec-2")["granted"] is False
    assert "another requester" in w.h1_admin.ok("VerifyAccess", txid, w.dr_h1.id, "rec-1")["reason"]
    assert w.h1_admin.ok("VerifyAccess", "0" * 64, w.dr_h2.id, "rec-1")["granted"] is False
    w.bob.refused("NOT_AUTHORIZED", "VerifyAccess", txid, w.dr_h2.id, "rec-1")
    w.h1_admin.refused("INVALID_ARGUMENT", "VerifyAccess", "not-a-tx", w.dr_h2.id, "rec-1")


def test_verify_access_batch(w: World) -> None:
    w.create()
    w.create("rec-2")
    w.give(w.dr_h2.id, ["rec-1"])
    txid = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1", "rec-2"], "purpose": "treatment"})["tx_id"]
    ids = json.dumps(["rec-1", "rec-2", "rec-9"])
    verdicts = w.h1_admin.ok("VerifyAccessBatch", txid, w.dr_h2.id, ids)["verdicts"]
    assert verdicts["rec-1"]["granted"] is True
    assert verdicts["rec-1"]["ciphertext_sha256"] == digest("rec-1")
    assert verdicts["rec-2"] == {"granted": False, "reason": "that transaction did not grant this record"}
    assert verdicts["rec-9"] == {"granted": False, "reason": "no such record"}
    others = w.h2_admin.ok("VerifyAccessBatch", txid, w.dr_h2.id, json.dumps(["rec-1"]))["verdicts"]
    assert others["rec-1"]["granted"] is False  # not the custodian
    w.h1_admin.refused("INVALID_ARGUMENT", "VerifyAccessBatch", txid, w.dr_h2.id, "rec-1")


# -- audit views -----------------------------------------------------------------------------------------------
def test_audit_views_are_restricted(w: World) -> None:
    w.create()
    w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})
    assert len(w.auditor.ok("ListAllAccess", "10", "")["items"]) == 1
    w.h1_auditor.refused("NOT_AUTHORIZED", "ListAllAccess", "10", "")
    w.alice.refused("NOT_AUTHORIZED", "ListAllAccess", "10", "")
    assert len(w.dr_h1.ok("ListAccessByPatient", w.alice.id, "10", "")["items"]) == 1  # custodian staff
    assert w.dr_h2.ok("ListAccessByPatient", w.alice.id, "10", "")["items"] == []  # not the custodian
    w.bob.refused("NOT_AUTHORIZED", "ListAccessByPatient", w.alice.id, "10", "")
    w.researcher.refused("NOT_AUTHORIZED", "ListAccessByPatient", w.alice.id, "10", "")
    assert len(w.h2_admin.ok("ListAccessByRequester", w.dr_h2.id, "10", "")["items"]) == 1
    w.h1_admin.refused("NOT_AUTHORIZED", "ListAccessByRequester", w.dr_h2.id, "10", "")


def _all_pages(actor: Actor, function: str, args: list[str], page_size: int) -> list[dict[str, Any]]:
    items, bookmark, pages = [], "", 0
    while True:
        result = actor.ok(function, *args, str(page_size), bookmark)
        assert len(result["items"]) <= page_size
        items += result["items"]
        bookmark, pages = result["bookmark"], pages + 1
        if not bookmark:
            return items
        assert pages < 1000, "pagination does not end"


@pytest.mark.parametrize("page_size", [1, 3, 7, 100, 1000])
@pytest.mark.parametrize(
    ("viewer", "function", "args"),
    [
        ("auditor", "ListAllAccess", []),
        ("dr_h2", "ListAccessByRequester", ["h2-clinician-1@Hospital2MSP"]),
        ("alice", "ListAccessByPatient", ["h1-patient-1@Hospital1MSP"]),
    ],
)
def test_audit_views_page_by_event_across_and_inside_transactions(
    w: World, viewer: str, function: str, args: list[str], page_size: int
) -> None:
    """Transactions of 1, 5 and 12 decisions: every page ends where the page size says, even inside one."""
    for i in range(12):
        w.create(f"rec-{i:02d}")
    batches = [["rec-00"], [f"rec-{i:02d}" for i in range(5)], [f"rec-{i:02d}" for i in range(12)]]
    tx_ids = [w.dr_h2.ok("RequestAccess", {"record_ids": b, "purpose": "treatment"})["tx_id"] for b in batches]
    expected = [(tx, n, r) for tx, batch in zip(tx_ids, batches, strict=True) for n, r in enumerate(batch)]
    events = _all_pages(getattr(w, viewer), function, args, page_size)
    assert [(e["tx_id"], e["n"], e["record_id"]) for e in events] == expected
    assert all(e["decision"] == "denied" and e["requester"] == w.dr_h2.id for e in events)


def test_a_bookmark_not_issued_by_the_view_is_refused(w: World) -> None:
    w.create()
    w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})
    w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})
    bookmark = w.auditor.ok("ListAllAccess", "1", "")["bookmark"]
    assert bookmark
    message = w.dr_h2.refused("INVALID_ARGUMENT", "ListAccessByRequester", w.dr_h2.id, "1", bookmark)
    assert "pass back the previous page's bookmark" in message
    for forged in ("not json", json.dumps([json.loads(bookmark)[0], -1]), json.dumps([json.loads(bookmark)[0], "0"])):
        w.auditor.refused("INVALID_ARGUMENT", "ListAllAccess", "1", forged)
