"""What every CareLedger FHIR export shares: validation, the narrative, and how ledger ids are written.

Ledger ids travel as logical references (Reference.identifier) in CareLedger's own identifier systems: the
ledger is the authority for them and FHIR servers elsewhere hold no resources they could point at.
"""

from __future__ import annotations

import html
import json
from typing import Any

from careledger_protocol import member_org

from .errors import CareLedgerError

# Identifier systems of ledger ids, and of CareLedger's own codes where no standard code exists.
MEMBER_SYSTEM = "urn:careledger:member"  # a member (`<id>@<MSP>`) or an organization's key (`org:<MSP>`)
ORG_SYSTEM = "urn:careledger:org"  # an organization by its MSP id
RECORD_SYSTEM = "urn:careledger:record"
GRANT_SYSTEM = "urn:careledger:grant"  # a grant, as GrantConsent recorded it (signed by the patient)
SHA256_SYSTEM = "urn:careledger:sha256"
PURPOSE_SYSTEM = "urn:careledger:purpose"
CATEGORY_SYSTEM = "urn:careledger:category"

# HL7 code systems.
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"  # PurposeOfUse codes
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"  # sensitivity codes (PSY, HIV, ...)
V3_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
V3_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
V3_ROLE_CLASS = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
V3_DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"

# The information recipient (v3 ParticipationType IRCP): the role IHE PCF fixes for a consent's actors and
# IHE BALP gives the user who asked for data.
RECIPIENT = {"system": V3_PARTICIPATION, "code": "IRCP"}


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


def narrative(summary: str) -> dict[str, str]:
    """A resource's human-readable text (FHIR recommends one: dom-6), generated from its data."""
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{html.escape(summary)}</div>'}


def purpose_of_use(code: str) -> dict[str, str]:
    """An HL7 v3 PurposeOfUse code (TREAT, HRESCH, BTG, ...) as a Coding."""
    return {"system": V3_ACT_REASON, "code": code}


def member(ledger_id: str, kind: str | None = None) -> dict[str, Any]:
    """A reference to a ledger member (or an organization's key, `org:<MSP>`) by its ledger id."""
    reference: dict[str, Any] = {"identifier": {"system": MEMBER_SYSTEM, "value": ledger_id}}
    return {"type": kind, **reference} if kind else reference


def organization(ledger_id_or_msp: str) -> dict[str, Any]:
    """A reference to the organization of a member id (or to an MSP id itself)."""
    return {"type": "Organization", "identifier": {"system": ORG_SYSTEM, "value": member_org(ledger_id_or_msp)}}
