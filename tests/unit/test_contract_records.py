"""The healthcare contract on the in-memory ledger: members and records, and their refusal paths."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jwcrypto.jwk import JWK as JoseJWK

from .chaincode_helpers import H1, H2, JWK, Actor, World, digest, jwe


@pytest.fixture
def w() -> World:
    return World()


def events(w: World) -> list[str]:
    return [e.name for e in w.ledger.events]


# -- members ---------------------------------------------------------------------------------------------------
def test_register_member_takes_identity_from_the_certificate(w: World) -> None:
    member = w.alice.ok("GetMember", "h1-patient-1@Hospital1MSP")
    assert member["org"] == H1
    assert member["role"] == "patient"
    assert "MemberRegistered" in events(w)
    assert w.alice.ok("WhoAmI") == {"member_id": w.alice.id, "org": H1, "role": "patient", "registered": True}


def test_register_twice_is_a_conflict(w: World) -> None:
    w.alice.refused("CONFLICT", "RegisterMember", JWK)


def test_another_org_cannot_take_or_preempt_a_member_id(w: World) -> None:
    """Hospital2 enrolls a certificate with a Hospital1 patient's member_id: it names another member."""
    impostor = Actor(w.ledger, "h1-patient-1", H2, "patient")
    impostor.ok("RegisterMember", JWK)
    assert impostor.id == "h1-patient-1@Hospital2MSP"
    assert w.alice.ok("GetMember", w.alice.id)["org"] == H1
    # ... and pre-empting an id not yet registered does not lock its owner out either.
    newcomer = Actor(w.ledger, "h1-patient-9", H1, "patient")
    Actor(w.ledger, "h1-patient-9", H2, "patient").ok("RegisterMember", JWK)
    assert newcomer.ok("RegisterMember", JWK)["id"] == "h1-patient-9@Hospital1MSP"
    # A record for the real patient is keyed for the real patient only.
    w.create()
    assert [r["id"] for r in w.dr_h1.ok("GetNewRecordRecipients", w.alice.id, "laboratory")] == [
        w.alice.id,
        "org:Hospital1MSP",
    ]


def test_member_id_attributes_with_an_at_sign_are_refused(w: World) -> None:
    forged = Actor(w.ledger, "h1-patient-1@Hospital1MSP", H2, "patient")
    assert "member_id" in forged.refused("NOT_AUTHORIZED", "RegisterMember", JWK)


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
    newcomer = Actor(w.ledger, "h2-patient-9", H2, "patient")
    assert message in newcomer.refused("INVALID_ARGUMENT", "RegisterMember", json.dumps(jwk))


def test_malformed_json_is_invalid_argument(w: World) -> None:
    newcomer = Actor(w.ledger, "h2-patient-9", H2, "patient")
    assert "not valid JSON" in newcomer.refused("INVALID_ARGUMENT", "RegisterMember", "{not json")


def test_only_admins_register_org_keys_and_admins_are_not_members(w: World) -> None:
    w.dr_h1.refused("NOT_AUTHORIZED", "RegisterOrganizationKey", JWK)
    w.h1_admin.refused("NOT_AUTHORIZED", "RegisterMember", JWK)
    assert w.dr_h2.ok("GetMember", "org:Hospital1MSP")["role"] == "organization"


def test_certificate_without_role_is_refused(w: World) -> None:
    stranger = Actor(w.ledger, "x-1", H1, "janitor")
    assert "role" in stranger.refused("NOT_AUTHORIZED", "RegisterMember", JWK)


def test_list_members_by_org_and_role(w: World) -> None:
    page = w.dr_h1.ok("ListMembers", H1, "patient", "10", "")
    assert [m["id"] for m in page["items"]] == [w.alice.id, w.bob.id]
    first = w.dr_h1.ok("ListMembers", H1, "", "2", "")
    second = w.dr_h1.ok("ListMembers", H1, "", "10", first["bookmark"])
    assert len(first["items"]) == 2
    assert {m["id"] for m in first["items"]}.isdisjoint({m["id"] for m in second["items"]})


