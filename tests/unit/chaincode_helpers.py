"""Actors and a fresh in-memory ledger for unit tests of the healthcare contract."""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from careledger_chaincode.contracts import all_contracts
from careledger_chaincode.runtime import ClientIdentity, Outcome, Router
from careledger_chaincode.runtime.testing import MemoryLedger
from careledger_protocol import EVENT_NAMES, sha256_of_json
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .contract_declarations import CheckedLedger

JWK = json.dumps(
    {
        "kty": "EC",
        "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    }
)
SALT = "5a1t" * 8  # a transient salt (the clients send a random one)
H1, H2, HA = "Hospital1MSP", "Hospital2MSP", "HealthAuthorityMSP"


def jwe(tag: str = "k") -> dict[str, str]:
    """A structurally valid JWE (JSON serialization); the contract never opens it."""
    return {"protected": "eyJ9", "encrypted_key": f"ek-{tag}", "iv": "iv", "ciphertext": "ct", "tag": "tg"}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def encode_transient(transient: dict[str, Any] | None) -> dict[str, bytes]:
    out = {}
    for name, value in (transient or {}).items():
        out[name] = (
            value
            if isinstance(value, bytes)
            else value.encode()
            if isinstance(value, str)
            else json.dumps(value).encode()
        )
    return out


def jwe_for(kid: str, tag: str = "k") -> dict[str, Any]:
    """A JWE (general JSON syntax) addressed to the key `kid`, as careledger.crypto.wrap_key addresses one."""
    recipient = {"header": {"alg": "ECDH-ES+A256KW", "kid": kid}, "encrypted_key": f"ek-{tag}"}
    return {"protected": "eyJ9", "recipients": [recipient], "iv": "iv", "ciphertext": "ct", "tag": "tg"}


def other_jwk(n: int) -> str:
    """Another EC public key (the contract never checks the point, only the JWK's form): a distinct thumbprint."""
    return json.dumps({**json.loads(JWK), "x": f"{n:02d}" + json.loads(JWK)["x"][2:]})


def enrollment_certificate(local_id: str) -> bytes:
    """A self-signed certificate (PEM) standing for one enrollment of `local_id` at a CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, local_id)])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def certificate_sha256(pem: bytes) -> str:
    return x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256()).hex()


@dataclass
class Actor:
    ledger: MemoryLedger
    local_id: str  # the member_id attribute of the certificate
    msp_id: str
    role: str
    certificate_pem: bytes = b""  # which enrollment signs, where a test needs to tell them apart

    @property
    def id(self) -> str:
        """The ledger id: the certificate's member_id qualified by its organization."""
        return f"{self.local_id}@{self.msp_id}"

    @property
    def org(self) -> str:
        return "org:" + self.msp_id

    @property
    def identity(self) -> ClientIdentity:
        attrs = {"role": self.role, "member_id": self.local_id, "hf.EnrollmentID": self.local_id}
        return ClientIdentity(msp_id=self.msp_id, certificate_pem=self.certificate_pem, attributes=attrs)

    def call(self, function: str, *args: Any, transient: dict[str, Any] | None = None) -> Outcome:
        encoded = [a if isinstance(a, str) else json.dumps(a) for a in args]
        return self.ledger.invoke(self.identity, function, *encoded, transient=encode_transient(transient))

    def ok(self, function: str, *args: Any, transient: dict[str, Any] | None = None) -> Any:
        events_before = len(self.ledger.events)
        outcome = self.call(function, *args, transient=transient)
        assert outcome.status == 200, f"{function} refused: {outcome.message}"
        emitted = {e.name for e in self.ledger.events[events_before:]}
        assert emitted <= EVENT_NAMES, f"{function} emitted an event the protocol does not name: {emitted}"
        return json.loads(outcome.payload) if outcome.payload else None

    def refused(self, code: str, function: str, *args: Any, transient: dict[str, Any] | None = None) -> str:
        outcome = self.call(function, *args, transient=transient)
        assert outcome.status == 400, (
            f"{function} should be refused with {code}, got {outcome.status} {outcome.message}"
        )
        assert outcome.message.startswith(code + ":"), outcome.message
        return outcome.message


class World:
    """A ledger with registered members of three orgs and org keys for both hospitals; every call is checked
    against what its function declares (contract_declarations)."""

    def __init__(self) -> None:
        self.ledger: MemoryLedger = CheckedLedger(Router(all_contracts()))
        L = self.ledger
        self.h1_admin = Actor(L, "h1-admin", H1, "admin")
        self.h2_admin = Actor(L, "h2-admin", H2, "admin")
        self.alice = Actor(L, "h1-patient-1", H1, "patient")
        self.bob = Actor(L, "h1-patient-2", H1, "patient")
        self.dr_h1 = Actor(L, "h1-clinician-1", H1, "clinician")
        self.dr_h1b = Actor(L, "h1-clinician-2", H1, "clinician")
        self.dr_h2 = Actor(L, "h2-clinician-1", H2, "clinician")
        self.researcher = Actor(L, "h1-researcher-1", H1, "researcher")
        self.auditor = Actor(L, "ha-auditor-1", HA, "auditor")
        self.h1_auditor = Actor(L, "h1-auditor-1", H1, "auditor")
        for actor in (
            self.alice,
            self.bob,
            self.dr_h1,
            self.dr_h1b,
            self.dr_h2,
            self.researcher,
            self.auditor,
            self.h1_auditor,
        ):
            actor.ok("RegisterMember", JWK)
        self.h1_admin.ok("SetConsortium", {"authority_msp": HA})  # as network-up does
        for admin in (self.h1_admin, self.h2_admin):
            admin.ok("RegisterOrganizationKey", JWK)

    def record(
        self, record_id: str = "rec-1", patient: Actor | None = None, category: str = "laboratory"
    ) -> dict[str, Any]:
        patient = patient or self.alice
        return {
            "record_id": record_id,
            "patient_id": patient.id,
            "category": category,
            "resource_type": "Observation",
            "ciphertext_sha256": digest(record_id),
            "size": 1234,
            "locator": f"sha256/{digest(record_id)}",
        }

    def record_keys(self, patient: Actor | None = None, custodian: str = H1, **extra: Any) -> dict[str, Any]:
        patient = patient or self.alice
        return {patient.id: jwe("patient"), f"org:{custodian}": jwe("custodian"), **extra}

    def create(
        self, record_id: str = "rec-1", category: str = "laboratory", by: Actor | None = None, **extra_keys: Any
    ) -> dict[str, Any]:
        """A record of Alice's created by Hospital1's clinician (or `by`), keyed for `extra_keys` too."""
        by = by or self.dr_h1
        keys = self.record_keys(custodian=by.msp_id, **extra_keys)
        return dict(by.ok("CreateRecord", self.record(record_id, category=category), transient={"wrapped_keys": keys}))

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
        }
        if record_ids is not None:
            doc["record_ids"] = record_ids
        doc.update(extra)
        return doc

    def give(
        self, grantee: str, record_ids: list[str] | None = None, patient: Actor | None = None, **extra: Any
    ) -> dict[str, Any]:
        """The patient (Alice) grants `grantee`, with the record keys re-wrapped for it."""
        patient = patient or self.alice
        keys = {r: jwe(grantee) for r in (record_ids or [])}
        doc = self.grant(grantee, record_ids, **extra)
        return dict(patient.ok("GrantConsent", doc, transient={"wrapped_keys": keys}))


