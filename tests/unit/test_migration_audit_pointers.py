"""Layout version 6: a patient's audit key points at its decision instead of repeating it.

A ledger written by the chaincode of layout 5 (LAYOUT_5, from git), with consented and emergency accesses,
is read by the current chaincode before and after its Migrate: the patient's, the custodian's and the
auditor's views of the patient's access log are the same as the old chaincode gave, and the migrated keys
hold only the pointer."""

from __future__ import annotations

from typing import Any

import pytest
from careledger_chaincode.contracts import all_contracts
from careledger_chaincode.contracts.healthcare.migration import CURRENT_VERSION
from careledger_chaincode.runtime import Router
from careledger_chaincode.runtime.testing import MemoryLedger

from ..previous_chaincode import LAYOUT_5, OldActor, load_previous_chaincode
from .chaincode_helpers import H1, H2, HA, JWK, Actor, digest, jwe

ALICE, DR_H1 = ("h1-patient-1", H1, "patient"), ("h1-clinician-1", H1, "clinician")
DR_H2, AUDITOR, ADMIN = ("h2-clinician-1", H2, "clinician"), ("ha-auditor-1", HA, "auditor"), ("h1-admin", H1, "admin")
PATIENT = "h1-patient-1@Hospital1MSP"
VIEWERS = {"patient": ALICE, "custodian": DR_H1, "auditor": AUDITOR}


def _views(call: Any) -> dict[str, list[dict[str, Any]]]:
    """Each viewer's whole access log of the patient, read two events a page (pages cross transactions)."""
    views: dict[str, list[dict[str, Any]]] = {}
    for name, who in VIEWERS.items():
        items, mark = [], ""
        while True:
            answer = call(who, "ListAccessByPatient", PATIENT, "2", mark)
            items += answer["items"]
            mark = answer["bookmark"]
            if not mark or not answer["items"]:
                break
        views[name] = items
    return views


@pytest.fixture(scope="module")
def layout_5(tmp_path_factory: pytest.TempPathFactory) -> tuple[MemoryLedger, dict[str, list[dict[str, Any]]]]:
    previous = load_previous_chaincode(tmp_path_factory.mktemp("layout5"), LAYOUT_5, "careledger_chaincode_layout5")
    old = previous.new_ledger()

    def call(who: tuple[str, str, str], function: str, *args: Any, transient: dict[str, Any] | None = None) -> Any:
        return OldActor(old, *who, previous.runtime).ok(function, *args, transient=transient)

    for member in (ALICE, DR_H1, DR_H2, AUDITOR):
        call(member, "RegisterMember", JWK)
    call(ADMIN, "SetConsortium", {"authority_msp": HA})
    call(ADMIN, "RegisterOrganizationKey", JWK)
    for rid in ("rec-1", "rec-2", "rec-3"):
        record = {
            "record_id": rid, "patient_id": PATIENT, "category": "laboratory", "resource_type": "Observation",
            "ciphertext_sha256": digest(rid), "size": 10, "locator": f"sha256/{rid}",
        }  # fmt: skip
        keys = {PATIENT: jwe("p"), "org:Hospital1MSP": jwe("c")}
        call(DR_H1, "CreateRecord", record, transient={"wrapped_keys": keys})
    grant = {"grantee": "h2-clinician-1@Hospital2MSP", "record_ids": ["rec-1", "rec-2"], "purposes": ["treatment"],
             "valid_until": "2099-01-01T00:00:00Z"}  # fmt: skip
    call(ALICE, "GrantConsent", grant, transient={"wrapped_keys": {"rec-1": jwe("g"), "rec-2": jwe("g")}})
    call(DR_H2, "RequestAccess", {"record_ids": ["rec-1", "rec-2", "rec-3"], "purpose": "treatment"})
    call(DR_H2, "RequestAccess", {"record_ids": ["rec-3", "missing"], "purpose": "treatment"})
    justification = {"justification": "unconscious on arrival, allergies unknown", "salt": "s" * 32}
    call(DR_H1, "EmergencyAccess", {"record_ids": ["rec-3"]}, transient=justification)
    assert call(ADMIN, "Migrate", "500", "")["version"] == 5  # how upgrades left it
    return old, _views(call)


def _current(old: MemoryLedger) -> MemoryLedger:
    ledger = MemoryLedger(Router(all_contracts()))
    ledger.state, ledger.history, ledger.clock = dict(old.state), dict(old.history), old.clock
    ledger.private = {c: dict(v) for c, v in old.private.items()}
    return ledger


def _patient_keys(ledger: MemoryLedger) -> dict[str, bytes]:
    return {k: v for k, v in ledger.state.items() if k.startswith("\x00audit-patient\x00")}


def test_the_patient_log_reads_the_same_before_and_after_the_migration(
    layout_5: tuple[MemoryLedger, dict[str, list[dict[str, Any]]]],
) -> None:
    old, seen_before = layout_5
    assert len(seen_before["patient"]) == 5
    assert len(seen_before["custodian"]) == 5
    assert any(e["emergency"] for e in seen_before["patient"])
    assert {e.get("consent_id") is not None for e in seen_before["patient"]} == {True, False}
    ledger = _current(old)

    def call(who: tuple[str, str, str], function: str, *args: Any) -> Any:
        return Actor(ledger, *who).ok(function, *args)

    assert all(v.startswith(b"{") for v in _patient_keys(ledger).values())  # whole events, as layout 5 kept them
    assert _views(call) == seen_before  # the current chaincode reads the old layout already
    assert call(ADMIN, "Migrate", "500", "")["version"] == CURRENT_VERSION
    assert set(_patient_keys(ledger).values()) == {b"1"}
    assert _views(call) == seen_before
    assert call(ADMIN, "Migrate", "500", "") == {"done": True, "version": CURRENT_VERSION, "moved": 0}
