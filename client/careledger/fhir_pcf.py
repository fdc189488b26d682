"""Consents out, as IHE Privacy Consent on FHIR (PCF) shapes them: one FHIR R4 Consent per ledger grant.

What a grant becomes (PCF's foundation rules):
- status `active`, or `inactive` once revoked or past its end; scope `patient-privacy`; category LOINC
  59284-0 (patient consent); identifier: the grant id;
- patient and performer: the patient, who signed GrantConsent; or, when a proxy the patient (or their hospital)
  named granted for them (IHE PCF's delegate case), the proxy as performer, a RelatedPerson (the grant's
  `granted_by`; the ledger checked the proxy's grant right);
  organization: the patient's organization, whose portal presents the policy (the ledger enforces it);
- source: the grant as GrantConsent recorded it (sourceReference by the grant id); policy.uri: CONSENT_POLICY;
- one permit provision: the grant's period; its grantee as actor in the recipient role (v3
  ParticipationType IRCP, the only role PCF allows); its purposes as HL7 v3 PurposeOfUse codes;
- never provision.action, .code or .class, nor verification, nor provisions nested two deep.

Purposes: each as its v3 code (treatment and diagnosis-ai are both TREAT, research is HRESCH). Where a v3
code alone would be read back as another purpose (TREAT reads as treatment), CareLedger's own codes
(PURPOSE_SYSTEM) follow for every purpose sharing that v3 code, so the grant comes back the same.

The data a grant covers: its records, and its categories' records (those of today and those created later).
- Records: `provision.data` of meaning `instance`, by record id: the PCF Intermediate level.
- Categories with a standard sensitivity code (SECURITY_LABELS: mental-health is v3 ActCode PSY, hiv is
  HIV, ...): `provision.securityLabel`; the grant covers the records of that category, which carry that
  label: the PCF Advanced level.
- Categories with no such code (laboratory, imaging, pathology, ...) cannot be said in PCF: PCF forbids
  provision.class and provision.code, a security label names sensitivity, not a kind of record, and
  listing today's records would hide that the grant also opens the records created later. Such a
  Consent keeps the category as `provision.class` (valid FHIR R4, as CareLedger always exported it)
  and claims no PCF level; its narrative says why.
- A grant's records and categories are alternatives (a record named, or a record of a category), while
  FHIR reads the criteria of one provision together. So the root provision says the first kind (records,
  else labelled categories, else the others) and each other kind is a nested permit provision with the
  same actor, purposes and period (PCF allows one level of nesting from Intermediate on).

The level is labelled the standard way, in meta.profile (PCF_PROFILES): Basic for TREAT, HPAYMT and HOPERAT
purposes with no data restriction (no grant is: a grant always names records or categories), Intermediate
for records, Advanced when a security label is used, none when a category had to stay a class.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from careledger_protocol import PURPOSE_OF_USE, PURPOSES, Grant

from ._fhir_common import (
    CATEGORY_SYSTEM,
    GRANT_SYSTEM,
    PURPOSE_SYSTEM,
    RECIPIENT,
    RECORD_SYSTEM,
    V3_ACT_CODE,
    V3_ACT_REASON,
    member,
    narrative,
    organization,
    purpose_of_use,
    validate,
)

# The policy every CareLedger grant is given under (FHIR R4 requires a Consent to name one: ppc-1; PCF: policy.uri).
CONSENT_POLICY = "urn:careledger:policy:patient-directed-access"
_PCF = "https://profiles.ihe.net/ITI/PCF/StructureDefinition/"
PCF_PROFILES = {
    "basic": _PCF + "IHE.PCF.consentBasic",
    "intermediate": _PCF + "IHE.PCF.consentIntermediate",
    "advanced": _PCF + "IHE.PCF.consentAdvanced",
}
# A CareLedger category with a standard HL7 sensitivity code: records of the category carry that label. One
# category per code, so a label reads back as one category. The first six are the ones PCF Advanced requires
# implementations to support; GDIS is another code of the same HL7 sensitivity family.
SECURITY_LABELS: dict[str, str] = {
    "mental-health": "PSY",  # psychiatry disorder information sensitivity
    "substance-use": "ETH",  # substance abuse, alcohol included
    "alcohol-use": "ETHUD",  # alcohol use disorder
    "opioid-use": "OPIOIDUD",  # opioid use disorder
    "hiv": "HIV",
    "sexual-violence": "SDV",  # sexual assault, abuse or domestic violence
    "genetics": "GDIS",  # genetic disease information sensitivity
}
CATEGORY_OF_LABEL = {code: category for category, code in SECURITY_LABELS.items()}
BASIC_PURPOSES = ("TREAT", "HPAYMT", "HOPERAT")  # treatment, payment, operations: all a Basic consent may name
# The purpose a v3 code alone stands for: where two share one (TREAT), the first listed, the broadest.
PURPOSE_OF_V3 = {code: purpose for purpose, code in reversed(PURPOSE_OF_USE.items())}
_CONSENT_CATEGORY = {"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}
_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
_PRIVACY_SCOPE = {"coding": [{"system": _SCOPE_SYSTEM, "code": "patient-privacy"}]}


def purpose_codings(purposes: list[str]) -> list[dict[str, str]]:
    """The v3 PurposeOfUse code of each purpose, then CareLedger's own codes where a v3 code alone would be
    read back as another purpose (see the module's docstring)."""
    shared: dict[str, list[str]] = {}
    for purpose in (p for p in PURPOSES if p in purposes):
        shared.setdefault(PURPOSE_OF_USE[purpose], []).append(purpose)
    codings = [purpose_of_use(code) for code in shared]
    for code, ours in shared.items():
        if ours != [PURPOSE_OF_V3[code]]:
            codings += [{"system": PURPOSE_SYSTEM, "code": p} for p in ours]
    return codings


def security_label(category: str) -> dict[str, str]:
    return {"system": V3_ACT_CODE, "code": SECURITY_LABELS[category]}


def consent(grant: Grant, now: datetime | None = None) -> dict[str, Any]:
    """A ledger grant as a FHIR Consent (IHE PCF): inactive once revoked or past its end."""
    ended = datetime.fromisoformat(grant["valid_until"]) <= (now or datetime.now(UTC))
    labelled = [c for c in grant["categories"] if c in SECURITY_LABELS]
    unlabelled = [c for c in grant["categories"] if c not in SECURITY_LABELS]
    kinds: list[dict[str, Any]] = []  # the data criteria, each an alternative
    if grant["record_ids"]:
        kinds.append({"data": [_record(r) for r in grant["record_ids"]]})
    if labelled:
        kinds.append({"securityLabel": [security_label(c) for c in labelled]})
    if unlabelled:
        kinds.append({"class": [{"system": CATEGORY_SYSTEM, "code": c} for c in unlabelled]})
    terms: dict[str, Any] = {
        "type": "permit",
        "period": {"start": grant["valid_from"], "end": grant["valid_until"]},
        "actor": [{"role": {"coding": [RECIPIENT]}, "reference": _grantee(grant["grantee"])}],
        "purpose": purpose_codings(grant["purposes"]),
    }
    provision = {**terms, **kinds[0]} if kinds else dict(terms)
    if len(kinds) > 1:
        provision["provision"] = [{**terms, **kind} for kind in kinds[1:]]
    level = _level(provision, unlabelled, labelled)
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": grant["id"],
        **({"meta": {"profile": [PCF_PROFILES[level]]}} if level else {}),
        "text": narrative(_summary(grant, level, unlabelled)),
        "identifier": [{"system": GRANT_SYSTEM, "value": grant["id"]}],
        "status": "active" if grant["status"] == "active" and not ended else "inactive",
        "scope": _PRIVACY_SCOPE,
        "category": [_CONSENT_CATEGORY],
        "patient": member(grant["patient_id"], "Patient"),
        "dateTime": grant["created_at"],
        "performer": [_performer(grant)],
        "organization": [organization(grant["patient_id"])],
        "sourceReference": {
            "identifier": {"system": GRANT_SYSTEM, "value": grant["id"]},
            "display": f"the grant as {_signer(grant)} signed it on the CareLedger ledger (GrantConsent)",
        },
        "policy": [{"uri": CONSENT_POLICY}],
        "provision": provision,
    }
    return validate(resource)