def test_who_is_a_patient_where_is_for_that_orgs_staff_and_auditors(w: World) -> None:
    w.dr_h2.refused("NOT_AUTHORIZED", "ListMembers", H1, "patient", "10", "")
    w.alice.refused("NOT_AUTHORIZED", "ListMembers", H1, "", "10", "")
    assert len(w.auditor.ok("ListMembers", H1, "patient", "10", "")["items"]) == 2
    assert [m["id"] for m in w.alice.ok("ListMembers", H2, "clinician", "10", "")["items"]] == [w.dr_h2.id]


def test_keys_change_only_by_the_member_or_its_org_admin(w: World) -> None:
    new_key = JoseJWK.generate(kty="EC", crv="P-256")
    updated = w.alice.ok("UpdateMemberKey", new_key.export_public())["public_key"]
    assert updated["x"] == new_key["x"]
    assert updated["kid"] == new_key.thumbprint()
    Actor(w.ledger, "nobody", H1, "patient").refused("NOT_FOUND", "UpdateMemberKey", JWK)
    reset = JoseJWK.generate(kty="EC", crv="P-256").export_public()
    w.h2_admin.refused("NOT_AUTHORIZED", "ResetMemberKey", w.alice.id, reset)
    w.dr_h1.refused("NOT_AUTHORIZED", "ResetMemberKey", w.alice.id, reset)
    member = w.h1_admin.ok("ResetMemberKey", w.alice.id, reset)
    assert member["updated_by"] == w.h1_admin.id
    assert w.ledger.events[-1].name == "MemberKeyReset"
    history = w.alice.ok("GetMemberHistory", w.alice.id)
    assert [h["value"]["updated_by"] for h in history] == [w.h1_admin.id, w.alice.id, w.alice.id]
    w.bob.refused("NOT_AUTHORIZED", "GetMemberHistory", w.alice.id)


# -- records ---------------------------------------------------------------------------------------------------
def test_create_record_stores_metadata_only(w: World) -> None:
    record = w.create()
    assert record["custodian"] == H1
    assert record["version"] == 1
    assert record["sealed_for"] == w.alice.id
    assert "wrapped_keys" not in record
    assert w.alice.ok("GetRecord", "rec-1")["ciphertext_sha256"] == digest("rec-1")


def test_wrapped_keys_are_refused_as_arguments(w: World) -> None:
    doc = {**w.record(), "wrapped_keys": w.record_keys()}
    assert "transient" in w.dr_h1.refused("INVALID_ARGUMENT", "CreateRecord", doc)


def test_create_record_requires_every_entitled_recipient(w: World) -> None:
    keys = w.record_keys()
    del keys[w.alice.id]
    message = w.dr_h1.refused("FAILED_PRECONDITION", "CreateRecord", w.record(), transient={"wrapped_keys": keys})
    assert w.alice.id in message


def test_create_record_refuses_unentitled_recipients(w: World) -> None:
    keys = w.record_keys(**{w.dr_h2.id: jwe()})
    assert w.dr_h2.id in w.dr_h1.refused(
        "INVALID_ARGUMENT", "CreateRecord", w.record(), transient={"wrapped_keys": keys}
    )


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda d, k: d.update(ciphertext_sha256="abc"), "INVALID_ARGUMENT"),
        (lambda d, k: d.update(size=0), "INVALID_ARGUMENT"),
        (lambda d, k: d.update(resource_type="Spaceship"), "INVALID_ARGUMENT"),
        (lambda d, k: d.update(category="Lab Results"), "INVALID_ARGUMENT"),
        (lambda d, k: d.update(record_id="../etc"), "INVALID_ARGUMENT"),
        (lambda d, k: d.update(extra=1), "INVALID_ARGUMENT"),
        (lambda d, k: d.pop("locator"), "INVALID_ARGUMENT"),
        (lambda d, k: d.update(patient_id="h9-nobody@Hospital9MSP"), "NOT_FOUND"),
        (lambda d, k: d.update(patient_id="h1-patient-1"), "INVALID_ARGUMENT"),  # not qualified
        (lambda d, k: d.update(patient_id="h1-clinician-1@Hospital1MSP"), "INVALID_ARGUMENT"),
        (lambda d, k: k.update({"h1-patient-1@Hospital1MSP": {"not": "a jwe"}}), "INVALID_ARGUMENT"),
    ],
)
def test_create_record_validates_every_field(w: World, mutate: Any, code: str) -> None:
    doc, keys = w.record(), w.record_keys()
    mutate(doc, keys)
    w.dr_h1.refused(code, "CreateRecord", doc, transient={"wrapped_keys": keys})


