"""Upgrading a ledger written by the previous chaincode: the chaincode as it was at PREVIOUS
(tests/previous_chaincode.py, from git) writes a ledger through every flow; the current chaincode's Migrate
moves it; every flow works after and the old audit events are still there."""

from __future__ import annotations

import json
from typing import Any

import pytest
from careledger_chaincode.contracts.healthcare.migration import CURRENT_VERSION

from ..previous_chaincode import PREVIOUS, OldActor, load_previous_chaincode
from .chaincode_helpers import H1, H2, HA, JWK, SALT, World, digest, jwe


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, dict[str, Any]]:
    previous = load_previous_chaincode(tmp_path_factory.mktemp("previous"), PREVIOUS, "careledger_chaincode_previous")
    runtime, old = previous.runtime, previous.new_ledger()
    people = {
        "alice": OldActor(old, "h1-patient-1", H1, "patient", runtime),
        "dr_h1": OldActor(old, "h1-clinician-1", H1, "clinician", runtime),
        "dr_h2": OldActor(old, "h2-clinician-1", H2, "clinician", runtime),
        "researcher": OldActor(old, "h1-researcher-1", H1, "researcher", runtime),
        "auditor": OldActor(old, "ha-auditor-1", HA, "auditor", runtime),
    }
    for actor in people.values():
        actor.ok("RegisterMember", JWK)
    for admin, msp in (("h1-admin", H1), ("h2-admin", H2)):
        OldActor(old, admin, msp, "admin", runtime).ok("RegisterOrganizationKey", JWK)
    for rid in ("rec-1", "rec-2"):
        people["dr_h1"].ok(
            "CreateRecord",
            {
                "record_id": rid, "patient_id": "h1-patient-1", "category": "laboratory",
                "resource_type": "Observation",
                "ciphertext_sha256": digest(rid), "size": 10, "locator": f"sha256/{digest(rid)}",
                "wrapped_keys": {"h1-patient-1": jwe("patient"), "org:Hospital1MSP": jwe("custodian")},
            },
        )  # fmt: skip
    grant = people["alice"].ok(
        "GrantConsent",
        {
            "grantee": "h2-clinician-1", "record_ids": ["rec-1"], "purposes": ["treatment", "diagnosis-ai"],
            "valid_until": "2099-01-01T00:00:00Z", "wrapped_keys": {"rec-1": jwe("old-grant")},
        },
    )  # fmt: skip
    access = people["dr_h2"].ok("RequestAccess", {"record_ids": ["rec-1", "rec-2"], "purpose": "diagnosis-ai"})
    model = {
        "model_id": "m", "version": "1.0.0", "artifact_sha256": digest("a"), "format": "xgboost-json",
        "training_data_fingerprint": digest("d"), "feature_schema": [{"name": "x", "type": "float"}],
        "parameters": {}, "metrics": {"auc": 0.9}, "code_ref": "c",
    }  # fmt: skip
    people["researcher"].ok("RegisterModel", model)
    people["auditor"].ok("ApproveModel", "m", "1.0.0")
    people["dr_h2"].ok(
        "RecordInferences",
        {
            "model_id": "m", "version": "1.0.0", "access_tx_id": access["tx_id"],
            "inferences": [{"record_id": "rec-1", "input_sha256": digest("in"),
                            "output": {"label": "positive", "probability": 0.97}, "explanation_sha256": digest("ex")}],
        },
    )  # fmt: skip

    w = World()  # the current chaincode, on the previous ledger
    w.ledger.state = dict(old.state)
    w.ledger.history = dict(old.history)
    w.ledger.clock = old.clock
    w.h1_admin.ok("SetConsortium", {"authority_msp": HA})  # chaincode-upgrade does, before Migrate
    rounds = 0
    while True:
        rounds += 1
        result = w.h1_admin.ok("Migrate", "7", "")  # small steps: the resume path is exercised
        if result["done"]:
            break
        assert rounds < 500
    return w, {"grant": grant["id"], "access": access["tx_id"], "rounds": rounds}


def test_member_ids_are_qualified_and_the_old_ones_are_aliases(migrated: tuple[World, dict[str, Any]]) -> None:
    w, info = migrated
    assert info["rounds"] > 1
    assert w.alice.ok("GetMember", w.alice.id)["id"] == w.alice.id
    assert not [k for k in w.ledger.state if k == "\x00member\x00h1-patient-1\x00"]
    assert w.ledger.state["\x00member-alias\x00h1-patient-1\x00"] == w.alice.id.encode()


def test_old_audit_events_stay_visible(migrated: tuple[World, dict[str, Any]]) -> None:
    w, info = migrated
    events = w.alice.ok("ListAccessByPatient", w.alice.id, "100", "")["items"]
    old = [e for e in events if e["tx_id"] == info["access"]]
    assert [(e["record_id"], e["requester"], e["patient_id"]) for e in old] == [
        ("rec-1", w.dr_h2.id, w.alice.id),
        ("rec-2", w.dr_h2.id, w.alice.id),
    ]
    assert [e["tx_id"] for e in w.dr_h2.ok("ListAccessByRequester", w.dr_h2.id, "100", "")["items"]] == [
        info["access"]
    ] * 2
    assert len(w.auditor.ok("ListAllAccess", "100", "")["items"]) == 2


