"""The healthcare contract on the in-memory ledger: every function, and every refusal path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .chaincode_helpers import JWK, Actor, World, digest, jwe


@pytest.fixture
def w() -> World:
    return World()


def access_key(actor: Actor, record_ids: list[str], purpose: str = "treatment") -> dict[str, Any]:
    """Request access, then fetch the wrapped key of the first record through GetAccessKeys."""
    txid = actor.ok("RequestAccess", {"record_ids": record_ids, "purpose": purpose})["tx_id"]
    return dict(actor.ok("GetAccessKeys", txid)["keys"][record_ids[0]])


def events(w: World) -> list[str]:
    return [e.name for e in w.ledger.events]


# -- members ---------------------------------------------------------------------------------------------------
def test_register_member_takes_identity_from_the_certificate(w: World) -> None:
    member = w.alice.ok("GetMember", "h1-patient-1")
    assert member["org"] == "Hospital1MSP"
    assert member["role"] == "patient"
    assert "MemberRegistered" in events(w)


def test_register_twice_is_a_conflict(w: World) -> None:
    w.alice.refused("CONFLICT", "RegisterMember", JWK)


def test_another_org_cannot_take_a_member_id(w: World) -> None:
    impostor = Actor(w.ledger, "h1-patient-1", "Hospital2MSP", "patient")
    assert "another organization" in impostor.refused("CONFLICT", "RegisterMember", JWK)


@pytest.mark.parametrize(
    ("jwk", "message"),
    [
        ({"kty": "RSA", "n": "x", "e": "AQAB"}, "EC JWK"),
        ({**json.loads(JWK), "d": "secret"}, "private key"),
        ({"kty": "EC", "crv": "P-256", "x": "a"}, "coordinates"),
        ({**json.loads(JWK), "extra": 1}, "unexpected"),
    ],
)
def test_bad_public_keys_are_refused(w: World, jwk: dict[str, Any], message: str) -> None:
    newcomer = Actor(w.ledger, "h2-patient-9", "Hospital2MSP", "patient")
    assert message in newcomer.refused("INVALID_ARGUMENT", "RegisterMember", json.dumps(jwk))


def test_malformed_json_is_invalid_argument(w: World) -> None:
    newcomer = Actor(w.ledger, "h2-patient-9", "Hospital2MSP", "patient")
    assert "not valid JSON" in newcomer.refused("INVALID_ARGUMENT", "RegisterMember", "{not json")


def test_only_admins_register_org_keys_and_admins_are_not_members(w: World) -> None:
    w.dr_h1.refused("NOT_AUTHORIZED", "RegisterOrganizationKey", JWK)
    w.h1_admin.refused("NOT_AUTHORIZED", "RegisterMember", JWK)
    assert w.dr_h2.ok("GetMember", "org:Hospital1MSP")["role"] == "organization"


def test_certificate_without_role_is_refused(w: World) -> None:
    stranger = Actor(w.ledger, "x-1", "Hospital1MSP", "janitor")
    assert "role" in stranger.refused("NOT_AUTHORIZED", "RegisterMember", JWK)


def test_list_members_by_org_and_role(w: World) -> None:
    page = w.dr_h1.ok("ListMembers", "Hospital1MSP", "patient", "10", "")
    assert [m["id"] for m in page["items"]] == ["h1-patient-1", "h1-patient-2"]
    first = w.dr_h1.ok("ListMembers", "Hospital1MSP", "", "2", "")
    second = w.dr_h1.ok("ListMembers", "Hospital1MSP", "", "10", first["bookmark"])
    assert len(first["items"]) == 2
    assert {m["id"] for m in first["items"]}.isdisjoint({m["id"] for m in second["items"]})


def test_update_member_key(w: World) -> None:
    new_key = json.dumps({**json.loads(JWK), "kid": "v2"})
    assert w.alice.ok("UpdateMemberKey", new_key)["public_key"]["kid"] == "v2"
    Actor(w.ledger, "nobody", "Hospital1MSP", "patient").refused("NOT_FOUND", "UpdateMemberKey", JWK)


# -- records ---------------------------------------------------------------------------------------------------
def test_create_record_stores_metadata_only(w: World) -> None:
    record = w.dr_h1.ok("CreateRecord", w.record())
    assert record["custodian"] == "Hospital1MSP"
    assert record["version"] == 1
    assert "wrapped_keys" not in record
    assert w.alice.ok("GetRecord", "rec-1")["ciphertext_sha256"] == digest("rec-1")


def test_create_record_requires_every_entitled_recipient(w: World) -> None:
    doc = w.record()
    del doc["wrapped_keys"]["h1-patient-1"]
    assert "h1-patient-1" in w.dr_h1.refused("FAILED_PRECONDITION", "CreateRecord", doc)


def test_create_record_refuses_unentitled_recipients(w: World) -> None:
    doc = w.record(**{"h2-clinician-1": jwe()})
    assert "h2-clinician-1" in w.dr_h1.refused("INVALID_ARGUMENT", "CreateRecord", doc)


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda d: d.update(ciphertext_sha256="abc"), "INVALID_ARGUMENT"),
        (lambda d: d.update(size=0), "INVALID_ARGUMENT"),
        (lambda d: d.update(resource_type="Spaceship"), "INVALID_ARGUMENT"),
        (lambda d: d.update(category="Lab Results"), "INVALID_ARGUMENT"),
        (lambda d: d.update(record_id="../etc"), "INVALID_ARGUMENT"),
        (lambda d: d.update(extra=1), "INVALID_ARGUMENT"),
        (lambda d: d.pop("locator"), "INVALID_ARGUMENT"),
        (lambda d: d.update(patient_id="h9-nobody"), "NOT_FOUND"),
        (lambda d: d.update(patient_id="h1-clinician-1"), "INVALID_ARGUMENT"),
        (lambda d: d["wrapped_keys"].update({"h1-patient-1": {"not": "a jwe"}}), "INVALID_ARGUMENT"),
    ],
)
def test_create_record_validates_every_field(w: World, mutate: Any, code: str) -> None:
    doc = w.record()
    mutate(doc)
    w.dr_h1.refused(code, "CreateRecord", doc)


def test_only_clinicians_create_records(w: World) -> None:
    for actor in (w.alice, w.researcher, w.auditor, w.h1_admin):
        w.dr_h1.ledger  # noqa: B018
        actor.refused("NOT_AUTHORIZED", "CreateRecord", w.record())


def test_custodian_needs_an_org_key(w: World) -> None:
    fresh = World()
    fresh.ledger.state = {k: v for k, v in fresh.ledger.state.items() if "org:Hospital2MSP" not in k}
    doc = fresh.record(patient=fresh.alice)
    doc["wrapped_keys"] = {"h1-patient-1": jwe(), "org:Hospital2MSP": jwe()}
    assert "RegisterOrganizationKey" in fresh.dr_h2.refused("FAILED_PRECONDITION", "CreateRecord", doc)


def test_duplicate_record_is_a_conflict(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    w.dr_h1.refused("CONFLICT", "CreateRecord", w.record())


def test_record_visibility(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    w.dr_h2.refused("NOT_AUTHORIZED", "GetRecord", "rec-1")
    w.bob.refused("NOT_AUTHORIZED", "GetRecord", "rec-1")
    w.researcher.refused("NOT_AUTHORIZED", "GetRecord", "rec-1")
    w.h1_auditor.refused("NOT_AUTHORIZED", "GetRecord", "rec-1")
    assert w.auditor.ok("GetRecord", "rec-1")["id"] == "rec-1"
    assert w.dr_h1.ok("GetRecord", "rec-1")["id"] == "rec-1"
    w.alice.refused("NOT_FOUND", "GetRecord", "rec-404")


def test_new_version_needs_keys_for_all_current_recipients(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    version = {
        "ciphertext_sha256": digest("v2"),
        "size": 99,
        "locator": "sha256/v2",
        "wrapped_keys": {"h1-patient-1": jwe()},
    }
    w.dr_h1.refused("FAILED_PRECONDITION", "AddRecordVersion", "rec-1", version)
    version["wrapped_keys"]["org:Hospital1MSP"] = jwe()
    assert w.dr_h1.ok("AddRecordVersion", "rec-1", version)["version"] == 2
    w.dr_h2.refused("NOT_AUTHORIZED", "AddRecordVersion", "rec-1", version)
    w.bob.refused("NOT_AUTHORIZED", "AddRecordVersion", "rec-1", version)
    assert w.alice.ok("AddRecordVersion", "rec-1", version)["version"] == 3
    history = w.alice.ok("GetRecordHistory", "rec-1")
    assert [h["value"]["version"] for h in history] == [3, 2, 1]


def test_list_patient_records_paginates_and_filters(w: World) -> None:
    for i in range(5):
        w.dr_h1.ok("CreateRecord", w.record(f"rec-{i}"))
    first = w.alice.ok("ListPatientRecords", "h1-patient-1", "2", "")
    rest = w.alice.ok("ListPatientRecords", "h1-patient-1", "10", first["bookmark"])
    assert [r["id"] for r in first["items"] + rest["items"]] == [f"rec-{i}" for i in range(5)]
    w.dr_h2.refused("NOT_AUTHORIZED", "ListPatientRecords", "h1-patient-1", "10", "")
    w.alice.refused("INVALID_ARGUMENT", "ListPatientRecords", "h1-patient-1", "0", "")
    w.alice.refused("INVALID_ARGUMENT", "ListPatientRecords", "h1-patient-1", "many", "")


def test_erase_drops_every_key_and_refuses_later_access(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    w.alice.ok("GrantConsent", w.grant("h2-clinician-1", ["rec-1"]))
    w.bob.refused("NOT_AUTHORIZED", "EraseRecord", "rec-1")
    w.dr_h1.refused("NOT_AUTHORIZED", "EraseRecord", "rec-1")
    erased = w.alice.ok("EraseRecord", "rec-1")
    assert erased["status"] == "erased"
    assert "ciphertext_sha256" not in erased
    assert not [k for k in w.ledger.state if k.startswith("\x00wkey\x00rec-1\x00")]
    decision = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["decisions"][0]
    assert decision["decision"] == "denied"
    assert "erased" in decision["reason"]
    w.alice.refused("FAILED_PRECONDITION", "EraseRecord", "rec-1")


# -- consent ---------------------------------------------------------------------------------------------------
def test_grant_by_record_gives_the_grantee_a_wrapped_key(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    grant = w.alice.ok("GrantConsent", w.grant("h2-clinician-1", ["rec-1"]))
    assert grant["grant_id" if "grant_id" in grant else "id"].startswith("g-")
    assert grant["keyed_records"] == ["rec-1"]
    decision = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["decisions"][0]
    assert decision["decision"] == "allowed"
    assert "wrapped_key" not in decision  # keys only through GetAccessKeys, after the audit committed
    assert access_key(w.dr_h2, ["rec-1"])["wrapped_key"] == jwe("h2-clinician-1")


@pytest.mark.parametrize("who", ["dr_h1", "researcher", "auditor", "h1_admin"])
def test_only_patients_grant(w: World, who: str) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    getattr(w, who).refused("NOT_AUTHORIZED", "GrantConsent", w.grant("h2-clinician-1", ["rec-1"]))


def test_a_patient_cannot_grant_another_patients_record(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    assert "not yours" in w.bob.refused("NOT_AUTHORIZED", "GrantConsent", w.grant("h2-clinician-1", ["rec-1"]))


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda g: g.update(grantee="h9-unknown"), "NOT_FOUND"),
        (lambda g: g.update(grantee="h1-patient-2"), "INVALID_ARGUMENT"),
        (lambda g: g.update(grantee="h1-patient-1"), "INVALID_ARGUMENT"),
        (lambda g: g.update(purposes=["marketing"]), "INVALID_ARGUMENT"),
        (lambda g: g.update(purposes=[]), "INVALID_ARGUMENT"),
        (lambda g: g.update(valid_until="2025-01-01T00:00:00Z"), "INVALID_ARGUMENT"),
        (lambda g: g.update(valid_until="2027-01-01T00:00:00"), "INVALID_ARGUMENT"),
        (lambda g: g.update(valid_until="tomorrow"), "INVALID_ARGUMENT"),
        (lambda g: g.update(record_ids=[], categories=[]), "INVALID_ARGUMENT"),
        (lambda g: g.update(record_ids=["rec-404"]), "NOT_FOUND"),
        (lambda g: g.update(wrapped_keys={}), "FAILED_PRECONDITION"),
        (lambda g: g["wrapped_keys"].update({"rec-2": jwe()}), "INVALID_ARGUMENT"),
        (lambda g: g.update(record_ids=["rec-1", "rec-1"]), "INVALID_ARGUMENT"),
    ],
)
def test_grant_validation(w: World, mutate: Any, code: str) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    doc = w.grant("h2-clinician-1", ["rec-1"])
    mutate(doc)
    w.alice.refused(code, "GrantConsent", doc)


def test_category_grant_covers_later_records_which_must_wrap_for_the_grantee(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record("rec-1", category="imaging"))
    grant = w.alice.ok(
        "GrantConsent",
        w.grant("h2-clinician-1", categories=["laboratory"], purposes=["treatment", "diagnosis-ai"]),
    )
    assert grant["keyed_records"] == []
    assert "h2-clinician-1" in w.dr_h1.refused("FAILED_PRECONDITION", "CreateRecord", w.record("rec-2"))
    w.dr_h1.ok("CreateRecord", w.record("rec-2", **{"h2-clinician-1": jwe("late")}))
    decisions = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1", "rec-2"], "purpose": "diagnosis-ai"})["decisions"]
    assert [d["decision"] for d in decisions] == ["denied", "allowed"]
    assert w.alice.ok("GetGrant", grant["id"])["keyed_records"] == ["rec-2"]


def test_a_revoked_category_grant_no_longer_covers_new_records(w: World) -> None:
    grant = w.alice.ok("GrantConsent", w.grant("h2-clinician-1", categories=["laboratory"]))
    w.alice.ok("GrantConsent", w.grant("h2-clinician-1", categories=["imaging"]))  # another category: not needed
    assert "h2-clinician-1" in w.dr_h1.refused("FAILED_PRECONDITION", "CreateRecord", w.record("rec-1"))
    w.alice.ok("RevokeConsent", grant["id"])
    assert "h2-clinician-1 may not receive" in w.dr_h1.refused(
        "INVALID_ARGUMENT", "CreateRecord", w.record("rec-1", **{"h2-clinician-1": jwe("extra")})
    )
    w.dr_h1.ok("CreateRecord", w.record("rec-1"))
    assert not [k for k in w.ledger.state if k.startswith("\x00grant-pc\x00h1-patient-1\x00laboratory")]


def test_org_grant_lets_that_orgs_clinicians_in(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    w.alice.ok("GrantConsent", w.grant("org:Hospital2MSP", ["rec-1"]))
    assert access_key(w.dr_h2, ["rec-1"])["wrapped_key"] == jwe("org:Hospital2MSP")
    assert w.dr_h2.ok("ListGrantsByGrantee", "org:Hospital2MSP", "10", "")["items"][0]["patient_id"] == "h1-patient-1"
    w.dr_h1.refused("NOT_AUTHORIZED", "ListGrantsByGrantee", "org:Hospital2MSP", "10", "")


def test_revoke_stops_access_at_once(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    grant = w.alice.ok("GrantConsent", w.grant("h2-clinician-1", ["rec-1"]))
    w.bob.refused("NOT_AUTHORIZED", "RevokeConsent", grant["id"])
    w.dr_h2.refused("NOT_AUTHORIZED", "RevokeConsent", grant["id"])
    w.alice.ok("RevokeConsent", grant["id"])
    assert not [k for k in w.ledger.state if k.startswith("\x00wkey\x00rec-1\x00h2-clinician-1")]
    decision = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["decisions"][0]
    assert decision == {
        "record_id": "rec-1",
        "decision": "denied",
        "reason": "no consent from the patient covers this record",
    }
    w.alice.refused("FAILED_PRECONDITION", "RevokeConsent", grant["id"])
    assert [h["value"]["status"] for h in w.alice.ok("GetGrantHistory", grant["id"])] == ["revoked", "active"]


def test_revoking_one_of_two_grants_keeps_the_other(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    first = w.alice.ok("GrantConsent", w.grant("h2-clinician-1", ["rec-1"]))
    w.alice.ok("GrantConsent", w.grant("h2-clinician-1", ["rec-1"], purposes=["diagnosis-ai"]))
    w.alice.ok("RevokeConsent", first["id"])
    decisions = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "diagnosis-ai"})["decisions"]
    assert decisions[0]["decision"] == "allowed"
    denied = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["decisions"][0]
    assert "does not cover the purpose treatment" in denied["reason"]


def test_grant_lists_and_visibility(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    grant = w.alice.ok("GrantConsent", w.grant("h2-clinician-1", ["rec-1"]))
    assert [g["id"] for g in w.alice.ok("ListGrantsByPatient", "h1-patient-1", "10", "")["items"]] == [grant["id"]]
    assert [g["id"] for g in w.auditor.ok("ListGrantsByPatient", "h1-patient-1", "10", "")["items"]] == [grant["id"]]
    w.bob.refused("NOT_AUTHORIZED", "ListGrantsByPatient", "h1-patient-1", "10", "")
    w.dr_h2.refused("NOT_AUTHORIZED", "ListGrantsByPatient", "h1-patient-1", "10", "")
    assert w.dr_h2.ok("GetGrant", grant["id"])["grantee"] == "h2-clinician-1"
    w.bob.refused("NOT_AUTHORIZED", "GetGrant", grant["id"])
    w.bob.refused("NOT_AUTHORIZED", "ListGrantsByGrantee", "h2-clinician-1", "10", "")


# -- access ---------------------------------------------------------------------------------------------------
def _request(actor: Actor, record_ids: list[str], purpose: str = "treatment") -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = actor.ok("RequestAccess", {"record_ids": record_ids, "purpose": purpose})[
        "decisions"
    ]
    return result


def test_access_needs_consent_even_at_the_custodian(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    assert _request(w.dr_h1, ["rec-1"])[0]["decision"] == "denied"
    assert _request(w.dr_h2, ["rec-1"])[0]["decision"] == "denied"


def test_wrong_purpose_and_wrong_role(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    w.alice.ok("GrantConsent", w.grant("h2-clinician-1", ["rec-1"], purposes=["treatment"]))
    assert "purpose research needs role researcher" in _request(w.dr_h2, ["rec-1"], "research")[0]["reason"]
    assert "does not cover the purpose diagnosis-ai" in _request(w.dr_h2, ["rec-1"], "diagnosis-ai")[0]["reason"]


def test_expired_and_not_yet_valid_consent(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    w.alice.ok(
        "GrantConsent",
        w.grant("h2-clinician-1", ["rec-1"], valid_from="2026-06-01T00:00:00Z", valid_until="2026-07-01T00:00:00Z"),
    )
    assert "not valid yet" in _request(w.dr_h2, ["rec-1"])[0]["reason"]
    w.ledger.advance(days=160)
    assert _request(w.dr_h2, ["rec-1"])[0]["decision"] == "allowed"
    w.ledger.advance(days=60)
    assert "expired" in _request(w.dr_h2, ["rec-1"])[0]["reason"]


def test_researcher_with_research_consent(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    w.alice.ok("GrantConsent", w.grant("h1-researcher-1", ["rec-1"], purposes=["research"]))
    assert _request(w.researcher, ["rec-1"], "research")[0]["decision"] == "allowed"
    assert "needs role clinician" in _request(w.researcher, ["rec-1"], "treatment")[0]["reason"]


def test_patient_opens_own_record_only(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    assert _request(w.alice, ["rec-1"])[0]["decision"] == "allowed"
    assert access_key(w.alice, ["rec-1"])["wrapped_key"] == jwe("patient")
    assert _request(w.bob, ["rec-1"])[0]["decision"] == "denied"


def test_unregistered_requester_is_refused(w: World) -> None:
    ghost = Actor(w.ledger, "h2-clinician-9", "Hospital2MSP", "clinician")
    ghost.refused("NOT_AUTHORIZED", "RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})


def test_batch_of_mixed_decisions_is_audited_per_record(w: World) -> None:
    for i in range(100):
        w.dr_h1.ok("CreateRecord", w.record(f"rec-{i:03d}"))
    w.alice.ok("GrantConsent", w.grant("h2-clinician-1", [f"rec-{i:03d}" for i in range(0, 100, 2)]))
    before = len(w.ledger.events)
    result = w.dr_h2.ok(
        "RequestAccess",
        {"record_ids": [f"rec-{i:03d}" for i in range(100)] + ["rec-missing"], "purpose": "treatment"},
    )
    decisions = result["decisions"]
    assert [d["decision"] for d in decisions[:4]] == ["allowed", "denied", "allowed", "denied"]
    assert decisions[-1]["reason"] == "no such record"
    assert sum(d["decision"] == "allowed" for d in decisions) == 50
    assert w.ledger.events[before].name == "AccessRequested"
    payload = json.loads(w.ledger.events[before].payload)
    assert len(payload["decisions"]) == 101
    log = w.alice.ok("ListAccessByPatient", "h1-patient-1", "1000", "")["items"]
    assert len(log) == 100
    assert {e["requester"] for e in log} == {"h2-clinician-1"}
    assert w.dr_h2.ok("ListAccessByRequester", "h2-clinician-1", "1000", "")["items"][-1]["record_id"] == "rec-missing"


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
        ("dr_h2", "ListAccessByRequester", ["h2-clinician-1"]),
        ("alice", "ListAccessByPatient", ["h1-patient-1"]),
    ],
)
def test_audit_views_page_by_event_across_and_inside_transactions(
    w: World, viewer: str, function: str, args: list[str], page_size: int
) -> None:
    """Transactions of 1, 5 and 12 decisions: every page ends where the page size says, even inside one."""
    for i in range(12):
        w.dr_h1.ok("CreateRecord", w.record(f"rec-{i:02d}"))
    batches = [["rec-00"], [f"rec-{i:02d}" for i in range(5)], [f"rec-{i:02d}" for i in range(12)]]
    tx_ids = [w.dr_h2.ok("RequestAccess", {"record_ids": b, "purpose": "treatment"})["tx_id"] for b in batches]
    expected = [(tx, n, r) for tx, batch in zip(tx_ids, batches, strict=True) for n, r in enumerate(batch)]
    events = _all_pages(getattr(w, viewer), function, args, page_size)
    assert [(e["tx_id"], e["n"], e["record_id"]) for e in events] == expected
    assert all(e["decision"] == "denied" and e["requester"] == "h2-clinician-1" for e in events)


def test_a_bookmark_not_issued_by_the_view_is_refused(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})
    w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})
    bookmark = w.auditor.ok("ListAllAccess", "1", "")["bookmark"]
    assert bookmark
    message = w.dr_h2.refused("INVALID_ARGUMENT", "ListAccessByRequester", "h2-clinician-1", "1", bookmark)
    assert "pass back the previous page's bookmark" in message
    for forged in ("not json", json.dumps([json.loads(bookmark)[0], -1]), json.dumps([json.loads(bookmark)[0], "0"])):
        w.auditor.refused("INVALID_ARGUMENT", "ListAllAccess", "1", forged)


def test_batch_limits(w: World) -> None:
    w.dr_h2.refused("INVALID_ARGUMENT", "RequestAccess", {"record_ids": [], "purpose": "treatment"})
    w.dr_h2.refused(
        "INVALID_ARGUMENT",
        "RequestAccess",
        {"record_ids": [f"r{i}" for i in range(501)], "purpose": "treatment"},
    )
    w.dr_h2.refused("INVALID_ARGUMENT", "RequestAccess", {"record_ids": ["r1"], "purpose": "curiosity"})


def test_emergency_access_is_flagged_and_keeps_no_justification_text(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    justification = "Patient unconscious in the emergency department, needs allergy history"
    result = w.dr_h1.ok("EmergencyAccess", {"record_ids": ["rec-1"], "justification": justification})
    assert result["decisions"][0]["decision"] == "allowed"
    keys = w.dr_h1.ok("GetAccessKeys", result["tx_id"])["keys"]["rec-1"]
    assert keys["wrapped_key"] == jwe("custodian")  # the custodian's clinician gets the custodian's key
    other = w.dr_h2.ok("EmergencyAccess", {"record_ids": ["rec-1"], "justification": justification})
    assert other["decisions"][0]["key_available"] is False  # another org must ask the custodian to release the key
    assert w.dr_h2.ok("GetAccessKeys", other["tx_id"])["keys"]["rec-1"]["available"] is False
    event = w.alice.ok("ListAccessByPatient", "h1-patient-1", "10", "")["items"][0]
    assert event["emergency"] is True
    assert event["justification_sha256"] == digest(justification)
    assert not any(justification.encode() in v for v in w.ledger.state.values())
    w.dr_h1.refused("INVALID_ARGUMENT", "EmergencyAccess", {"record_ids": ["rec-1"], "justification": "because"})
    w.researcher.refused("NOT_AUTHORIZED", "EmergencyAccess", {"record_ids": ["rec-1"], "justification": justification})


def test_access_keys_only_from_a_committed_transaction_of_the_caller(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    grant = w.alice.ok("GrantConsent", w.grant("h2-clinician-1", ["rec-1"]))
    simulated = w.dr_h2.ledger.invoke(
        w.dr_h2.identity, "RequestAccess", json.dumps({"record_ids": ["rec-1"], "purpose": "treatment"}), commit=False
    )
    assert b"encrypted_key" not in simulated.payload  # an evaluate yields decisions, never keys
    w.dr_h2.refused("NOT_FOUND", "GetAccessKeys", w.ledger.last_tx_id)  # it was never committed
    txid = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["tx_id"]
    w.dr_h1.refused("NOT_AUTHORIZED", "GetAccessKeys", txid)
    assert w.dr_h2.ok("GetAccessKeys", txid)["keys"]["rec-1"]["available"] is True
    w.alice.ok("RevokeConsent", grant["id"])
    assert w.dr_h2.ok("GetAccessKeys", txid)["keys"]["rec-1"] == {
        "available": False,
        "reason": "consent no longer active",
    }


def test_recipients_for_new_records_and_existing_ones(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    w.alice.ok("GrantConsent", w.grant("h2-clinician-1", categories=["laboratory"], wrapped_keys={"rec-1": jwe()}))
    new = w.dr_h1.ok("GetNewRecordRecipients", "h1-patient-1", "laboratory")
    assert [r["id"] for r in new] == ["h1-patient-1", "h2-clinician-1", "org:Hospital1MSP"]
    assert new[0]["public_key"]["kty"] == "EC"
    assert [r["id"] for r in w.dr_h1.ok("GetNewRecordRecipients", "h1-patient-1", "imaging")] == [
        "h1-patient-1",
        "org:Hospital1MSP",
    ]
    w.alice.refused("NOT_AUTHORIZED", "GetNewRecordRecipients", "h1-patient-1", "laboratory")
    holders = [r["id"] for r in w.alice.ok("GetRecipients", "rec-1")]
    assert holders == ["h1-patient-1", "h2-clinician-1", "org:Hospital1MSP"]
    w.dr_h2.refused("NOT_AUTHORIZED", "GetRecipients", "rec-1")


def test_verify_access(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    w.dr_h1.ok("CreateRecord", w.record("rec-2"))
    w.alice.ok("GrantConsent", w.grant("h2-clinician-1", ["rec-1"]))
    txid = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1", "rec-2"], "purpose": "treatment"})["tx_id"]
    assert w.h1_admin.ok("VerifyAccess", txid, "h2-clinician-1", "rec-1")["granted"] is True
    assert w.h1_admin.ok("VerifyAccess", txid, "h2-clinician-1", "rec-2")["granted"] is False
    assert "another requester" in w.h1_admin.ok("VerifyAccess", txid, "h1-clinician-1", "rec-1")["reason"]
    assert w.h1_admin.ok("VerifyAccess", "0" * 64, "h2-clinician-1", "rec-1")["granted"] is False
    w.bob.refused("NOT_AUTHORIZED", "VerifyAccess", txid, "h2-clinician-1", "rec-1")
    w.h1_admin.refused("INVALID_ARGUMENT", "VerifyAccess", "not-a-tx", "h2-clinician-1", "rec-1")


def test_audit_views_are_restricted(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})
    assert len(w.auditor.ok("ListAllAccess", "10", "")["items"]) == 1
    w.h1_auditor.refused("NOT_AUTHORIZED", "ListAllAccess", "10", "")
    w.alice.refused("NOT_AUTHORIZED", "ListAllAccess", "10", "")
    assert len(w.dr_h1.ok("ListAccessByPatient", "h1-patient-1", "10", "")["items"]) == 1  # custodian staff
    assert w.dr_h2.ok("ListAccessByPatient", "h1-patient-1", "10", "")["items"] == []  # not the custodian
    w.bob.refused("NOT_AUTHORIZED", "ListAccessByPatient", "h1-patient-1", "10", "")
    w.researcher.refused("NOT_AUTHORIZED", "ListAccessByPatient", "h1-patient-1", "10", "")
    assert len(w.h2_admin.ok("ListAccessByRequester", "h2-clinician-1", "10", "")["items"]) == 1
    w.h1_admin.refused("NOT_AUTHORIZED", "ListAccessByRequester", "h2-clinician-1", "10", "")


# -- models and inferences -----------------------------------------------------------------------------------------
def model_doc(version: str = "1.0.0") -> dict[str, Any]:
    return {
        "model_id": "breast-cancer-xgb",
        "version": version,
        "artifact_sha256": digest("artifact" + version),
        "format": "xgboost-json",
        "training_data_fingerprint": digest("rows"),
        "feature_schema": [{"name": "mean radius", "type": "float", "unit": "mm", "min": 0, "max": 50}],
        "parameters": {"max_depth": 4, "seed": 7},
        "metrics": {"auc": 0.99, "accuracy": 0.96},
        "subgroup_metrics": {"large-tumours": {"auc": 0.97}},
        "code_ref": "git:abc123",
    }


def test_model_lifecycle(w: World) -> None:
    w.dr_h1.refused("NOT_AUTHORIZED", "RegisterModel", model_doc())
    model = w.researcher.ok("RegisterModel", model_doc())
    assert model["status"] == "registered"
    w.researcher.refused("CONFLICT", "RegisterModel", model_doc())
    w.h1_auditor.refused("NOT_AUTHORIZED", "ApproveModel", "breast-cancer-xgb", "1.0.0")
    w.researcher.refused("NOT_AUTHORIZED", "ApproveModel", "breast-cancer-xgb", "1.0.0")
    assert w.auditor.ok("ApproveModel", "breast-cancer-xgb", "1.0.0")["status"] == "approved"
    w.auditor.refused("FAILED_PRECONDITION", "ApproveModel", "breast-cancer-xgb", "1.0.0")
    assert w.auditor.ok("RetireModel", "breast-cancer-xgb", "1.0.0", "superseded")["status"] == "retired"
    w.auditor.refused("FAILED_PRECONDITION", "RetireModel", "breast-cancer-xgb", "1.0.0", "again")
    w.researcher.ok("RegisterModel", model_doc("1.1.0"))
    assert [m["version"] for m in w.dr_h2.ok("ListModels", "breast-cancer-xgb", "10", "")["items"]] == [
        "1.0.0",
        "1.1.0",
    ]
    w.dr_h2.refused("NOT_FOUND", "GetModel", "breast-cancer-xgb", "9.9.9")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m.update(version="v1"),
        lambda m: m.update(format="pickle"),
        lambda m: m.update(feature_schema=[]),
        lambda m: m.update(metrics={"auc": "high"}),
        lambda m: m.update(feature_schema=[{"name": "x", "type": "complex"}]),
        lambda m: m.update(parameters={"blob": "x" * 20000}),
    ],
)
def test_model_validation(w: World, mutate: Any) -> None:
    doc = model_doc()
    mutate(doc)
    w.researcher.refused("INVALID_ARGUMENT", "RegisterModel", doc)


def _inference_setup(w: World, purposes: list[str]) -> tuple[str, str]:
    w.dr_h1.ok("CreateRecord", w.record())
    grant = w.alice.ok("GrantConsent", w.grant("h2-clinician-1", ["rec-1"], purposes=purposes))
    w.researcher.ok("RegisterModel", model_doc())
    txid = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": purposes[0]})["tx_id"]
    return txid, grant["id"]


def _inference_batch(txid: str, record: str = "rec-1") -> dict[str, Any]:
    return {
        "model_id": "breast-cancer-xgb",
        "version": "1.0.0",
        "access_tx_id": txid,
        "inferences": [
            {
                "record_id": record,
                "input_sha256": digest("in"),
                "output": {"malignant": 0.93},
                "explanation_sha256": digest("ex"),
            }
        ],
    }


def test_inferences_need_an_approved_model(w: World) -> None:
    txid, _ = _inference_setup(w, ["diagnosis-ai"])
    assert "not approved" in w.dr_h2.refused("FAILED_PRECONDITION", "RecordInferences", _inference_batch(txid))
    w.auditor.ok("ApproveModel", "breast-cancer-xgb", "1.0.0")
    assert w.dr_h2.ok("RecordInferences", _inference_batch(txid))["count"] == 1
    w.auditor.ok("RetireModel", "breast-cancer-xgb", "1.0.0", "drift")
    w.dr_h2.refused("FAILED_PRECONDITION", "RecordInferences", _inference_batch(txid))


def test_inferences_listed_per_record_and_patient(w: World) -> None:
    txid, _ = _inference_setup(w, ["diagnosis-ai"])
    w.auditor.ok("ApproveModel", "breast-cancer-xgb", "1.0.0")
    w.dr_h2.ok("RecordInferences", _inference_batch(txid))
    by_patient = w.alice.ok("ListInferencesByPatient", "h1-patient-1", "10", "")["items"]
    assert by_patient[0]["output"] == {"malignant": 0.93}
    assert by_patient[0]["access_tx_id"] == txid
    assert w.dr_h1.ok("ListInferencesByRecord", "rec-1", "10", "")["items"] == by_patient
    w.bob.refused("NOT_AUTHORIZED", "ListInferencesByPatient", "h1-patient-1", "10", "")


def test_inferences_need_a_diagnosis_ai_decision_by_the_caller(w: World) -> None:
    txid, _ = _inference_setup(w, ["treatment"])
    w.auditor.ok("ApproveModel", "breast-cancer-xgb", "1.0.0")
    assert "diagnosis-ai" in w.dr_h2.refused("NOT_AUTHORIZED", "RecordInferences", _inference_batch(txid))
    w.dr_h1.refused("NOT_AUTHORIZED", "RecordInferences", _inference_batch(txid))
    w.dr_h2.refused("NOT_FOUND", "RecordInferences", _inference_batch("0" * 64))


def test_inferences_refused_once_consent_is_revoked(w: World) -> None:
    txid, grant_id = _inference_setup(w, ["diagnosis-ai"])
    w.auditor.ok("ApproveModel", "breast-cancer-xgb", "1.0.0")
    w.alice.ok("RevokeConsent", grant_id)
    assert "no longer active" in w.dr_h2.refused("NOT_AUTHORIZED", "RecordInferences", _inference_batch(txid))


@pytest.mark.parametrize(
    ("second_grant", "lapse", "recorded"),
    [
        (None, "revoke", False),
        (None, "expire", False),
        ("to the clinician", "revoke", True),  # another current consent still covers the record
        ("to the organization", "revoke", True),
        ("for treatment only", "revoke", False),
    ],
)
def test_inferences_after_the_deciding_consent_lapsed(
    w: World, second_grant: str | None, lapse: str, recorded: bool
) -> None:
    txid, grant_id = _inference_setup(w, ["diagnosis-ai"])
    w.auditor.ok("ApproveModel", "breast-cancer-xgb", "1.0.0")
    if second_grant == "to the clinician":
        w.alice.ok("GrantConsent", w.grant("h2-clinician-1", ["rec-1"], purposes=["diagnosis-ai", "treatment"]))
    elif second_grant == "to the organization":
        w.alice.ok("GrantConsent", w.grant("org:Hospital2MSP", ["rec-1"], purposes=["diagnosis-ai"]))
    elif second_grant == "for treatment only":
        w.alice.ok("GrantConsent", w.grant("h2-clinician-1", ["rec-1"], purposes=["treatment"]))
    if lapse == "revoke":
        w.alice.ok("RevokeConsent", grant_id)
    else:
        w.ledger.advance(days=400)  # past the grant's valid_until
    if recorded:
        assert w.dr_h2.ok("RecordInferences", _inference_batch(txid))["count"] == 1
    else:
        assert "no longer active" in w.dr_h2.refused("NOT_AUTHORIZED", "RecordInferences", _inference_batch(txid))


def test_inferences_only_on_allowed_records(w: World) -> None:
    txid, _ = _inference_setup(w, ["diagnosis-ai"])
    w.auditor.ok("ApproveModel", "breast-cancer-xgb", "1.0.0")
    w.dr_h1.ok("CreateRecord", w.record("rec-2"))
    w.dr_h2.refused("NOT_AUTHORIZED", "RecordInferences", _inference_batch(txid, "rec-2"))


# -- dispatch ---------------------------------------------------------------------------------------------------
def test_unknown_function_and_wrong_arity(w: World) -> None:
    assert "known:" in w.alice.refused("UNKNOWN_FUNCTION", "DropAllTables")
    assert "takes 1 arguments" in w.alice.refused("INVALID_ARGUMENT", "GetRecord")


def test_a_refused_transaction_writes_nothing(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    before = dict(w.ledger.state)
    doc = w.grant("h2-clinician-1", ["rec-1"])
    doc["wrapped_keys"] = {}
    w.alice.refused("FAILED_PRECONDITION", "GrantConsent", doc)
    assert w.ledger.state == before


def test_state_is_deterministic_json(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    for value in w.ledger.state.values():
        if value != b"\x00":
            assert (
                value
                == json.dumps(json.loads(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            )


def test_read_only_functions_are_marked() -> None:
    from careledger_chaincode.contracts import all_contracts
    from careledger_chaincode.runtime import Router

    described = Router(all_contracts()).describe()
    reads = {n for n, d in described.items() if d["read_only"] and ":" not in n}
    assert reads == {
        "GetMember",
        "ListMembers",
        "GetRecord",
        "ListPatientRecords",
        "GetGrant",
        "ListGrantsByPatient",
        "ListGrantsByGrantee",
        "GetGrantHistory",
        "VerifyAccess",
        "ListAccessByPatient",
        "ListAccessByRequester",
        "ListAllAccess",
        "GetRecordHistory",
        "GetModel",
        "ListModels",
        "ListInferencesByRecord",
        "ListInferencesByPatient",
        "GetAccessKeys",
        "GetNewRecordRecipients",
        "GetRecipients",
        "VerifyAccessBatch",
    }


def test_verify_access_batch(w: World) -> None:
    w.dr_h1.ok("CreateRecord", w.record())
    w.dr_h1.ok("CreateRecord", w.record("rec-2"))
    w.alice.ok("GrantConsent", w.grant("h2-clinician-1", ["rec-1"]))
    txid = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1", "rec-2"], "purpose": "treatment"})["tx_id"]
    verdicts = w.h1_admin.ok("VerifyAccessBatch", txid, "h2-clinician-1", json.dumps(["rec-1", "rec-2", "rec-9"]))[
        "verdicts"
    ]
    assert verdicts["rec-1"]["granted"] is True
    assert verdicts["rec-1"]["ciphertext_sha256"] == digest("rec-1")
    assert verdicts["rec-2"] == {"granted": False, "reason": "that transaction did not grant this record"}
    assert verdicts["rec-9"] == {"granted": False, "reason": "no such record"}
    others = w.h2_admin.ok("VerifyAccessBatch", txid, "h2-clinician-1", json.dumps(["rec-1"]))["verdicts"]
    assert others["rec-1"]["granted"] is False  # not the custodian
    w.h1_admin.refused("INVALID_ARGUMENT", "VerifyAccessBatch", txid, "h2-clinician-1", "rec-1")
