"""Proxy access on the in-memory ledger: a patient (or the patient's hospital admin) names a proxy with rights
and an end date; the proxy acts for the patient as themselves, and the chaincode checks every act."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .chaincode_helpers import H2, JWK, Actor, World, jwe

UNTIL = "2026-06-30T00:00:00Z"  # the in-memory ledger's clock starts at 2026-01-01


class Family(World):
    """The World, plus Alice's parent (a person enrolled at Hospital2 with role patient) and a stranger."""

    def __init__(self) -> None:
        super().__init__()
        self.parent = Actor(self.ledger, "h2-parent-1", H2, "patient")
        self.stranger = Actor(self.ledger, "h2-patient-9", H2, "patient")
        for actor in (self.parent, self.stranger):
            actor.ok("RegisterMember", JWK)

    def name_proxy(
        self, rights: list[str], by: Actor | None = None, proxy: Actor | None = None, **extra: Any
    ) -> dict[str, Any]:
        """Alice (or `by`) names the parent (or `proxy`) with `rights`; with view, her records' keys go along."""
        by, proxy = by or self.alice, proxy or self.parent
        doc = {"patient_id": self.alice.id, "proxy_id": proxy.id, "rights": rights, "valid_until": UNTIL, **extra}
        records = [r["id"] for r in self.alice.ok("ListPatientRecords", self.alice.id, "100", "")["items"]]
        keyed = "view" in rights and by.role == "patient"
        keys = {r: jwe(f"proxy-{r}") for r in records} if keyed else {}
        return dict(by.ok("SetProxy", doc, transient={"wrapped_keys": keys}))


@pytest.fixture
def w() -> Family:
    return Family()


def test_the_patient_names_a_proxy_who_sees_their_records_and_log(w: Family) -> None:
    w.create("rec-1")
    proxy = w.name_proxy(["view", "grant", "revoke"])
    assert proxy["keyed_records"] == ["rec-1"]
    assert proxy["created_by"] == w.alice.id
    assert [p["patient_id"] for p in w.parent.ok("ListPatientsIActFor", "10", "")["items"]] == [w.alice.id]
    assert [p["proxy_id"] for p in w.alice.ok("ListProxiesOfPatient", w.alice.id, "10", "")["items"]] == [w.parent.id]
    records = w.parent.ok("ListPatientRecords", w.alice.id, "10", "")["items"]
    assert [r["id"] for r in records] == ["rec-1"]
    # the proxy opens the record as themselves, for Alice: the log says "by parent for Alice"
    access = w.parent.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment", "on_behalf_of": w.alice.id})
    assert access["decisions"][0]["decision"] == "allowed"
    keys = w.parent.ok("GetAccessKeys", access["tx_id"])["keys"]["rec-1"]
    assert keys["wrapped_key"] == jwe("proxy-rec-1")
    assert w.h1_admin.ok("VerifyAccess", access["tx_id"], w.parent.id, "rec-1")["granted"]
    [event] = w.alice.ok("ListAccessByPatient", w.alice.id, "10", "")["items"]
    assert (event["requester"], event["on_behalf_of"]) == (w.parent.id, w.alice.id)
    assert w.parent.ok("ListAccessByPatient", w.alice.id, "10", "")["items"] == [event]


def test_a_later_record_is_keyed_for_a_view_proxy(w: Family) -> None:
    proxy = w.name_proxy(["view"])
    recipients = {r["id"] for r in w.dr_h1.ok("GetNewRecordRecipients", w.alice.id, "laboratory")}
    assert w.parent.id in recipients
    w.dr_h1.refused(
        "FAILED_PRECONDITION", "CreateRecord", w.record("rec-2"), transient={"wrapped_keys": w.record_keys()}
    )
    w.create("rec-2", **{w.parent.id: jwe("proxy-rec-2")})
    assert w.alice.ok("ListProxiesOfPatient", w.alice.id, "10", "")["items"][0]["keyed_records"] == ["rec-2"]
    assert proxy["keyed_records"] == []


def test_a_proxy_with_the_grant_right_grants_and_the_grant_says_by_whom(w: Family) -> None:
    w.create("rec-1")
    w.name_proxy(["view", "grant"])
    doc = {**w.grant(w.dr_h2.id, ["rec-1"]), "on_behalf_of": w.alice.id}
    grant = w.parent.ok("GrantConsent", doc, transient={"wrapped_keys": {"rec-1": jwe(w.dr_h2.id)}})
    assert (grant["patient_id"], grant["granted_by"]) == (w.alice.id, w.parent.id)
    assert [g["id"] for g in w.alice.ok("ListGrantsByPatient", w.alice.id, "10", "")["items"]] == [grant["id"]]
    txid = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["tx_id"]
    assert w.dr_h2.ok("GetAccessKeys", txid)["keys"]["rec-1"]["wrapped_key"] == jwe(w.dr_h2.id)


