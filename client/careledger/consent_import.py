"""Consent in: a FHIR R4 Consent (as IHE Privacy Consent on FHIR shapes them, and as CareLedger exports
them) read into the grants it asks for. Only what a grant can express is accepted; anything else is refused
with the reason, before anything is sent.

A Consent becomes one grant per actor: `provision.type` permit; `provision.period.end` (required: consent on
the ledger always ends); actors by identifier (`urn:careledger:member` for a person or `org:<MSP>`), in the
recipient role (v3 ParticipationType IRCP) or without a role; purposes as HL7 v3 PurposeOfUse (TREAT,
HRESCH) or CareLedger's own codes; the data as record identifiers and/or classes (categories).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from careledger_protocol import PURPOSE_OF_USE, PURPOSES

from .fhir import CONSENT_POLICY, FHIRError, validate

MEMBER_SYSTEM, RECORD_SYSTEM = "urn:careledger:member", "urn:careledger:record"
PURPOSE_SYSTEM, CATEGORY_SYSTEM = "urn:careledger:purpose", "urn:careledger:category"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
V3_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
# v3 codes read as CareLedger purposes: where two of ours share one (TREAT), the first listed, the broadest,
# is meant (a model run for care is asked for by our own code).
_FROM_V3 = {code: purpose for purpose, code in reversed(PURPOSE_OF_USE.items())}


class ConsentNotExpressible(FHIRError):
    """The Consent is valid FHIR but asks for something a grant cannot say; the message says what."""


@dataclass(frozen=True)
class GrantRequest:
    grantee: str
    purposes: tuple[str, ...]
    valid_until: str
    record_ids: tuple[str, ...]
    categories: tuple[str, ...]


def grants_from_consent(resource: dict[str, Any], patient_id: str, now: datetime | None = None) -> list[GrantRequest]:
    """The grants a Consent of `patient_id` asks for (one per actor)."""
    consent = validate(resource)
    if consent.get("resourceType") != "Consent":
        raise FHIRError(f"expected a Consent resource, got {consent.get('resourceType')}")
    if consent.get("status") != "active":
        raise ConsentNotExpressible(f"the Consent is {consent.get('status')}: only an active Consent becomes grants")
    patient = _identifier(consent.get("patient", {}), "patient")
    if patient != patient_id:
        raise ConsentNotExpressible(f"the Consent is about {patient}, not about you ({patient_id})")
    policies = [p.get("uri") for p in consent.get("policy", [])]
    if policies and CONSENT_POLICY not in policies:
        raise ConsentNotExpressible(f"the Consent names policies {policies}; CareLedger grants follow {CONSENT_POLICY}")
    provision = consent.get("provision") or {}
    if provision.get("type", "permit") != "permit":
        raise ConsentNotExpressible("only permit provisions become grants (a deny is what having no grant means)")
    if provision.get("provision"):
        raise ConsentNotExpressible("nested provisions (exceptions) cannot be expressed as grants: split the Consent")
    end = (provision.get("period") or {}).get("end")
    if not end:
        raise ConsentNotExpressible("provision.period.end is missing: a grant on the ledger always ends")
    if datetime.fromisoformat(end) <= (now or datetime.now(UTC)):
        raise ConsentNotExpressible(f"provision.period.end {end} is past")
    purposes = _purposes(provision.get("purpose", []))
    records = tuple(_identifier(d.get("reference", {}), "data", RECORD_SYSTEM) for d in provision.get("data", []))
    categories = tuple(_category(c) for c in provision.get("class", []))
    if not records and not categories:
        raise ConsentNotExpressible("the provision names no data and no class: say which records or categories")
    actors = provision.get("actor", [])
    if not actors:
        raise ConsentNotExpressible("the provision names no actor: say who may access")
    return [GrantRequest(_grantee(actor), purposes, end, records, categories) for actor in actors]


def _identifier(reference: dict[str, Any], what: str, system: str = MEMBER_SYSTEM) -> str:
    identifier = reference.get("identifier") or {}
    if identifier.get("system") != system or not identifier.get("value"):
        raise ConsentNotExpressible(f"the {what} must be given by identifier in {system}")
    return str(identifier["value"])


def _grantee(actor: dict[str, Any]) -> str:
    roles = [c for c in (actor.get("role") or {}).get("coding", [])]
    if roles and not any(c.get("system") == V3_PARTICIPATION and c.get("code") == "IRCP" for c in roles):
        raise ConsentNotExpressible("an actor's role must be the recipient (v3 ParticipationType IRCP)")
    return _identifier(actor.get("reference", {}), "actor")


def _purposes(codings: list[dict[str, Any]]) -> tuple[str, ...]:
    found: list[str] = []
    for coding in codings:
        system, code = coding.get("system"), coding.get("code")
        if system == PURPOSE_SYSTEM and code in PURPOSES:
            found.append(code)
        elif system == V3_ACT_REASON and code in _FROM_V3:
            found.append(_FROM_V3[code])
        else:
            known = ", ".join([*_FROM_V3, *PURPOSES])
            raise ConsentNotExpressible(f"purpose {system}#{code} has no grant equivalent (known: {known})")
    if not found:
        raise ConsentNotExpressible("the provision names no purpose: say what the access is for")
    # Our own codes are the finer ones: when a Consent carries both (as our exports do), they decide.
    own = [p for p, c in zip(found, codings, strict=True) if c.get("system") == PURPOSE_SYSTEM]
    return tuple(dict.fromkeys(own or found))


def _category(coding: dict[str, Any]) -> str:
    if coding.get("system") != CATEGORY_SYSTEM or not coding.get("code"):
        raise ConsentNotExpressible(f"class {coding.get('system')}#{coding.get('code')}: use {CATEGORY_SYSTEM} codes")
    return str(coding["code"])
