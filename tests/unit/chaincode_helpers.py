"""Actors and a fresh in-memory ledger for unit tests of the healthcare contract."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from careledger_chaincode.contracts import all_contracts
from careledger_chaincode.runtime import ClientIdentity, Outcome, Router
from careledger_chaincode.runtime.testing import MemoryLedger

JWK = json.dumps(
    {
        "kty": "EC",
        "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    }
)


def jwe(tag: str = "k") -> dict[str, str]:
    """A structurally valid JWE (JSON serialization); the contract never opens it."""
    return {"protected": "eyJ9", "encrypted_key": f"ek-{tag}", "iv": "iv", "ciphertext": "ct", "tag": "tg"}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Actor:
    ledger: MemoryLedger
    member_id: str
    msp_id: str
    role: str

    @property
    def identity(self) -> ClientIdentity:
        attrs = {"role": self.role, "member_id": self.member_id, "hf.EnrollmentID": self.member_id}
        return ClientIdentity(msp_id=self.msp_id, certificate_pem=b"", attributes=attrs)

    def call(self, function: str, *args: Any) -> Outcome:
        encoded = [a if isinstance(a, str) else json.dumps(a) for a in args]
        return self.ledger.invoke(self.identity, function, *encoded)

    def ok(self, function: str, *args: Any) -> Any:
        outcome = self.call(function, *args)
        assert outcome.status == 200, f"{function} refused: {outcome.message}"
        return json.loads(outcome.payload) if outcome.payload else None

    def refused(self, code: str, function: str, *args: Any) -> str:
        outcome = self.call(function, *args)
        assert outcome.status == 400, (
            f"{function} should be refused with {code}, got {outcome.status} {outcome.message}"
        )
        assert outcome.message.startswith(code + ":"), outcome.message
        return outcome.message

    @property
    def org(self) -> str:
        return "org:" + self.msp_id


class World:
    """A ledger with registered members of three orgs and org keys for both hospitals."""

    def __init__(self) -> None:
        self.ledger = MemoryLedger(Router(all_contracts()))
        L = self.ledger
        self.h1_admin = Actor(L, "h1-admin", "Hospital1MSP", "admin")
        self.h2_admin = Actor(L, "h2-admin", "Hospital2MSP", "admin")
        self.alice = Actor(L, "h1-patient-1", "Hospital1MSP", "patient")
        self.bob = Actor(L, "h1-patient-2", "Hospital1MSP", "patient")
        self.dr_h1 = Actor(L, "h1-clinician-1", "Hospital1MSP", "clinician")
        self.dr_h2 = Actor(L, "h2-clinician-1", "Hospital2MSP", "clinician")
        self.researcher = Actor(L, "h1-researcher-1", "Hospital1MSP", "researcher")
        self.auditor = Actor(L, "ha-auditor-1", "HealthAuthorityMSP", "auditor")
        self.h1_auditor = Actor(L, "h1-auditor-1", "Hospital1MSP", "auditor")
        for actor in (
            self.alice,
            self.bob,
            self.dr_h1,
            self.dr_h2,
            self.researcher,
            self.auditor,
            self.h1_auditor,
        ):
            actor.ok("RegisterMember", JWK)
        for admin in (self.h1_admin, self.h2_admin):
            admin.ok("RegisterOrganizationKey", JWK)

    def record(
        self,
        record_id: str = "rec-1",
        patient: Actor | None = None,
        category: str = "laboratory",
        **extra_keys: Any,
    ) -> dict[str, Any]:
        patient = patient or self.alice
        keys = {patient.member_id: jwe("patient"), "org:Hospital1MSP": jwe("custodian"), **extra_keys}
        return {
            "record_id": record_id,
            "patient_id": patient.member_id,
            "category": category,
            "resource_type": "Observation",
            "ciphertext_sha256": digest(record_id),
            "size": 1234,
            "locator": f"sha256/{digest(record_id)}",
            "wrapped_keys": keys,
        }

    def grant(
        self,
        grantee: str,
        record_ids: list[str] | None = None,
        purposes: list[str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "grantee": grantee,
            "purposes": purposes or ["treatment"],
            "valid_until": "2027-01-01T00:00:00Z",
            "wrapped_keys": {r: jwe(grantee) for r in (record_ids or [])},
        }
        if record_ids is not None:
            doc["record_ids"] = record_ids
        doc.update(extra)
        return doc
