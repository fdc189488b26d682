"""The audit views name the grant that allowed each access (`consent_id`), read from the access transaction
that recorded it: in every view, only when a grant allowed the record, and with nothing new stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .chaincode_helpers import SALT, World, jwe


@pytest.fixture
def w() -> World:
    return World()


def _views(w: World) -> dict[str, list[dict[str, Any]]]:
    return {
        "patient": w.alice.ok("ListAccessByPatient", w.alice.id, "100", "")["items"],
        "requester": w.dr_h2.ok("ListAccessByRequester", w.dr_h2.id, "100", "")["items"],
        "all": w.auditor.ok("ListAllAccess", "100", "")["items"],
    }


def _consents(events: list[dict[str, Any]]) -> dict[str, str | None]:
    return {e["record_id"]: e.get("consent_id") for e in events}


def test_every_view_names_the_grant_that_allowed_each_record(w: World) -> None:
    for record_id, category in (("rec-1", "laboratory"), ("rec-2", "imaging"), ("rec-3", "mental-health")):
        w.create(record_id, category=category)
    by_record = w.give(w.dr_h2.id, ["rec-1"])["id"]
    category_grant = w.grant(w.dr_h2.id, categories=["mental-health"])  # its record's key, wrapped for the grantee:
    by_category = w.alice.ok("GrantConsent", category_grant, transient={"wrapped_keys": {"rec-3": jwe("dr")}})["id"]
    decisions = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1", "rec-2", "rec-3"], "purpose": "treatment"})
    assert [d["decision"] for d in decisions["decisions"]] == ["allowed", "denied", "allowed"]
    for view, events in _views(w).items():
        assert _consents(events) == {"rec-1": by_record, "rec-2": None, "rec-3": by_category}, view


def test_no_grant_is_named_for_break_glass_or_the_patients_own_record(w: World) -> None:
    w.create("rec-1")
    w.give(w.dr_h2.id, ["rec-1"])
    transient = {"justification": "Unconscious patient in the emergency room, allergy history needed", "salt": SALT}
    assert (
        w.dr_h2.ok("EmergencyAccess", {"record_ids": ["rec-1"]}, transient=transient)["decisions"][0]["decision"]
        == "allowed"
    )
    w.alice.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})
    events = w.alice.ok("ListAccessByPatient", w.alice.id, "100", "")["items"]
    assert [(e["requester"], e["decision"], e.get("consent_id")) for e in events] == [
        (w.dr_h2.id, "allowed", None),
        (w.alice.id, "allowed", None),
    ]


def _state_keys(w: World, kind: str) -> list[str]:
    return [k for k in w.ledger.state if k.startswith(f"\x00{kind}\x00")]


def test_the_grant_is_read_from_the_access_transaction_not_stored_again(w: World) -> None:
    """The patient's key only points at its decision (layout 6); the event, its grant included, comes from the
    access transaction, and one recorded before `consents` existed yields events without a grant, not an error."""
    w.create("rec-1")
    grant_id = w.give(w.dr_h2.id, ["rec-1"])["id"]
    tx_id = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})["tx_id"]
    (pointer,) = _state_keys(w, "audit-patient")
    assert pointer.split("\x00")[-3:-1] == [tx_id, "0000"]
    assert w.ledger.state[pointer] == b"1"
    (access_key,) = [k for k in _state_keys(w, "access") if tx_id in k]
    access = json.loads(w.ledger.state[access_key])
    assert access["consents"] == {"rec-1": grant_id}
    del access["consents"]  # as an access transaction of an older contract version
    w.ledger.state[access_key] = json.dumps(access).encode()
    for view, events in _views(w).items():
        assert _consents(events) == {"rec-1": None}, view


def test_a_page_ending_inside_a_transaction_names_the_grants(w: World) -> None:
    for i in range(6):
        w.create(f"rec-{i}")
    grant_id = w.give(w.dr_h2.id, [f"rec-{i}" for i in range(6)])["id"]
    w.dr_h2.ok("RequestAccess", {"record_ids": [f"rec-{i}" for i in range(6)], "purpose": "treatment"})
    for events in (
        w.alice.ok("ListAccessByPatient", w.alice.id, "4", "")["items"],
        w.dr_h2.ok("ListAccessByRequester", w.dr_h2.id, "4", "")["items"],
    ):
        assert [e.get("consent_id") for e in events] == [grant_id] * 4
