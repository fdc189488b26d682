"""Consent in: a FHIR R4 Consent (as IHE Privacy Consent on FHIR shapes them, at its Basic, Intermediate and
Advanced levels, and as CareLedger exports them, now and before) read into the grants it asks for. Only what
a grant can express is accepted; anything else is refused whole, with the reason, before anything is sent.

A Consent becomes one grant per actor of its root provision:
- the root provision is a permit, with an end (`period.end`: consent on the ledger always ends), actors by
  identifier (`urn:careledger:member`: a person, or `org:<MSP>`) in the recipient role (v3
  ParticipationType IRCP, the role PCF fixes), and purposes as HL7 v3 PurposeOfUse (TREAT, HRESCH) and/or
  CareLedger's own codes, which refine the v3 code they share (TREAT alone reads as treatment);
- the data: records (`data` of meaning `instance`, by `urn:careledger:record` identifier) and/or
  categories: a standard sensitivity label (`securityLabel`, v3 ActCode PSY, HIV, ...: fhir_pcf's
  SECURITY_LABELS) names the category whose records carry it; CareLedger's own `class` codes (its exports
  before PCF, and now for categories PCF cannot name) name categories directly;
- nested permit provisions (PCF, from Intermediate on) add data to the grant: each has the root's actor,
  purposes and period, or none of its own. CareLedger's old exports put records and classes in one
  provision, meaning either; FHIR reads one provision's data and security labels together (records that
  have both), which no grant says, so those must be split into a nested provision.

Refused, saying why: a deny, nested denies (exceptions that take data away), a Consent with no data
restriction (Basic: a grant always names records or categories), data by time (`dataPeriod`), by relation
or author (`data` meanings other than `instance`), by confidentiality (v3 Confidentiality N, R, ...) or by
labels or codes with no category, `action` or `code` restrictions, purposes no grant has (payment,
operations, ...; BTG: break-glass needs no consent on CareLedger, it is its own audited access), no end, no
actor or an actor in another role, another patient, another policy, a Consent that is not active, and
provisions nested two deep (PCF forbids them too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from careledger_protocol import BREAK_THE_GLASS_PURPOSE_OF_USE, PURPOSE_OF_USE, PURPOSES

from ._fhir_common import (
    CATEGORY_SYSTEM,
    MEMBER_SYSTEM,
    PURPOSE_SYSTEM,
    RECORD_SYSTEM,
    V3_ACT_CODE,
    V3_ACT_REASON,
    V3_CONFIDENTIALITY,
    V3_PARTICIPATION,
)
from .fhir import CONSENT_POLICY, FHIRError, validate
from .fhir_pcf import CATEGORY_OF_LABEL, PURPOSE_OF_V3

_TERMS = ("actor", "purpose", "period")


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
    end = (provision.get("period") or {}).get("end")
    if not end:
        raise ConsentNotExpressible("provision.period.end is missing: a grant on the ledger always ends")
    if datetime.fromisoformat(end) <= (now or datetime.now(UTC)):
        raise ConsentNotExpressible(f"provision.period.end {end} is past")
    purposes = _purposes(provision.get("purpose", []))
    actors = provision.get("actor", [])
    if not actors:
        raise ConsentNotExpressible("the provision names no actor: say who may access (CareLedger grants name one)")
    grantees = [_grantee(actor) for actor in actors]
    records, categories = _data(provision, "the provision")
    for i, nested in enumerate(provision.get("provision", [])):
        where = f"nested provision {i + 1}"
        if nested.get("type", "permit") != "permit":
            raise ConsentNotExpressible(
                f"{where} is a {nested['type']}: nested provisions that take data away cannot be expressed as "
                "grants (a grant only adds records or categories)"
            )
        if nested.get("provision"):
            raise ConsentNotExpressible(f"{where} has provisions of its own: nesting two deep is not allowed (PCF)")
        differing = [t for t in _TERMS if t in nested and nested[t] != provision.get(t)]
        if differing:
            raise ConsentNotExpressible(
                f"{where} has its own {', '.join(differing)}: a grant has one set of terms; write one Consent each"
            )
        more_records, more_categories = _data(nested, where)
        records += more_records
        categories += more_categories
    if not records and not categories:
        raise ConsentNotExpressible(
            "the provision names no data (records, or security labels or classes for categories): a grant names "
            "records or categories, never all of a patient's data"
        )
    records, categories = tuple(dict.fromkeys(records)), tuple(dict.fromkeys(categories))
    return [GrantRequest(grantee, purposes, end, records, categories) for grantee in grantees]


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
    """CareLedger purposes of v3 and own codes: own codes decide for the v3 code they share (see the docstring)."""
    v3: list[str] = []
    own: list[str] = []
    for coding in codings:
        system, code = coding.get("system"), coding.get("code")
        if system == PURPOSE_SYSTEM and code in PURPOSES:
            own.append(code)
        elif system == V3_ACT_REASON and code in PURPOSE_OF_V3:
            v3.append(code)
        elif system == V3_ACT_REASON and code == BREAK_THE_GLASS_PURPOSE_OF_USE:
            raise ConsentNotExpressible(
                "purpose BTG (break-the-glass) needs no consent on CareLedger: an emergency access is its own "
                "audited path (`careledger record open --emergency`)"
            )
        else:
            known = ", ".join([*PURPOSE_OF_V3, *PURPOSES])
            raise ConsentNotExpressible(f"purpose {system}#{code} has no grant equivalent (known: {known})")
    refined = {PURPOSE_OF_USE[p] for p in own}
    found = [*own, *(PURPOSE_OF_V3[code] for code in v3 if code not in refined)]
    if not found:
        raise ConsentNotExpressible("the provision names no purpose: say what the access is for")
    return tuple(p for p in PURPOSES if p in found)


def _data(provision: dict[str, Any], where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(records, categories) one provision names; refused when it restricts data in a way a grant cannot."""
    for element, why in (
        ("dataPeriod", "data by when it was authored"),
        ("action", "actions (a grant allows opening the records for its purposes)"),
        ("code", "data by code"),
    ):
        if provision.get(element):
            raise ConsentNotExpressible(f"{where} restricts {why} ({element}): a grant names records or categories")
    records = tuple(_record(d, where) for d in provision.get("data", []))
    labelled = tuple(_labelled_category(c, where) for c in provision.get("securityLabel", []))
    classes = tuple(_category(c) for c in provision.get("class", []))
    if labelled and (records or classes):
        raise ConsentNotExpressible(
            f"{where} names data and security labels together, which FHIR reads as data having both: a grant "
            "names records or categories; put the security labels in a nested provision"
        )
    # Records and classes in one provision: CareLedger's own exports before PCF, meaning either.
    return records, labelled + classes