def test_a_proxy_without_the_right_is_refused_with_a_reason_and_the_refusal_logged(
    w: Family, caplog: pytest.LogCaptureFixture
) -> None:
    w.create("rec-1")
    w.name_proxy(["view"])
    doc = {**w.grant(w.dr_h2.id, ["rec-1"]), "on_behalf_of": w.alice.id}
    with caplog.at_level("INFO", logger="careledger.chaincode"):
        message = w.parent.refused("NOT_AUTHORIZED", "GrantConsent", doc, transient={"wrapped_keys": {"rec-1": jwe()}})
    assert "do not include grant" in message
    assert any(
        "refused GrantConsent" in r.getMessage() and "do not include grant" in r.getMessage() for r in caplog.records
    )
    grant = w.give(w.dr_h2.id, ["rec-1"])
    assert "do not include revoke" in w.parent.refused("NOT_AUTHORIZED", "RevokeConsent", grant["id"])


def test_a_proxy_revokes_for_the_patient(w: Family) -> None:
    w.create("rec-1")
    grant = w.give(w.dr_h2.id, ["rec-1"])
    w.name_proxy(["revoke"])
    revoked = w.parent.ok("RevokeConsent", grant["id"])
    assert (revoked["status"], revoked["revoked_by"]) == ("revoked", w.parent.id)


def test_an_expired_or_revoked_proxy_is_refused(w: Family) -> None:
    w.create("rec-1")
    w.name_proxy(["view", "grant"])
    request = {"record_ids": ["rec-1"], "purpose": "treatment", "on_behalf_of": w.alice.id}
    txid = w.parent.ok("RequestAccess", request)["tx_id"]
    w.ledger.advance(days=200)  # past UNTIL
    assert "ended on" in w.parent.refused("NOT_AUTHORIZED", "RequestAccess", request)
    assert "ended on" in w.parent.refused("NOT_AUTHORIZED", "ListPatientRecords", w.alice.id, "10", "")
    w2 = Family()
    w2.create("rec-1")
    w2.name_proxy(["view", "grant"])
    txid = w2.parent.ok("RequestAccess", request)["tx_id"]
    revoked = w2.alice.ok("RevokeProxy", w2.alice.id, w2.parent.id)
    assert revoked["revoked_by"] == w2.alice.id
    assert "revoked on" in w2.parent.refused("NOT_AUTHORIZED", "GetAccessKeys", txid)
    assert "revoked on" in w2.parent.refused("NOT_AUTHORIZED", "RequestAccess", request)
    assert not w2.h1_admin.ok("VerifyAccess", txid, w2.parent.id, "rec-1")["granted"]
    assert not any(b"h2-parent-1" in k.encode() for k in w2.ledger.private.get("careledger-private", {}))  # purged
    doc = {**w2.grant(w2.dr_h2.id, ["rec-1"]), "on_behalf_of": w2.alice.id}
    w2.parent.refused("NOT_AUTHORIZED", "GrantConsent", doc, transient={"wrapped_keys": {"rec-1": jwe()}})


def test_a_hospital_admin_names_a_proxy_only_for_its_own_patients(w: Family) -> None:
    proxy = w.name_proxy(["view", "grant", "revoke"], by=w.h1_admin)
    assert proxy["created_by"] == w.h1_admin.id
    assert proxy["keyed_records"] == []
    w.alice.ok("RevokeProxy", w.alice.id, w.parent.id)
    assert "admin of Hospital1MSP" in w.h2_admin.refused(
        "NOT_AUTHORIZED",
        "SetProxy",
        {"patient_id": w.alice.id, "proxy_id": w.parent.id, "rights": ["view"], "valid_until": UNTIL},
    )


