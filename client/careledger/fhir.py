"""FHIR R4 resources in and out: records' clinical content is validated before it is encrypted, and the
ledger's consents, access trail and model runs are exported as Consent (IHE PCF: fhir_pcf), AuditEvent
(IHE BALP: fhir_balp) and Provenance (here).

Validation uses the fhir.resources models (R4B, the compatible revision of R4).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from careledger_protocol import PURPOSE_OF_USE, Inference, Purpose

from ._fhir_common import (
    RECORD_SYSTEM,
    SHA256_SYSTEM,
    V3_DATA_OPERATION,
    FHIRError,
    member,
    narrative,
    organization,
    purpose_of_use,
    validate,
)
from .fhir_balp import audit_event
from .fhir_pcf import CONSENT_POLICY, consent

__all__ = [
    "CLINICAL_TYPES",
    "CONSENT_POLICY",
    "FHIRError",
    "audit_event",
    "bundle",
    "canonical_bytes",
    "consent",
    "provenance",
    "validate",
]

CLINICAL_TYPES = ("Observation", "DiagnosticReport", "Condition", "Procedure", "MedicationStatement")
INFERENCE_SYSTEM = "urn:careledger:inference"  # a model output: `<inference tx id>/<n>`
MODEL_SYSTEM = "urn:careledger:model"  # a model version: `<model id>@<version>`
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


def canonical_bytes(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def bundle(resources: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A collection Bundle of resources. Each entry has a fullUrl (R4 requires one), a urn:uuid derived
    from the resource's type and id, so exporting the same resource again gives the same fullUrl; an empty
    Bundle has no `entry` at all (FHIR forbids empty arrays)."""
    entries = [{"fullUrl": _full_url(r), "resource": r} for r in resources]
    return {"resourceType": "Bundle", "type": "collection", **({"entry": entries} if entries else {})}


def _full_url(resource: dict[str, Any]) -> str:
    name = "{}/{}".format(resource["resourceType"], resource["id"])
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def provenance(inference: Inference) -> dict[str, Any]:
    """A recorded model run as a FHIR Provenance of its output, by FHIR's conventions for a generated result:
    - target: what the run made, the output (by inference id: it is private data, kept on the ledger's
      private collection) and its explanation (by SHA-256);
    - activity: v3 DataOperation CREATE, "model inference" as its text; reason: the v3 PurposeOfUse of
      the access it ran under (diagnosis-ai is TREAT); policy: the consent policy that access rested on;
    - agents: the model version as a Device, the author of the output (by `<model id>@<version>`, its
      artifact's SHA-256 in the display), and the clinician who ran it as performer, on behalf of their
      organization;
    - entities: the record it read (source: the primary source of the information, by record id, the
      version by its ciphertext's SHA-256 in the display) and the features the model was given, derived
      from the record (derivation, by SHA-256).
    `recorded` is when the ledger recorded the run; when the model ran (occurred[x]) is not on the ledger."""
    model = f"{inference['model_id']}@{inference['version']}"
    return validate(
        {
            "resourceType": "Provenance",
            "id": f"{inference['tx_id'][:40]}-{inference['n']}",
            "text": narrative(
                f"Model {inference['model_id']} {inference['version']} ran on {inference['record_id']} "
                f"for {inference['requester']} at {inference['time']}."
            ),
            "target": [
                {
                    "identifier": {"system": INFERENCE_SYSTEM, "value": f"{inference['tx_id']}/{inference['n']}"},
                    "display": f"the output of {model} on record {inference['record_id']}",
                },
                {
                    "identifier": {"system": SHA256_SYSTEM, "value": inference["explanation_sha256"]},
                    "display": f"the explanation of that output by {model}",
                },
            ],
            "recorded": inference["time"],
            "policy": [CONSENT_POLICY],
            "reason": [{"coding": [purpose_of_use(PURPOSE_OF_USE[Purpose.DIAGNOSIS_AI])], "text": "diagnosis-ai"}],
            "activity": {"coding": [{"system": V3_DATA_OPERATION, "code": "CREATE"}], "text": "model inference"},
            "agent": [
                {
                    "type": {"coding": [{"system": PARTICIPANT_TYPE, "code": "author"}]},
                    "who": {
                        "type": "Device",
                        "identifier": {"system": MODEL_SYSTEM, "value": model},
                        "display": f"model {model}, artifact SHA-256 {inference['artifact_sha256']}",
                    },
                },
                {
                    "type": {"coding": [{"system": PARTICIPANT_TYPE, "code": "performer"}]},
                    "who": member(inference["requester"], "Practitioner"),
                    "onBehalfOf": organization(inference["requester_org"]),
                },
            ],
            "entity": [
                {
                    "role": "source",
                    "what": {
                        "identifier": {"system": RECORD_SYSTEM, "value": inference["record_id"]},
                        "display": f"record {inference['record_id']}, the version whose ciphertext has SHA-256 "
                        f"{inference['ciphertext_sha256']}",
                    },
                },
                {
                    "role": "derivation",
                    "what": {
                        "identifier": {"system": SHA256_SYSTEM, "value": inference["input_sha256"]},
                        "display": "the features the model was given, read from that record",
                    },
                },
            ],
        }
    )
