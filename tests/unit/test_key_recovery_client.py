"""The custodian's side of a key recovery with real keys (services/_key_recovery.py on the in-memory ledger):
the hospital system opens its organization's wrapped keys and wraps them for the patient's new key, which then
opens them; the patient's lost key opens nothing re-wrapped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from careledger import crypto
from careledger.errors import IntegrityError
from careledger.services import KeyRecoveryFlows
from joserfc.jwk import ECKey

from .chaincode_helpers import H1, Actor, World, certificate_sha256, enrollment_certificate


class LedgerSession(KeyRecoveryFlows):
    """KeyRecoveryFlows whose ledger calls go to the in-memory ledger as `actor`."""

    def __init__(self, actor: Actor, org_key: ECKey | None = None) -> None:  # no gateway: nothing else is used
        self.actor, self.org_key = actor, org_key

    def qualify(self, member: str) -> str:
        return member

    def _evaluate(self, function: str, *args: Any) -> Any:
        return self.actor.ok(function, *args)

    def _submit(self, function: str, *args: Any, transient: Any = None) -> Any:
        return self.actor.ok(function, *args, transient=transient)


def test_the_custodian_rewraps_with_its_organization_key_for_the_new_key_only() -> None:
    w = World()
    org_key, lost_key, new_key = (crypto.new_encryption_key() for _ in range(3))
    w.h1_admin.ok("RegisterOrganizationKey", json.dumps(crypto.public_jwk(org_key)))
    w.alice.ok("UpdateMemberKey", json.dumps(crypto.public_jwk(lost_key)))
    record_key = crypto.new_record_key()
    ref = crypto.RecordRef("rec-1", w.alice.id, 1)
    wrapped = {
        w.alice.id: crypto.wrap_key(record_key, ref, lost_key),
        f"org:{H1}": crypto.wrap_key(record_key, ref, org_key),
    }
    w.dr_h1.ok("CreateRecord", w.record("rec-1"), transient={"wrapped_keys": wrapped})

    new_alice = Actor(w.ledger, w.alice.local_id, H1, "patient", enrollment_certificate(w.alice.local_id))
    pin = certificate_sha256(new_alice.certificate_pem)
    w.h1_admin.ok("OpenKeyRecovery", {"member_id": w.alice.id, "proofing": "in-person", "certificate_sha256": pin})
    new_alice.ok("RegisterRecoveredKey", json.dumps(crypto.public_jwk(new_key)))

    recovery = LedgerSession(w.h1_admin, org_key).rewrap_recovered_keys(w.alice.id)
    assert recovery is not None
    assert recovery["status"] == "completed"
    assert recovery["custodians"][H1] == {"to_rewrap": 1, "rewrapped": 1}
    access = new_alice.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment"})
    released = new_alice.ok("GetAccessKeys", access["tx_id"])["keys"]["rec-1"]
    assert crypto.unwrap_key(released["wrapped_key"], ref, new_key) == record_key
    with pytest.raises(IntegrityError):
        crypto.unwrap_key(released["wrapped_key"], ref, lost_key)
    assert LedgerSession(w.h1_admin, org_key).rewrap_recovered_keys(w.alice.id) is None  # nothing left
