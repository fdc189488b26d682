"""Ledger documents as the chaincode writes them (careledger_protocol.documents), for the FHIR export tests:
grants of every shape, audit events of every kind of decision, inferences, and trails of any length."""

from __future__ import annotations

import hashlib
from typing import Any

from careledger_protocol import PURPOSES, AuditEvent, Grant, Inference

PATIENT = "h1-patient-1@Hospital1MSP"
CLINICIAN = "h1-clinician-1@Hospital1MSP"
OTHER_CLINICIAN = "h2-clinician-1@Hospital2MSP"
RESEARCHER = "h1-researcher-1@Hospital1MSP"
PROXY = "h2-parent-1@Hospital2MSP"  # a parent the patient named as proxy
H1, H2 = "Hospital1MSP", "Hospital2MSP"


def _tx(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()  # Fabric transaction ids are 64 hex digits


def _time(i: int) -> str:
    # The chaincode's stored form: UTC, microseconds, fixed width.
    return f"2026-03-{1 + i // 1440 % 28:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00.{i % 1000000:06d}Z"


# -- ledger documents, as the chaincode writes them ----------------------------------------------------------
def event(i: int, *, decision: str = "allowed", purpose: str = "treatment", emergency: bool = False) -> AuditEvent:
    tx = _tx(f"access-{i}")
    allowed = decision == "allowed"
    doc: dict[str, Any] = {
        "tx_id": tx,
        "time": _time(i),
        "requester": OTHER_CLINICIAN if emergency else (RESEARCHER if purpose == "research" else CLINICIAN),
        "requester_org": H2 if emergency else H1,
        "requester_role": "researcher" if purpose == "research" else "clinician",
        "purpose": purpose,
        "emergency": emergency,
        "n": i % 3,
        "record_id": f"rec-{i:04d}",
        "patient_id": PATIENT,
        "custodian": H1,
        "decision": decision,
        "reason": "emergency access" if emergency else (f"consent g-{tx[:32]}" if allowed else "no active consent"),
    }
    if allowed:
        doc.update(version=1 + i % 2, ciphertext_sha256=_tx(f"ciphertext-{i}"))
    if allowed and not emergency:
        doc["consent_id"] = f"g-{tx[:32]}"  # the grant its access transaction recorded (the views add it)
    if emergency:
        doc.update(justification_sha256=_tx(f"justification-{i}"), justification_length=64)
    return doc  # type: ignore[return-value]


def own_record_event(i: int) -> AuditEvent:
    """The patient opening their own record: allowed by role, no consent."""
    doc: dict[str, Any] = {**event(i), "requester": PATIENT, "requester_role": "patient"}
    doc.update(reason="the patient's own record")
    del doc["consent_id"]
    return doc  # type: ignore[return-value]


def proxy_event(i: int) -> AuditEvent:
    """A proxy (a parent) opening the patient's record for them: allowed by the proxy relation, no consent."""
    doc: dict[str, Any] = {**own_record_event(i), "requester": PROXY, "requester_org": "Hospital2MSP"}
    doc.update(on_behalf_of=PATIENT, reason=f"opened by {PROXY} for {PATIENT}, as their proxy")
    return doc  # type: ignore[return-value]


def missing_record_event(i: int) -> AuditEvent:
    """A denial for a record id that does not exist: no patient, no custodian (the requester's trail)."""
    doc: dict[str, Any] = {**event(i, decision="denied"), "patient_id": "", "custodian": "", "reason": "no such record"}
    return doc  # type: ignore[return-value]


def grant(
    name: str,
    *,
    records: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    purposes: tuple[str, ...] = ("treatment",),
    grantee: str = CLINICIAN,
    revoked: bool = False,
    valid_until: str = "2027-06-30T23:59:59.000000Z",
) -> Grant:
    tx = _tx(f"grant-{name}")
    doc: dict[str, Any] = {
        "id": f"g-{tx[:32]}",
        "patient_id": PATIENT,
        "grantee": grantee,
        "grantee_org": grantee.split("@")[-1] if "@" in grantee else grantee.removeprefix("org:"),
        "record_ids": list(records),
        "categories": list(categories),
        "purposes": sorted(purposes),
        "valid_from": "2026-01-15T08:00:00.000000Z",
        "valid_until": valid_until,
        "status": "revoked" if revoked else "active",
        "created_at": "2026-01-15T08:00:00.000000Z",
        "keyed_records": sorted(records),
    }
    if revoked:
        doc["revoked_at"] = "2026-02-01T12:00:00.000000Z"
    return doc  # type: ignore[return-value]


GRANTS: dict[str, Grant] = {
    "record": grant("record", records=("rec-0001",)),
    "records": grant("records", records=("rec-0001", "rec-0002", "rec-0003")),
    "category": grant("category", categories=("laboratory",)),
    "categories-and-records": grant("mixed", records=("rec-0004",), categories=("laboratory", "imaging")),
    "all-purposes": grant("all-purposes", categories=("pathology",), purposes=PURPOSES),
    "research": grant("research", categories=("laboratory",), purposes=("research",), grantee=RESEARCHER),
    "organization": grant("organization", categories=("imaging",), grantee=f"org:{H2}"),
    "revoked": grant("revoked", records=("rec-0001",), revoked=True),
    "expired": grant("expired", categories=("laboratory",), valid_until="2026-01-31T00:00:00.000000Z"),
    # Categories with a standard sensitivity code (PCF Advanced), alone, with records, with another category.
    "sensitive-category": grant("sensitive", categories=("mental-health",), purposes=("diagnosis-ai",)),
    "records-and-sensitive": grant("records-sensitive", records=("rec-0005",), categories=("hiv", "substance-use")),
    "sensitive-and-unlabelled": grant("sensitive-unlabelled", categories=("mental-health", "laboratory")),
    "by-proxy": {**grant("by-proxy", records=("rec-0001",)), "granted_by": PROXY},  # PCF's delegate case
}

EVENTS: dict[str, AuditEvent] = {
    "consented": event(1),
    "denied": event(2, decision="denied"),
    "break-glass": event(3, emergency=True),
    "research": event(4, purpose="research"),
    "diagnosis-ai": event(5, purpose="diagnosis-ai"),
    "missing-record": missing_record_event(6),
    "own-record": own_record_event(7),
    "by-proxy": proxy_event(8),
}


def inference(i: int) -> Inference:
    return {
        "record_id": f"rec-{i:04d}",
        "ciphertext_sha256": _tx(f"ciphertext-{i}"),
        "input_sha256": _tx(f"input-{i}"),
        "explanation_sha256": _tx(f"explanation-{i}"),
        "output_sha256": _tx(f"output-{i}"),
        "tx_id": _tx(f"inference-{i}"),
        "n": i,
        "time": _time(i),
        "model_id": "breast-cancer-risk",
        "version": "1.0.0",
        "artifact_sha256": _tx("artifact"),
        "access_tx_id": _tx(f"access-{i}"),
        "requester": CLINICIAN,
        "requester_org": H1,
        "patient_id": PATIENT,
        "custodian": H1,
    }


def trail(count: int, start: int = 1000) -> list[AuditEvent]:
    """A mixed trail: mostly consented reads, some denials and break-glass, every purpose. Its
    transactions start at `start`, apart from EVENTS', so a bundle of both holds no event twice."""
    return [
        event(i, decision="denied" if i % 7 == 3 else "allowed", purpose=PURPOSES[i % 3], emergency=i % 11 == 5)
        for i in range(start, start + count)
    ]
