"""Layout version 3: every member's JWK on the ledger names itself by its RFC 7638 thumbprint (`kid`).

A ledger written by the chaincode of layout 2 (LAYOUT_2, from git), whose members registered keys without a
`kid` or with one of their own choosing, is migrated by the current chaincode's Migrate; registrations from
now on get the thumbprint set, and a `kid` that is not the thumbprint is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from careledger_chaincode.contracts import all_contracts
from careledger_chaincode.contracts.healthcare.migration import CURRENT_VERSION
from careledger_chaincode.runtime import Router
from careledger_chaincode.runtime.testing import MemoryLedger
from careledger_protocol import jwk_thumbprint
from jwcrypto.jwk import JWK as JoseJWK

from ..previous_chaincode import LAYOUT_2, OldActor, load_previous_chaincode
from .chaincode_helpers import H1, H2, JWK, Actor, World

THUMBPRINT = jwk_thumbprint(json.loads(JWK))
OTHER_JWK = json.dumps(JoseJWK.generate(kty="EC", crv="P-384").export_public(as_dict=True))


def test_the_thumbprint_is_rfc_7638_as_independent_jose_libraries_compute_it() -> None:
    for text in (JWK, OTHER_JWK):
        assert jwk_thumbprint(json.loads(text)) == JoseJWK(**json.loads(text)).thumbprint()
    with pytest.raises(ValueError, match="needs x"):
        jwk_thumbprint({"kty": "EC", "crv": "P-256", "y": "y"})


def test_registration_sets_the_thumbprint_and_refuses_another_kid() -> None:
    w = World()
    assert w.alice.ok("GetMember", w.alice.id)["public_key"]["kid"] == THUMBPRINT
    newcomer = Actor(w.ledger, "h1-patient-9", H1, "patient")
    reason = newcomer.refused("INVALID_ARGUMENT", "RegisterMember", {**json.loads(JWK), "kid": newcomer.id})
    assert "RFC 7638 thumbprint" in reason
    assert THUMBPRINT in reason
    assert newcomer.ok("RegisterMember", {**json.loads(JWK), "kid": THUMBPRINT})["public_key"]["kid"] == THUMBPRINT
    assert w.alice.ok("UpdateMemberKey", OTHER_JWK)["public_key"]["kid"] == jwk_thumbprint(json.loads(OTHER_JWK))


@pytest.fixture(scope="module")
def layout_2_ledger(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The current chaincode on a ledger the layout-2 chaincode wrote and left migrated to its version."""
    previous = load_previous_chaincode(tmp_path_factory.mktemp("layout2"), LAYOUT_2, "careledger_chaincode_layout2")
    old = previous.new_ledger()

    def call(local_id: str, msp: str, role: str, function: str, *args: Any) -> Any:
        return OldActor(old, local_id, msp, role, previous.runtime).ok(function, *args)

    call("h1-patient-1", H1, "patient", "RegisterMember", JWK)
    # A key registered with a kid of its owner's choosing: the old chaincode kept it as sent.
    call("h2-clinician-1", H2, "clinician", "RegisterMember", json.dumps({**json.loads(JWK), "kid": "mine"}))
    call("h1-admin", H1, "admin", "SetConsortium", json.dumps({"authority_msp": "HealthAuthorityMSP"}))
    call("h1-admin", H1, "admin", "RegisterOrganizationKey", OTHER_JWK)
    assert call("h1-admin", H1, "admin", "Migrate", "500", "")["version"] == 2  # how upgrades left it

    w = World.__new__(World)  # the current chaincode on that ledger, with its actors
    w.ledger = MemoryLedger(Router(all_contracts()))
    w.ledger.state, w.ledger.history, w.ledger.clock = dict(old.state), dict(old.history), old.clock
    w.h1_admin = Actor(w.ledger, "h1-admin", H1, "admin")
    w.alice = Actor(w.ledger, "h1-patient-1", H1, "patient")
    w.dr_h2 = Actor(w.ledger, "h2-clinician-1", H2, "clinician")
    return w


def test_migrate_names_every_existing_key_by_its_thumbprint(layout_2_ledger: World) -> None:
    w = layout_2_ledger
    before = {m: w.alice.ok("GetMember", m)["public_key"].get("kid") for m in (w.alice.id, w.dr_h2.id)}
    assert before == {w.alice.id: None, w.dr_h2.id: "mine"}
    rounds = 0
    while not (result := w.h1_admin.ok("Migrate", "1", ""))["done"]:
        rounds += 1
        assert rounds < 20
    assert result["version"] == CURRENT_VERSION
    assert rounds >= 2
    for mid, jwk in ((w.alice.id, JWK), (w.dr_h2.id, JWK), ("org:" + H1, OTHER_JWK)):
        assert w.alice.ok("GetMember", mid)["public_key"]["kid"] == jwk_thumbprint(json.loads(jwk))
    untouched = dict(w.ledger.state)
    assert w.h1_admin.ok("Migrate", "500", "") == {"done": True, "version": CURRENT_VERSION, "moved": 0}
    assert w.h1_admin.ok("Migrate", "500", "yes")["done"] is True  # a rescan changes nothing more
    assert {k: v for k, v in w.ledger.state.items() if "layout" not in k} == {
        k: v for k, v in untouched.items() if "layout" not in k
    }