# -- models ------------------------------------------------------------------------------------------------------
def training_run(feature_schema: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    """A training run on a public dataset, consistent with the schema (the contract recomputes its digest)."""
    return {
        "seed": 7,
        "evaluation_fingerprint": digest("evaluation rows"),
        "schema_sha256": sha256_of_json(feature_schema),
        "transform_sha256": digest("transform code"),
        "data_source": "scikit-learn:test",
        **changes,
    }


def reproduction(model: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What an auditor who reproduced the model's registered metrics sends with ApproveModel."""
    return {
        "artifact_sha256": model["artifact_sha256"],
        "evaluation_fingerprint": model["training"]["evaluation_fingerprint"],
        "metrics": model["metrics"],
        "subgroup_metrics": model.get("subgroup_metrics", {}),
        **changes,
    }


def approve(world: World, model: dict[str, Any]) -> dict[str, Any]:
    """The authority's auditor approves a registered model under a policy that asks for nothing."""
    try:
        world.auditor.ok("GetApprovalPolicy", model["model_id"], "")
    except AssertionError:
        world.auditor.ok("SetApprovalPolicy", {"model_id": model["model_id"]})
    approved: dict[str, Any] = world.auditor.ok(
        "ApproveModel", model["model_id"], model["version"], reproduction(model)
    )
    return approved


def explanation(*features: str) -> dict[str, float]:
    """Per-feature contributions as the runner sends them (transient 'explanations'), plus "bias"."""
    return {"bias": -0.1, **{name: round(0.1 * (n + 1), 6) for n, name in enumerate(features)}}


def inference_transient(outputs: dict[str, Any], features: tuple[str, ...] = ("mean radius",)) -> dict[str, Any]:
    """RecordInferences' transient data for these outputs: the salt, and each record's explanation."""
    return {"outputs": outputs, "salt": SALT, "explanations": {r: explanation(*features) for r in outputs}}