def test_only_clinicians_create_records(w: World) -> None:
    for actor in (w.alice, w.researcher, w.auditor, w.h1_admin):
        actor.refused("NOT_AUTHORIZED", "CreateRecord", w.record(), transient={"wrapped_keys": w.record_keys()})


def test_custodian_needs_an_org_key(w: World) -> None:
    fresh = World()
    fresh.ledger.state = {k: v for k, v in fresh.ledger.state.items() if "org:Hospital2MSP" not in k}
    keys = {fresh.alice.id: jwe(), "org:Hospital2MSP": jwe()}
    message = fresh.dr_h2.refused(
        "FAILED_PRECONDITION", "CreateRecord", fresh.record(), transient={"wrapped_keys": keys}
    )
    assert "RegisterOrganizationKey" in message


def test_duplicate_record_is_a_conflict(w: World) -> None:
    w.create()
    w.dr_h1.refused("CONFLICT", "CreateRecord", w.record(), transient={"wrapped_keys": w.record_keys()})


def test_record_visibility(w: World) -> None:
    w.create()
    w.dr_h2.refused("NOT_AUTHORIZED", "GetRecord", "rec-1")
    w.bob.refused("NOT_AUTHORIZED", "GetRecord", "rec-1")
    w.researcher.refused("NOT_AUTHORIZED", "GetRecord", "rec-1")
    w.h1_auditor.refused("NOT_AUTHORIZED", "GetRecord", "rec-1")
    w.dr_h1b.refused("NOT_AUTHORIZED", "GetRecord", "rec-1")  # same hospital, no consent, did not create it
    assert w.auditor.ok("GetRecord", "rec-1")["id"] == "rec-1"
    assert w.dr_h1.ok("GetRecord", "rec-1")["id"] == "rec-1"  # its creator
    assert w.h1_admin.ok("GetRecord", "rec-1")["id"] == "rec-1"  # the custodian's admin
    w.alice.refused("NOT_FOUND", "GetRecord", "rec-404")


def test_a_same_hospital_clinician_sees_a_patients_records_only_with_consent(w: World) -> None:
    w.create()
    w.dr_h1b.refused("NOT_AUTHORIZED", "ListPatientRecords", w.alice.id, "10", "")
    w.give(w.dr_h1b.id, ["rec-1"])
    assert [r["id"] for r in w.dr_h1b.ok("ListPatientRecords", w.alice.id, "10", "")["items"]] == ["rec-1"]


def _version(tag: str) -> dict[str, Any]:
    return {"ciphertext_sha256": digest(tag), "size": 99, "locator": f"sha256/{tag}"}


def test_new_version_needs_keys_for_all_current_recipients(w: World) -> None:
    w.create()
    partial = {"wrapped_keys": {w.alice.id: jwe()}}
    w.dr_h1.refused("FAILED_PRECONDITION", "AddRecordVersion", "rec-1", _version("v2"), transient=partial)
    keys = {"wrapped_keys": {w.alice.id: jwe(), "org:Hospital1MSP": jwe()}}
    assert w.dr_h1.ok("AddRecordVersion", "rec-1", _version("v2"), transient=keys)["version"] == 2
    w.dr_h2.refused("NOT_AUTHORIZED", "AddRecordVersion", "rec-1", _version("v3"), transient=keys)
    w.bob.refused("NOT_AUTHORIZED", "AddRecordVersion", "rec-1", _version("v3"), transient=keys)
    assert w.alice.ok("AddRecordVersion", "rec-1", _version("v3"), transient=keys)["version"] == 3
    history = w.alice.ok("GetRecordHistory", "rec-1")
    assert [h["value"]["version"] for h in history] == [3, 2, 1]