def _level(provision: dict[str, Any], unlabelled: list[str], labelled: list[str]) -> str | None:
    """The PCF level a provision is at, None when it has to name a category PCF cannot (see the docstring)."""
    if unlabelled:
        return None
    if labelled:
        return "advanced"
    basic_purposes = all(c["system"] == V3_ACT_REASON and c["code"] in BASIC_PURPOSES for c in provision["purpose"])
    return "basic" if basic_purposes and not provision.get("data") else "intermediate"


def _performer(grant: Grant) -> dict[str, Any]:
    """Who agreed: the patient, or the proxy who granted for them (a delegate: RelatedPerson)."""
    proxy = grant.get("granted_by")
    return member(proxy, "RelatedPerson") if proxy else member(grant["patient_id"], "Patient")


def _signer(grant: Grant) -> str:
    proxy = grant.get("granted_by")
    return f"{proxy}, proxy of the patient," if proxy else "the patient"


def _record(record_id: str) -> dict[str, Any]:
    return {"meaning": "instance", "reference": {"identifier": {"system": RECORD_SYSTEM, "value": record_id}}}


def _grantee(grantee: str) -> dict[str, Any]:
    return member(grantee, "Organization") if grantee.startswith("org:") else member(grantee)


def _summary(grant: Grant, level: str | None, unlabelled: list[str]) -> str:
    data = ", ".join([*grant["record_ids"], *(f"category {c}" for c in grant["categories"])])
    claim = (
        f"IHE PCF {level} consent."
        if level
        else f"Not an IHE PCF consent: PCF has no way to name the categor{'ies' if len(unlabelled) > 1 else 'y'} "
        f"{', '.join(unlabelled)}."
    )
    proxies = (("given", grant.get("granted_by")), ("revoked", grant.get("revoked_by")))
    by_proxy = "".join(f"({what} by {proxy}, their proxy) " for what, proxy in proxies if proxy)
    return (
        f"{grant['patient_id']} permits {grant['grantee']} to open {data} for {', '.join(grant['purposes'])} "
        f"{by_proxy}from {grant['valid_from']} until {grant['valid_until']} ({grant['status']}). {claim}"
    )
