"""The consortium's settings live on the ledger: set once by an admin, with the endorsers' agreement."""

from __future__ import annotations

import pytest
from careledger_chaincode.contracts import all_contracts
from careledger_chaincode.runtime import Router
from careledger_chaincode.runtime.testing import MemoryLedger

from tests.unit.chaincode_helpers import H1, HA, JWK, Actor, World


def test_an_admin_sets_the_settings_once_and_again_is_a_no_op() -> None:
    w = World()  # sets them
    assert w.alice.ok("GetConsortium") == {"authority_msp": HA}
    assert w.h2_admin.ok("SetConsortium", {"authority_msp": HA}) == {"authority_msp": HA}


def test_the_settings_cannot_change() -> None:
    w = World()
    message = w.h2_admin.refused("CONFLICT", "SetConsortium", {"authority_msp": H1})
    assert "set already" in message
    assert w.auditor.ok("GetConsortium") == {"authority_msp": HA}


@pytest.mark.parametrize("role_actor", ["alice", "dr_h1", "auditor", "researcher"])
def test_only_an_admin_sets_them(role_actor: str) -> None:
    w = World()
    w.ledger.state.pop(next(k for k in w.ledger.state if "consortium" in k))
    getattr(w, role_actor).refused("NOT_AUTHORIZED", "SetConsortium", {"authority_msp": H1})


@pytest.mark.parametrize(
    "settings",
    [{}, {"authority_msp": ""}, {"authority_msp": "Bad MSP!"}, {"authority_msp": HA, "extra": 1}, "not json"],
)
def test_bad_settings_are_refused_with_the_reason(settings: object) -> None:
    ledger = MemoryLedger(Router(all_contracts()))
    Actor(ledger, "h1-admin", H1, "admin").refused("INVALID_ARGUMENT", "SetConsortium", settings)


def test_an_endorser_configured_otherwise_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARELEDGER_AUTHORITY_MSP", HA)
    ledger = MemoryLedger(Router(all_contracts()))
    message = Actor(ledger, "h1-admin", H1, "admin").refused(
        "FAILED_PRECONDITION", "SetConsortium", {"authority_msp": H1}
    )
    assert "must agree" in message


def test_authority_decisions_wait_for_the_settings() -> None:
    ledger = MemoryLedger(Router(all_contracts()))
    auditor = Actor(ledger, "ha-auditor-1", HA, "auditor")
    auditor.ok("RegisterMember", JWK)
    message = auditor.refused("FAILED_PRECONDITION", "ListAllAccess", "10", "")
    assert "SetConsortium" in message


def test_an_auditor_of_another_org_is_not_the_authority() -> None:
    w = World()
    w.h1_auditor.refused("NOT_AUTHORIZED", "ListAllAccess", "10", "")
    assert w.auditor.ok("ListAllAccess", "10", "") is not None