def test_an_expired_grantee_gets_no_key_for_a_new_version(w: World) -> None:
    """Finding 2: after the grant expired, version 2 was still wrapped for the grantee."""
    w.create()
    w.give(w.dr_h2.id, ["rec-1"], valid_until="2026-01-01T01:00:00Z")
    assert w.dr_h2.id in [r["id"] for r in w.alice.ok("GetRecipients", "rec-1")]
    w.ledger.advance(hours=2)
    recipients = [r["id"] for r in w.alice.ok("GetRecipients", "rec-1")]
    assert recipients == [w.alice.id, "org:Hospital1MSP"]
    with_expired = {"wrapped_keys": {w.alice.id: jwe(), "org:Hospital1MSP": jwe(), w.dr_h2.id: jwe("v2")}}
    message = w.alice.refused("INVALID_ARGUMENT", "AddRecordVersion", "rec-1", _version("v2"), transient=with_expired)
    assert f"{w.dr_h2.id} may not receive the record key" in message
    keys = {"wrapped_keys": {w.alice.id: jwe(), "org:Hospital1MSP": jwe()}}
    w.alice.ok("AddRecordVersion", "rec-1", _version("v2"), transient=keys)
    assert not [
        k for k in w.ledger.private.get("careledger-private", {}) if k.startswith(f"\x00wkey\x00rec-1\x00{w.dr_h2.id}")
    ]


def test_list_patient_records_paginates_and_filters(w: World) -> None:
    for i in range(5):
        w.create(f"rec-{i}")
    first = w.alice.ok("ListPatientRecords", w.alice.id, "2", "")
    rest = w.alice.ok("ListPatientRecords", w.alice.id, "10", first["bookmark"])
    assert [r["id"] for r in first["items"] + rest["items"]] == [f"rec-{i}" for i in range(5)]
    w.dr_h2.refused("NOT_AUTHORIZED", "ListPatientRecords", w.alice.id, "10", "")
    w.alice.refused("INVALID_ARGUMENT", "ListPatientRecords", w.alice.id, "0", "")
    w.alice.refused("INVALID_ARGUMENT", "ListPatientRecords", w.alice.id, "many", "")


def test_erase_purges_every_key_and_refuses_later_access(w: World) -> None:
    w.create()
    w.give(w.dr_h2.id, ["rec-1"])
    w.bob.refused("NOT_AUTHORIZED", "EraseRecord", "rec-1")
    w.dr_h1.refused("NOT_AUTHORIZED", "EraseRecord", "rec-1")
    erased = w.alice.ok("EraseRecord", "rec-1")
    assert erased["status"] == "erased"
    assert "ciphertext_sha256" not in erased
    assert not [k for k in w.ledger.private.get("careledger-private", {}) if k.startswith("\x00wkey\x00rec-1\x00")]
    decision = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["decisions"][0]
    assert decision["decision"] == "denied"
    assert "erased" in decision["reason"]
    w.alice.refused("FAILED_PRECONDITION", "EraseRecord", "rec-1")


def test_wrapped_keys_never_reach_a_block_or_public_state(w: World) -> None:
    w.create()
    w.give(w.dr_h2.id, ["rec-1"])
    w.alice.ok("EraseRecord", "rec-1")
    for tag in (b"ek-patient", b"ek-custodian", b"ek-" + w.dr_h2.id.encode()):
        assert not any(block.contains(tag) for block in w.ledger.blocks), tag
        assert not any(tag in v for v in w.ledger.state.values())
    assert not [k for k in w.ledger.private.get("careledger-private", {}) if k.startswith("\x00wkey\x00rec-1\x00")]


def test_a_custodian_admin_lists_what_its_store_should_hold_and_nothing_about_patients(w: World) -> None:
    w.create("rec-1")
    w.create("rec-2")
    w.create("rec-h2", by=w.dr_h2)
    w.alice.ok("EraseRecord", "rec-2")
    page = w.h1_admin.ok("ListCustodianRecords", "10", "")
    by_id = {item["record_id"]: item for item in page["items"]}
    assert set(by_id) == {"rec-1", "rec-2"}  # Hospital2's record is not Hospital1's to keep
    assert by_id["rec-1"]["ciphertext_sha256"] == w.dr_h1.ok("GetRecord", "rec-1")["ciphertext_sha256"]
    assert by_id["rec-2"] == {"record_id": "rec-2", "version": 1, "status": "erased"}  # no hash left to keep
    assert not any("patient" in field for item in page["items"] for field in item)
    assert [i["record_id"] for i in w.h2_admin.ok("ListCustodianRecords", "10", "")["items"]] == ["rec-h2"]
    for someone in (w.dr_h1, w.alice):
        someone.refused("NOT_AUTHORIZED", "ListCustodianRecords", "10", "")
