"""FHIR R4 resources in and out: records' clinical content is validated before it is encrypted, and the
ledger's consents, access trail and model runs are exported as Consent, AuditEvent and Provenance.

Validation uses the fhir.resources models (R4B, the compatible revision of R4).
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from careledger_protocol import BREAK_THE_GLASS_PURPOSE_OF_USE, PURPOSE_OF_USE, AuditEvent, Grant, Inference

from .errors import CareLedgerError

CLINICAL_TYPES = ("Observation", "DiagnosticReport", "Condition", "Procedure", "MedicationStatement")


class FHIRError(CareLedgerError):
    """A resource is not valid FHIR; the message names the field."""


def validate(resource: dict[str, Any]) -> dict[str, Any]:
    """Validate a FHIR resource (dict); returns it normalised (no nulls), or raises FHIRError."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(kind, str):
        raise FHIRError("not a FHIR resource: resourceType is missing")
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError):
        raise FHIRError(f"{kind!r} is not a FHIR R4 resource type") from None
    try:
        parsed = model.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise FHIRError(f"invalid {kind}: {where}: {first.get('msg')}") from None
    result: dict[str, Any] = json.loads(parsed.model_dump_json(exclude_none=True))
    return result


def canonical_bytes(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# The policy every CareLedger grant is given under (FHIR R4 requires a Consent to name one: ppc-1).
CONSENT_POLICY = "urn:careledger:policy:patient-directed-access"


def bundle(resources: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A collection Bundle of resources. Each entry has a fullUrl (R4 requires one), a urn:uuid derived
    from the resource's type and id, so exporting the same resource again gives the same fullUrl; an empty
    Bundle has no `entry` at all (FHIR forbids empty arrays)."""
    entries = [{"fullUrl": _full_url(r), "resource": r} for r in resources]
    return {"resourceType": "Bundle", "type": "collection", **({"entry": entries} if entries else {})}


def _narrative(summary: str) -> dict[str, str]:
    """A resource's human-readable text (FHIR recommends one: dom-6), generated from its data."""
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{html.escape(summary)}</div>'}


def _patient_entity(patient_id: str) -> list[dict[str, Any]]:
    """The patient whose data was asked for (IHE BALP: an entity of role Patient); none when the record
    asked for does not exist, so neither does its patient."""
    if not patient_id:
        return []
    return [
        {
            "what": {"identifier": {"system": "urn:careledger:member", "value": patient_id}},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1"},
        }
    ]


def _purpose_of_use(code: str) -> dict[str, str]:
    return {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": code}


def _full_url(resource: dict[str, Any]) -> str:
    name = "{}/{}".format(resource["resourceType"], resource["id"])
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def consent(grant: Grant, now: datetime | None = None) -> dict[str, Any]:
    """A ledger grant as a FHIR Consent: inactive once revoked or past its end."""
    ended = datetime.fromisoformat(grant["valid_until"]) <= (now or datetime.now(UTC))
    return validate(
        {
            "resourceType": "Consent",
            "id": grant["id"],
            "text": _narrative(
                f"{grant['patient_id']} permits {grant['grantee']} to open "
                f"{', '.join([*grant['record_ids'], *grant['categories']])} for {', '.join(grant['purposes'])} "
                f"until {grant['valid_until']} ({grant['status']})."
            ),
            "status": "active" if grant["status"] == "active" and not ended else "inactive",
            "policy": [{"uri": CONSENT_POLICY}],
            "scope": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
            },
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"identifier": {"system": "urn:careledger:member", "value": grant["patient_id"]}},
            "dateTime": grant["created_at"],
            "provision": {
                "type": "permit",
                "period": {"start": grant["valid_from"], "end": grant["valid_until"]},
                "actor": [
                    {
                        "role": {
                            "coding": [
                                {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}
                            ]
                        },
                        "reference": {"identifier": {"system": "urn:careledger:member", "value": grant["grantee"]}},
                    }
                ],
                # The standard code other systems act on, then ours (two of ours share TREAT).
                "purpose": [
                    *(_purpose_of_use(code) for code in dict.fromkeys(PURPOSE_OF_USE[p] for p in grant["purposes"])),
                    *({"system": "urn:careledger:purpose", "code": p} for p in grant["purposes"]),
                ],
                "data": [
                    {
                        "meaning": "instance",
                        "reference": {"identifier": {"system": "urn:careledger:record", "value": r}},
                    }
                    for r in grant["record_ids"]
                ],
                "class": [{"system": "urn:careledger:category", "code": c} for c in grant["categories"]],
            },
        }
    )


def audit_event(event: AuditEvent) -> dict[str, Any]:
    """A ledger access decision as a FHIR AuditEvent (the ledger transaction id is its identifier)."""
    return validate(
        {
            "resourceType": "AuditEvent",
            "id": f"{event['tx_id'][:40]}-{event['n']}",
            "text": _narrative(
                f"{event['requester']} asked for {event['record_id'] or 'a record'} for {event['purpose']}"
                f"{' (emergency)' if event['emergency'] else ''} at {event['time']}: {event['decision']}"
                f" ({event['reason']})."
            ),
            "type": {
                "system": "http://dicom.nema.org/resources/ontology/DCM",
                "code": "110110",
                "display": "Patient Record",
            },
            # A read of the record (the standard interaction code); break-glass shows in purposeOfEvent (BTG).
            "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
            "action": "R",
            "recorded": event["time"],
            "outcome": "0" if event["decision"] == "allowed" else "4",
            "outcomeDesc": event["reason"],
            "purposeOfEvent": [
                {
                    "coding": [
                        _purpose_of_use(
                            BREAK_THE_GLASS_PURPOSE_OF_USE if event["emergency"] else PURPOSE_OF_USE[event["purpose"]]
                        ),
                        {"system": "urn:careledger:purpose", "code": event["purpose"]},
                    ]
                }
            ],
            "agent": [
                {
                    "who": {"identifier": {"system": "urn:careledger:member", "value": event["requester"]}},
                    "requestor": True,
                    "role": [{"text": event["requester_role"]}],
                }
            ],
            "source": {
                "site": event["custodian"] or "unknown",
                "observer": {"identifier": {"system": "urn:careledger:org", "value": event["requester_org"]}},
            },
            "entity": [
                *_patient_entity(event["patient_id"]),
                {
                    "what": {"identifier": {"system": "urn:careledger:record", "value": event["record_id"]}},
                    "detail": [{"type": "fabric-transaction", "valueString": event["tx_id"]}],
                },
            ],
        }
    )


def provenance(inference: Inference) -> dict[str, Any]:
    """A recorded model run as a FHIR Provenance of its output."""
    return validate(
        {
            "resourceType": "Provenance",
            "id": f"{inference['tx_id'][:40]}-{inference['n']}",
            "text": _narrative(
                f"Model {inference['model_id']} {inference['version']} ran on {inference['record_id']} "
                f"for {inference['requester']} at {inference['time']}."
            ),
            "target": [{"identifier": {"system": "urn:careledger:record", "value": inference["record_id"]}}],
            "recorded": inference["time"],
            "activity": {"coding": [{"system": "urn:careledger:activity", "code": "model-inference"}]},
            "agent": [
                {"who": {"identifier": {"system": "urn:careledger:member", "value": inference["requester"]}}},
                {
                    "who": {
                        "identifier": {
                            "system": "urn:careledger:model",
                            "value": f"{inference['model_id']}@{inference['version']}",
                        }
                    },
                    "type": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                "code": "assembler",
                            }
                        ]
                    },
                },
            ],
            "entity": [
                {
                    "role": "source",
                    "what": {"identifier": {"system": "urn:careledger:sha256", "value": inference["input_sha256"]}},
                },
                {
                    "role": "derivation",
                    "what": {
                        "identifier": {"system": "urn:careledger:sha256", "value": inference["explanation_sha256"]}
                    },
                },
            ],
        }
    )
