"""The healthcare contract on the in-memory ledger: consent (grant, revoke, lists) and its refusal paths."""

from __future__ import annotations

from typing import Any

import pytest

from .chaincode_helpers import H2, JWK, Actor, World, jwe


@pytest.fixture
def w() -> World:
    return World()


def access_key(w: World, record_id: str = "rec-1") -> dict[str, Any]:
    txid = w.dr_h2.ok("RequestAccess", {"record_ids": [record_id], "purpose": "treatment"})["tx_id"]
    return dict(w.dr_h2.ok("GetAccessKeys", txid)["keys"][record_id])


def test_grant_by_record_gives_the_grantee_a_wrapped_key(w: World) -> None:
    w.create()
    grant = w.give(w.dr_h2.id, ["rec-1"])
    assert grant["id"].startswith("g-")
    assert grant["keyed_records"] == ["rec-1"]
    decision = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["decisions"][0]
    assert decision["decision"] == "allowed"
    assert "wrapped_key" not in decision  # keys only through GetAccessKeys, after the audit committed
    assert access_key(w)["wrapped_key"] == jwe(w.dr_h2.id)


@pytest.mark.parametrize("who", ["dr_h1", "researcher", "auditor", "h1_admin"])
def test_only_patients_grant(w: World, who: str) -> None:
    w.create()
    keys = {"wrapped_keys": {"rec-1": jwe()}}
    getattr(w, who).refused("NOT_AUTHORIZED", "GrantConsent", w.grant(w.dr_h2.id, ["rec-1"]), transient=keys)


def test_a_patient_cannot_grant_another_patients_record(w: World) -> None:
    w.create()
    keys = {"wrapped_keys": {"rec-1": jwe()}}
    message = w.bob.refused("NOT_AUTHORIZED", "GrantConsent", w.grant(w.dr_h2.id, ["rec-1"]), transient=keys)
    assert "not yours" in message


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda g, k: g.update(grantee="h9-unknown@Hospital9MSP"), "NOT_FOUND"),
        (lambda g, k: g.update(grantee="h2-clinician-1"), "INVALID_ARGUMENT"),  # not qualified
        (lambda g, k: g.update(grantee="h1-patient-2@Hospital1MSP"), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(grantee="h1-patient-1@Hospital1MSP"), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(purposes=["marketing"]), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(purposes=[]), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(valid_until="2025-01-01T00:00:00Z"), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(valid_until="2027-01-01T00:00:00"), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(valid_until="tomorrow"), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(valid_until="0999-12-31T23:59:59Z"), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(valid_until="9999-12-31T23:59:59Z"), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(valid_until="2027-02-30T00:00:00Z"), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(valid_until="2027-01-01 00:00:00Z"), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(valid_until="2027-01-01T00:00:00+25:00"), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(record_ids=[], categories=[]), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(record_ids=["rec-404"]), "NOT_FOUND"),
        (lambda g, k: k.clear(), "FAILED_PRECONDITION"),
        (lambda g, k: k.update({"rec-2": jwe()}), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(record_ids=["rec-1", "rec-1"]), "INVALID_ARGUMENT"),
        (lambda g, k: g.update(wrapped_keys={"rec-1": jwe()}), "INVALID_ARGUMENT"),  # keys as an argument
    ],
)
def test_grant_validation(w: World, mutate: Any, code: str) -> None:
    w.create()
    doc, keys = w.grant(w.dr_h2.id, ["rec-1"]), {"rec-1": jwe()}
    mutate(doc, keys)
    w.alice.refused(code, "GrantConsent", doc, transient={"wrapped_keys": keys})


def test_times_are_compared_as_instants(w: World) -> None:
    """A zone offset is normalised: 2026-01-01T03:00+02:00 is 01:00Z, an hour after the ledger's start."""
    w.create()
    grant = w.give(w.dr_h2.id, ["rec-1"], valid_until="2026-01-01T03:00:00+02:00")
    assert grant["valid_until"] == "2026-01-01T01:00:00.000000Z"
    w.ledger.advance(minutes=70)
    decision = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["decisions"][0]
    assert "expired" in decision["reason"]


def test_category_grant_covers_later_records_which_must_wrap_for_the_grantee(w: World) -> None:
    w.create("rec-1", category="imaging")
    grant = w.give(w.dr_h2.id, categories=["laboratory"], purposes=["treatment", "diagnosis-ai"])
    assert grant["keyed_records"] == []
    keys = {"wrapped_keys": w.record_keys()}
    assert w.dr_h2.id in w.dr_h1.refused("FAILED_PRECONDITION", "CreateRecord", w.record("rec-2"), transient=keys)
    w.create("rec-2", **{w.dr_h2.id: jwe("late")})
    decisions = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1", "rec-2"], "purpose": "diagnosis-ai"})["decisions"]
    assert [d["decision"] for d in decisions] == ["denied", "allowed"]
    assert w.alice.ok("GetGrant", grant["id"])["keyed_records"] == ["rec-2"]


