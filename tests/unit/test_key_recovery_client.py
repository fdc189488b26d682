"""The custodian's side of a key recovery with real keys (services/_key_recovery.py on the in-memory ledger):
the hospital system opens its organization's wrapped keys and wraps them for the patient's new key, which then
opens them; the patient's lost key opens nothing re-wrapped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from careledger import crypto
from careledger.errors import REFUSALS, IdentityError, IntegrityError
from careledger.services import KeyRecoveryFlows
from careledger.services._key_recovery import RecoveryRewraps
from joserfc.jwk import ECKey

from .chaincode_helpers import H1, JWK, Actor, World, certificate_sha256, enrollment_certificate, jwe, other_jwk


class LedgerSession(KeyRecoveryFlows):
    """KeyRecoveryFlows whose ledger calls go to the in-memory ledger as `actor`."""

    def __init__(self, actor: Actor, org_key: ECKey | None = None) -> None:  # no gateway: nothing else is used
        self.actor, self.org_key = actor, org_key

    def qualify(self, member: str) -> str:
        return member

    def _evaluate(self, function: str, *args: Any) -> Any:
        return self._call(function, *args)

    def _submit(self, function: str, *args: Any, transient: Any = None) -> Any:
        return self._call(function, *args, transient=transient)

    def _call(self, function: str, *args: Any, transient: Any = None) -> Any:
        """The ledger's answer, or its refusal raised as the client raises it (careledger.errors)."""
        outcome = self.actor.call(function, *args, transient=transient)
        if outcome.status != 200:
            code, _, reason = outcome.message.partition(": ")
            raise REFUSALS[code](outcome.message, reason)
        return json.loads(outcome.payload) if outcome.payload else None


def _recover(w: World, patient: Actor, new_key: ECKey | None = None, register: bool = True) -> Actor:
    """The patient's admin opens its recovery naming a new enrollment, which registers the new key."""
    new = Actor(w.ledger, patient.local_id, H1, "patient", enrollment_certificate(f"{patient.local_id}-new"))
    pin = certificate_sha256(new.certificate_pem)
    w.h1_admin.ok("OpenKeyRecovery", {"member_id": patient.id, "proofing": "in-person", "certificate_sha256": pin})
    if register:
        new.ok("RegisterRecoveredKey", json.dumps(crypto.public_jwk(new_key)) if new_key else other_jwk(3))
    return new


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


def test_the_hospital_system_rewraps_every_recovery_awaiting_it_and_one_failure_stops_no_other() -> None:
    w = World()
    org_key, new_key = crypto.new_encryption_key(), crypto.new_encryption_key()
    w.h1_admin.ok("RegisterOrganizationKey", json.dumps(crypto.public_jwk(org_key)))
    refs = [crypto.RecordRef(r, w.alice.id, 1) for r in ("rec-1", "rec-2")]
    for ref in refs:  # Alice's records, keyed for Hospital1 for real
        keys = {w.alice.id: jwe("lost"), f"org:{H1}": crypto.wrap_key(crypto.new_record_key(), ref, org_key)}
        w.dr_h1.ok("CreateRecord", w.record(ref.record_id), transient={"wrapped_keys": keys})
    carol = Actor(w.ledger, "h1-patient-3", H1, "patient")  # hers holds a key the organization key does not open
    carol.ok("RegisterMember", JWK)
    w.dr_h1.ok("CreateRecord", w.record("rec-c", patient=carol), transient={"wrapped_keys": w.record_keys(carol)})
    new_alice = _recover(w, w.alice, new_key)
    _recover(w, carol)
    _recover(w, w.bob, register=False)  # Bob has not registered his new key: nothing awaits Hospital1 yet

    class Custodian(LedgerSession):
        def recoveries_to_rewrap(self) -> list[str]:  # as if Bob's recovery had been listed, then opened again
            return [*super().recoveries_to_rewrap(), w.bob.id]

    assert LedgerSession(w.h1_admin, org_key).recoveries_to_rewrap() == [w.alice.id, carol.id]
    assert Custodian(w.h1_admin, org_key).rewrap_pending_recoveries() == RecoveryRewraps(members=1, keys=2, failed=2)
    assert new_alice.ok("GetKeyRecovery", w.alice.id)["status"] == "completed"
    access = new_alice.ok("RequestAccess", {"record_ids": ["rec-1", "rec-2"], "purpose": "treatment"})
    for ref in refs:
        released = new_alice.ok("GetAccessKeys", access["tx_id"])["keys"][ref.record_id]
        crypto.unwrap_key(released["wrapped_key"], ref, new_key)  # opens with the new key
    # Carol's stays listed, and is tried again next time; Alice's is done.
    assert LedgerSession(w.h1_admin, org_key).rewrap_pending_recoveries() == RecoveryRewraps(failed=1)
    with pytest.raises(IdentityError, match="organization key"):
        LedgerSession(w.h1_admin).rewrap_pending_recoveries()