def _record(data: dict[str, Any], where: str) -> str:
    meaning = data.get("meaning")
    if meaning != "instance":
        raise ConsentNotExpressible(
            f"{where} names data of meaning {meaning} (data related to or authored by something): a grant names "
            "records themselves (meaning instance)"
        )
    return _identifier(data.get("reference", {}), "data", RECORD_SYSTEM)


def _labelled_category(coding: dict[str, Any], where: str) -> str:
    system, code = coding.get("system"), coding.get("code")
    if system == V3_ACT_CODE and code in CATEGORY_OF_LABEL:
        return CATEGORY_OF_LABEL[code]
    if system == V3_CONFIDENTIALITY:
        raise ConsentNotExpressible(
            f"{where} names data by confidentiality ({code}): a grant names records or categories, and no "
            "category is all data of one confidentiality"
        )
    known = ", ".join(f"{c} ({category})" for c, category in CATEGORY_OF_LABEL.items())
    raise ConsentNotExpressible(f"security label {system}#{code} names no category (known: {known})")


def _category(coding: dict[str, Any]) -> str:
    if coding.get("system") != CATEGORY_SYSTEM or not coding.get("code"):
        raise ConsentNotExpressible(f"class {coding.get('system')}#{coding.get('code')}: use {CATEGORY_SYSTEM} codes")
    return str(coding["code"])
