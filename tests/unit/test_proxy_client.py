"""The client's proxy flows (careledger.services ProxyFlows) without a network: what naming a proxy and acting
for a patient send the ledger, and that the record keys re-wrapped for a view proxy open with the proxy's own
key (real encryption), bound to the record, the patient and the version."""

from __future__ import annotations

from typing import Any

import pytest
from careledger import crypto
from careledger.errors import CareLedgerError, IntegrityError
from careledger.services import Session

PATIENT, PROXY = "h1-patient-1@Hospital1MSP", "h2-parent-1@Hospital2MSP"


class Scripted(Session):
    """A Session whose ledger is a script: the patient's records, keys and members; writes are recorded."""

    def __init__(self, me: str, records: dict[str, tuple[bytes, int]], members: dict[str, Any]) -> None:
        self.me, self.records_, self.members_ = me, records, members
        self.key = crypto.new_encryption_key()
        self.sent: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def member_id(self) -> str:
        return self.me

    def qualify(self, member: str) -> str:
        return member if "@" in member else f"{member}@Hospital1MSP"

    def encryption_key(self) -> Any:
        return self.key

    def member(self, member_id: str) -> Any:
        return {"id": member_id, "public_key": self.members_[member_id]}

    def records_of(self, patient_id: str | None = None, page_size: int = 100) -> Any:
        return [{"id": r, "status": "active", "category": "laboratory"} for r in self.records_]

    def _submit(self, function: str, *args: Any, transient: Any = None) -> Any:
        self.sent.append((function, args, transient or {}))
        if function == "RequestAccess":
            return {"tx_id": "ab" * 32, "decisions": []}
        return {"function": function, "args": args}

    def access_keys(self, access_tx_id: str) -> Any:
        keys = {}
        for rid, (record_key, version) in self.records_.items():
            ref = crypto.RecordRef(rid, PATIENT, version)
            wrapped = crypto.wrap_key(record_key, ref, crypto.public_jwk(self.key))
            keys[rid] = {"available": True, "wrapped_key": wrapped, "patient_id": PATIENT, "version": version}
        return {"access_tx_id": access_tx_id, "purpose": "treatment", "keys": keys}


def test_naming_a_view_proxy_rewraps_the_patients_keys_for_the_proxy() -> None:
    proxy_key = crypto.new_encryption_key()
    records = {"rec-1": (crypto.new_record_key(), 1), "rec-2": (crypto.new_record_key(), 3)}
    patient = Scripted(PATIENT, records, {PROXY: crypto.public_jwk(proxy_key)})
    patient.name_proxy(PROXY, ["view", "grant"], "2027-01-01T00:00:00Z")
    function, (doc,), transient = patient.sent[-1]
    assert function == "SetProxy"
    assert doc == {
        "patient_id": PATIENT,
        "proxy_id": PROXY,
        "rights": ["grant", "view"],
        "valid_until": "2027-01-01T00:00:00Z",
    }
    for rid, (record_key, version) in records.items():
        wrapped = transient["wrapped_keys"][rid]
        assert crypto.unwrap_key(wrapped, crypto.RecordRef(rid, PATIENT, version), proxy_key) == record_key
        with pytest.raises(IntegrityError, match="belongs to"):  # bound to its record, not another
            crypto.unwrap_key(wrapped, crypto.RecordRef("rec-9", PATIENT, version), proxy_key)


def test_a_proxy_without_the_view_right_gets_no_keys_and_unknown_rights_are_refused() -> None:
    patient = Scripted(PATIENT, {"rec-1": (crypto.new_record_key(), 1)}, {})
    patient.name_proxy(PROXY, ["revoke"], "2027-01-01T00:00:00Z")
    assert patient.sent == [("SetProxy", patient.sent[0][1], {"wrapped_keys": {}})]
    with pytest.raises(CareLedgerError, match="unknown proxy right"):
        patient.name_proxy(PROXY, ["everything"], "2027-01-01T00:00:00Z")


def test_a_hospital_admin_names_a_proxy_for_a_patient_without_keys() -> None:
    admin = Scripted("h1-admin@Hospital1MSP", {"rec-1": (crypto.new_record_key(), 1)}, {})
    admin.name_proxy(PROXY, ["view"], "2027-01-01T00:00:00Z", patient="h1-patient-1")
    [(function, (doc,), transient)] = admin.sent
    assert (function, doc["patient_id"], transient) == ("SetProxy", PATIENT, {"wrapped_keys": {}})


def test_a_proxy_names_the_patient_when_acting_for_them() -> None:
    proxy = Scripted(PROXY, {}, {})
    proxy.request_access(["rec-1"], "treatment", on_behalf_of=PATIENT)
    assert proxy.sent[-1][1] == ({"record_ids": ["rec-1"], "purpose": "treatment", "on_behalf_of": PATIENT},)
    proxy.revoke_proxy(PROXY, patient=PATIENT)  # stepping down
    assert proxy.sent[-1][:2] == ("RevokeProxy", (PATIENT, PROXY))