def test_wrapped_keys_and_outputs_left_public_state(migrated: tuple[World, dict[str, Any]]) -> None:
    w, _ = migrated
    assert not [k for k in w.ledger.state if k.startswith("\x00wkey\x00")]
    assert not any(b"ek-" in v for v in w.ledger.state.values())
    assert not any(b"0.97" in v for v in w.ledger.state.values())
    outputs = w.alice.ok("ListInferencesByPatient", w.alice.id, "10", "")["items"]
    assert outputs[0]["output"] == {"label": "positive", "probability": 0.97}
    assert outputs[0]["requester"] == w.dr_h2.id


def test_every_flow_works_after_the_upgrade(migrated: tuple[World, dict[str, Any]]) -> None:
    w, info = migrated
    # The old grant still lets its grantee in; the key entry and the binding of the old ciphertext survive.
    decision = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})
    key = w.dr_h2.ok("GetAccessKeys", decision["tx_id"])["keys"]["rec-1"]
    assert key["wrapped_key"] == jwe("old-grant")
    assert key["patient_id"] == w.alice.id
    assert key["sealed_for"] == "h1-patient-1"  # what the ciphertext and wrapped keys were bound to
    own = w.alice.ok("RequestAccess", {"record_ids": ["rec-2"], "purpose": "treatment"})
    assert w.alice.ok("GetAccessKeys", own["tx_id"])["keys"]["rec-2"]["wrapped_key"] == jwe("patient")
    # New grants, revocations, versions and records.
    new_grant = w.give(w.researcher.id, ["rec-2"], purposes=["research"])
    assert (
        w.researcher.ok("RequestAccess", {"record_ids": ["rec-2"], "purpose": "research"})["decisions"][0]["decision"]
        == "allowed"
    )
    w.alice.ok("RevokeConsent", new_grant["id"])
    w.alice.ok("RevokeConsent", info["grant"])
    assert [r["id"] for r in w.alice.ok("GetRecipients", "rec-1")] == [w.alice.id, "org:Hospital1MSP"]
    version = {"ciphertext_sha256": digest("v2"), "size": 9, "locator": "sha256/v2"}
    keys = {"wrapped_keys": {w.alice.id: jwe(), "org:Hospital1MSP": jwe()}}
    assert w.alice.ok("AddRecordVersion", "rec-1", version, transient=keys)["sealed_for"] == w.alice.id
    w.create("rec-3")
    assert {r["id"] for r in w.alice.ok("ListPatientRecords", w.alice.id, "10", "")["items"]} == {
        "rec-1",
        "rec-2",
        "rec-3",
    }
    justification = {"justification": "Unconscious patient needs the last laboratory results now", "salt": SALT}
    w.dr_h1.ok("EmergencyAccess", {"record_ids": ["rec-2"]}, transient=justification)
    w.alice.ok("EraseRecord", "rec-2")


def test_migrate_is_idempotent_and_for_admins(migrated: tuple[World, dict[str, Any]]) -> None:
    w, _ = migrated
    before = dict(w.ledger.state)
    assert w.h2_admin.ok("Migrate", "100", "") == {"done": True, "version": CURRENT_VERSION, "moved": 0}
    assert {k: v for k, v in w.ledger.state.items() if "layout" not in k} == {
        k: v for k, v in before.items() if "layout" not in k
    }
    w.alice.refused("NOT_AUTHORIZED", "Migrate", "100", "")
    w.h1_admin.refused("INVALID_ARGUMENT", "Migrate", "0", "")


def test_a_new_ledger_migrates_in_one_call() -> None:
    w = World()
    w.create()
    assert w.h1_admin.ok("Migrate", "500", "")["done"] is True
    assert w.alice.ok("GetRecord", "rec-1")["patient_id"] == w.alice.id


def test_a_rescan_finds_keys_an_old_server_wrote_after_the_migration(
    migrated: tuple[World, dict[str, Any]],
) -> None:
    w, _ = migrated
    # An organization's old chaincode server wrote a bare-id member after the ledger was migrated.
    w.ledger.state["\x00member\x00h1-late-1\x00"] = json.dumps(
        {"id": "h1-late-1", "org": H1, "role": "patient", "public_key": json.loads(JWK), "updated_at": ""}
    ).encode()
    assert w.h1_admin.ok("Migrate", "500", "")["moved"] == 0  # done stays done...
    assert w.h1_admin.ok("Migrate", "500", "yes")["done"] is True  # ...until asked to look again
    assert "\x00member\x00h1-late-1@Hospital1MSP\x00" in w.ledger.state
    w.h1_admin.refused("INVALID_ARGUMENT", "Migrate", "500", "maybe")