def _alice_keyed_for(w: World, org_key: ECKey, record_ids: list[str]) -> list[crypto.RecordRef]:
    """Alice's records at Hospital1, their custodian's key wrapped with the real organization key."""
    refs = [crypto.RecordRef(r, w.alice.id, 1) for r in record_ids]
    for ref in refs:
        keys = {w.alice.id: jwe("lost"), f"org:{H1}": crypto.wrap_key(crypto.new_record_key(), ref, org_key)}
        w.dr_h1.ok("CreateRecord", w.record(ref.record_id), transient={"wrapped_keys": keys})
    return refs


def test_a_recovery_whose_records_were_all_erased_since_completes_on_the_next_run_and_is_listed_no_more() -> None:
    w = World()
    org_key, new_key = crypto.new_encryption_key(), crypto.new_encryption_key()
    w.h1_admin.ok("RegisterOrganizationKey", json.dumps(crypto.public_jwk(org_key)))
    _alice_keyed_for(w, org_key, ["rec-1"])
    new_alice = _recover(w, w.alice, new_key)
    new_alice.ok("EraseRecord", "rec-1")  # after the key was registered: the list holds only an erased record

    custodian = LedgerSession(w.h1_admin, org_key)
    assert custodian.recoveries_to_rewrap() == [w.alice.id]
    assert custodian.rewrap_pending_recoveries() == RecoveryRewraps()  # nothing handed in, nothing failed
    recovery = new_alice.ok("GetKeyRecovery", w.alice.id)
    assert recovery["status"] == "completed"
    assert recovery["custodians"][H1] == {"to_rewrap": 1, "rewrapped": 0}
    assert custodian.recoveries_to_rewrap() == []  # not retried round after round
    assert f"\x00wkey\x00rec-1\x00{w.alice.id}\x00" not in w.ledger.private["careledger-private"]


def test_the_custodian_rewraps_the_live_records_of_a_batch_and_clears_the_erased_ones() -> None:
    w = World()
    org_key, new_key = crypto.new_encryption_key(), crypto.new_encryption_key()
    w.h1_admin.ok("RegisterOrganizationKey", json.dumps(crypto.public_jwk(org_key)))
    refs = _alice_keyed_for(w, org_key, ["rec-1", "rec-2", "rec-3"])
    new_alice = _recover(w, w.alice, new_key)
    new_alice.ok("EraseRecord", "rec-2")

    assert LedgerSession(w.h1_admin, org_key).rewrap_pending_recoveries() == RecoveryRewraps(members=1, keys=2)
    recovery = new_alice.ok("GetKeyRecovery", w.alice.id)
    assert recovery["status"] == "completed"
    assert recovery["custodians"][H1] == {"to_rewrap": 3, "rewrapped": 2}
    access = new_alice.ok("RequestAccess", {"record_ids": ["rec-1", "rec-3"], "purpose": "treatment"})
    for ref in (refs[0], refs[2]):
        released = new_alice.ok("GetAccessKeys", access["tx_id"])["keys"][ref.record_id]
        crypto.unwrap_key(released["wrapped_key"], ref, new_key)  # opens with the new key
    assert f"\x00wkey\x00rec-2\x00{w.alice.id}\x00" not in w.ledger.private["careledger-private"]