def test_a_revoked_category_grant_no_longer_covers_new_records(w: World) -> None:
    grant = w.give(w.dr_h2.id, categories=["laboratory"])
    w.give(w.dr_h2.id, categories=["imaging"])  # another category: not needed
    keys = {"wrapped_keys": w.record_keys()}
    assert w.dr_h2.id in w.dr_h1.refused("FAILED_PRECONDITION", "CreateRecord", w.record("rec-1"), transient=keys)
    w.alice.ok("RevokeConsent", grant["id"])
    extra = {"wrapped_keys": w.record_keys(**{w.dr_h2.id: jwe("extra")})}
    message = w.dr_h1.refused("INVALID_ARGUMENT", "CreateRecord", w.record("rec-1"), transient=extra)
    assert f"{w.dr_h2.id} may not receive" in message
    w.create("rec-1")


def test_org_grant_lets_that_orgs_clinicians_in_and_not_its_patients(w: World) -> None:
    w.create()
    grant = w.give("org:Hospital2MSP", ["rec-1"])
    assert access_key(w)["wrapped_key"] == jwe("org:Hospital2MSP")
    assert w.dr_h2.ok("ListGrantsByGrantee", "org:Hospital2MSP", "10", "")["items"][0]["patient_id"] == w.alice.id
    w.dr_h1.refused("NOT_AUTHORIZED", "ListGrantsByGrantee", "org:Hospital2MSP", "10", "")
    # Finding (low): a patient of the grantee organization saw other patients' grants to it.
    patient_at_h2 = Actor(w.ledger, "h2-patient-1", H2, "patient")
    patient_at_h2.ok("RegisterMember", JWK)
    patient_at_h2.refused("NOT_AUTHORIZED", "ListGrantsByGrantee", "org:Hospital2MSP", "10", "")
    patient_at_h2.refused("NOT_AUTHORIZED", "GetGrant", grant["id"])


def test_revoke_stops_access_at_once_and_purges_the_key(w: World) -> None:
    w.create()
    grant = w.give(w.dr_h2.id, ["rec-1"])
    w.bob.refused("NOT_AUTHORIZED", "RevokeConsent", grant["id"])
    w.dr_h2.refused("NOT_AUTHORIZED", "RevokeConsent", grant["id"])
    w.alice.ok("RevokeConsent", grant["id"])
    private = w.ledger.private.get("careledger-private", {})
    assert not [k for k in private if k.startswith(f"\x00wkey\x00rec-1\x00{w.dr_h2.id}")]
    decision = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["decisions"][0]
    assert decision == {
        "record_id": "rec-1",
        "decision": "denied",
        "reason": "no consent from the patient covers this record",
    }
    w.alice.refused("FAILED_PRECONDITION", "RevokeConsent", grant["id"])
    assert [h["value"]["status"] for h in w.alice.ok("GetGrantHistory", grant["id"])] == ["revoked", "active"]


def test_revoking_one_of_two_grants_keeps_the_other(w: World) -> None:
    w.create()
    first = w.give(w.dr_h2.id, ["rec-1"])
    w.give(w.dr_h2.id, ["rec-1"], purposes=["diagnosis-ai"])
    w.alice.ok("RevokeConsent", first["id"])
    decisions = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "diagnosis-ai"})["decisions"]
    assert decisions[0]["decision"] == "allowed"
    denied = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["decisions"][0]
    assert "does not cover the purpose treatment" in denied["reason"]


def test_grant_lists_and_visibility(w: World) -> None:
    w.create()
    grant = w.give(w.dr_h2.id, ["rec-1"])
    assert [g["id"] for g in w.alice.ok("ListGrantsByPatient", w.alice.id, "10", "")["items"]] == [grant["id"]]
    assert [g["id"] for g in w.auditor.ok("ListGrantsByPatient", w.alice.id, "10", "")["items"]] == [grant["id"]]
    w.bob.refused("NOT_AUTHORIZED", "ListGrantsByPatient", w.alice.id, "10", "")
    w.dr_h2.refused("NOT_AUTHORIZED", "ListGrantsByPatient", w.alice.id, "10", "")
    assert w.dr_h2.ok("GetGrant", grant["id"])["grantee"] == w.dr_h2.id
    w.bob.refused("NOT_AUTHORIZED", "GetGrant", grant["id"])
    w.bob.refused("NOT_AUTHORIZED", "ListGrantsByGrantee", w.dr_h2.id, "10", "")