@pytest.mark.parametrize("who", ["parent", "bob", "stranger", "dr_h1", "researcher"])
def test_nobody_names_themselves_the_proxy_of_another_patient(w: Family, who: str) -> None:
    actor = getattr(w, who)
    doc = {"patient_id": w.alice.id, "proxy_id": actor.id, "rights": ["view", "grant"], "valid_until": UNTIL}
    w.create("rec-1")
    actor.refused("NOT_AUTHORIZED", "SetProxy", doc, transient={"wrapped_keys": {"rec-1": jwe()}})
    # nor act for her without being named
    request = {"record_ids": ["rec-1"], "purpose": "treatment", "on_behalf_of": w.alice.id}
    actor.refused("NOT_AUTHORIZED", "RequestAccess", request)
    if actor.role == "patient":  # a custodian's clinician reads its own records' events, as before
        actor.refused("NOT_AUTHORIZED", "ListAccessByPatient", w.alice.id, "10", "")


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"proxy_id": "h1-patient-1@Hospital1MSP"}, "INVALID_ARGUMENT", "own proxy"),
        ({"proxy_id": "h1-clinician-1@Hospital1MSP"}, "INVALID_ARGUMENT", "role patient"),
        ({"proxy_id": "h2-nobody@Hospital2MSP"}, "NOT_FOUND", "not registered"),
        ({"rights": ["grant"]}, "INVALID_ARGUMENT", "needs the right view"),
        ({"rights": []}, "INVALID_ARGUMENT", "rights"),
        ({"valid_until": "2025-01-01T00:00:00Z"}, "INVALID_ARGUMENT", "valid_until"),
        ({"name": "Mum"}, "INVALID_ARGUMENT", "unknown field"),
    ],
)
def test_proxy_validation(w: Family, change: dict[str, Any], code: str, words: str) -> None:
    doc = {"patient_id": w.alice.id, "proxy_id": w.parent.id, "rights": ["revoke"], "valid_until": UNTIL, **change}
    assert words in w.alice.refused(code, "SetProxy", doc)


def test_a_proxy_is_named_once_and_view_keys_are_exact(w: Family) -> None:
    w.create("rec-1")
    doc = {"patient_id": w.alice.id, "proxy_id": w.parent.id, "rights": ["view"], "valid_until": UNTIL}
    assert "missing" in w.alice.refused("FAILED_PRECONDITION", "SetProxy", doc)
    extra = {"rec-1": jwe(), "rec-9": jwe()}
    w.alice.refused("INVALID_ARGUMENT", "SetProxy", doc, transient={"wrapped_keys": extra})
    w.name_proxy(["view"])
    assert "already a proxy" in w.alice.refused(
        "CONFLICT", "SetProxy", doc, transient={"wrapped_keys": {"rec-1": jwe()}}
    )
    w.parent.ok("RevokeProxy", w.alice.id, w.parent.id)  # the proxy steps down
    w.stranger.refused("NOT_FOUND", "RevokeProxy", w.alice.id, w.stranger.id)


def test_lists_of_proxies_are_for_the_patient_their_admin_and_the_proxy(w: Family) -> None:
    w.name_proxy(["revoke"])
    w.h1_admin.ok("ListProxiesOfPatient", w.alice.id, "10", "")
    w.auditor.ok("ListProxiesOfPatient", w.alice.id, "10", "")
    for actor in (w.parent, w.bob, w.dr_h1, w.h2_admin):
        actor.refused("NOT_AUTHORIZED", "ListProxiesOfPatient", w.alice.id, "10", "")
    assert w.stranger.ok("ListPatientsIActFor", "10", "")["items"] == []


def test_what_lands_in_the_block_has_no_free_text_and_no_keys(w: Family) -> None:
    w.create("rec-1")
    w.name_proxy(["view", "grant"])
    doc = {**w.grant(w.dr_h2.id, ["rec-1"]), "on_behalf_of": w.alice.id}
    w.parent.ok("GrantConsent", doc, transient={"wrapped_keys": {"rec-1": jwe(w.dr_h2.id)}})
    w.parent.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment", "on_behalf_of": w.alice.id})
    allowed = {
        "id", "patient_id", "proxy_id", "proxy_org", "rights", "valid_from", "valid_until", "status", "created_at",
        "created_by", "keyed_records",
    }  # fmt: skip
    for block in w.ledger.blocks[-3:]:
        assert not block.contains(b"ek-proxy")
        assert not block.contains(b"ek-" + w.dr_h2.id.encode())
    set_proxy = w.ledger.blocks[-3]
    assert set(json.loads(set_proxy.args[1])) <= {"patient_id", "proxy_id", "rights", "valid_until", "valid_from"}
    relations = [json.loads(v) for k, v in set_proxy.public_writes.items() if v and "proxy\x00" in k]
    assert relations
    assert all(set(r) <= allowed for r in relations)


def test_a_view_proxy_reads_the_justification_of_an_emergency_on_the_patients_record(w: Family) -> None:
    w.create("rec-1")
    transient = {"justification": "Unconscious patient in the emergency department: allergies needed", "salt": "5" * 32}
    emergency = w.dr_h1b.ok("EmergencyAccess", {"record_ids": ["rec-1"]}, transient=transient)
    w.parent.refused("NOT_AUTHORIZED", "GetJustification", emergency["tx_id"])
    w.name_proxy(["view"])
    assert w.parent.ok("GetJustification", emergency["tx_id"])["justification"] == transient["justification"]
