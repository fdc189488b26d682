"""The IHE profiles' rules that the HL7 validator cannot check here, checked by our own code.

The IHE StructureDefinitions (PCF, BALP) are published only as packages on packages.fhir.org, which this
machine cannot reach, so the HAPI engine sees a PCF claim (meta.profile) as an unknown profile
(tests/fhir_validation.py reports exactly these URLs as information, naming this module). The rules below
were written from the profiles' FSH sources, in our words; each function returns the violations it finds
(empty: conformant), each naming the element.

- `consent_violations`: a Consent claiming a PCF level (meta.profile), against PCF's foundation rules and
  that level's. A Consent claiming no PCF level is not judged here.
- `audit_event_violations`: an AuditEvent against the BALP pattern CareLedger's follow, the authorization
  decision (AuthZconsent), with the departures careledger.fhir_balp documents and no others: no client
  agent, the record as one more entity, no consent entity when no consent allowed, no patient entity
  when a request named no existing record (so: a patient is required whenever access was allowed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

PCF = "https://profiles.ihe.net/ITI/PCF/StructureDefinition/"
PCF_LEVELS = {
    PCF + "IHE.PCF.consentBasic": "basic",
    PCF + "IHE.PCF.consentIntermediate": "intermediate",
    PCF + "IHE.PCF.consentAdvanced": "advanced",
}
CHECKED_BY = "checked by tests/ihe_profiles.py"
UNAVAILABLE_PROFILES = dict.fromkeys(PCF_LEVELS, CHECKED_BY)  # for tests.fhir_validation.validate

THO = "http://terminology.hl7.org/CodeSystem/"
ACT_REASON, ACT_CODE, CONFIDENTIALITY = THO + "v3-ActReason", THO + "v3-ActCode", THO + "v3-Confidentiality"
PARTICIPATION, ROLE_CLASS = THO + "v3-ParticipationType", THO + "v3-RoleClass"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
BALP_AUTHZ = "https://profiles.ihe.net/ITI/BALP/CodeSystem/AuthZsubType"
# Basic: the purposes of treatment, payment and operations only (PCF BasicConsent's description).
BASIC_PURPOSES = {"TREAT", "HPAYMT", "HOPERAT"}
# HL7 v3 PurposeOfUse: the codes under PurposeOfUse in v3 ActReason that an audit may name (the ones we know of).
PURPOSES_OF_USE = {
    *BASIC_PURPOSES,
    *("HRESCH", "CLINTRCH", "BTG", "ETREAT", "PATRQT", "FAMRQT", "PWATRNY", "PUBHLTH", "POPHLTH", "HSYSADMIN"),
    *("COVERAGE", "CAREMGT", "HMARKT", "HPRGRP", "HQUALIMP", "PATADMIN", "HLEGAL", "HDIRECT", "HTEST"),
}
# Intermediate's data slices: the meaning, and what such data may point at (None: anything).
DATA_MEANINGS: dict[str, set[str] | None] = {
    "instance": None,
    "related": {"Encounter", "CarePlan", "EpisodeOfCare"},
    "authoredby": {
        *("Practitioner", "PractitionerRole", "Organization", "Device"),
        *("Group", "CareTeam", "Patient", "RelatedPerson"),
    },
}


def resources(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The resources of a document: itself, or a Bundle's entries (nested Bundles too)."""
    if document.get("resourceType") == "Bundle":
        for entry in document.get("entry", []):
            yield from resources(entry.get("resource", {}))
    else:
        yield document


def pcf_level(consent: dict[str, Any]) -> str | None:
    """The PCF level a Consent claims (the first, if it claims more than one), or None."""
    levels = [PCF_LEVELS[p] for p in consent.get("meta", {}).get("profile", []) if p in PCF_LEVELS]
    return levels[0] if levels else None


def violations(document: dict[str, Any]) -> list[str]:
    """Every violation in a document's Consents and AuditEvents, each prefixed by the resource's type and id."""
    found = []
    for resource in resources(document):
        check = {"Consent": consent_violations, "AuditEvent": audit_event_violations}.get(resource["resourceType"])
        if check:
            found += [f"{resource['resourceType']}/{resource.get('id')}: {v}" for v in check(resource)]
    return found


# -- IHE PCF --------------------------------------------------------------------------------------------------
def consent_violations(consent: dict[str, Any]) -> list[str]:
    """A Consent against PCF's foundation rules and the level it claims; [] when it claims none."""
    claimed = [PCF_LEVELS[p] for p in consent.get("meta", {}).get("profile", []) if p in PCF_LEVELS]
    if not claimed:
        return []
    found = [f"claims {len(claimed)} PCF levels: a consent is of one"] if len(claimed) > 1 else []
    found += _foundation(consent)
    provision = consent.get("provision") or {}
    rules = {"basic": _basic, "intermediate": _intermediate, "advanced": _advanced}
    return found + rules[claimed[0]](provision)


def _codes(concept: dict[str, Any] | None) -> set[tuple[str | None, str | None]]:
    return {(c.get("system"), c.get("code")) for c in (concept or {}).get("coding", [])}


def _provisions(provision: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The root provision and the ones nested in it, each with where it is."""
    nested = [(f"provision.provision[{i}]", p) for i, p in enumerate(provision.get("provision", []))]
    return [("provision", provision), *nested]


def _foundation(consent: dict[str, Any]) -> list[str]:
    found = []
    required = ("status", "patient", "dateTime")
    found += [f"{name} is missing (PCF: 1..1)" for name in required if not consent.get(name)]
    found += [
        f"{name} is missing (PCF: 1..*)" for name in ("category", "performer", "organization") if not consent.get(name)
    ]
    if (THO + "consentscope", "patient-privacy") not in _codes(consent.get("scope")):
        found.append("scope is not consentscope#patient-privacy")
    sources = [k for k in ("sourceAttachment", "sourceReference") if k in consent]
    if len(sources) != 1:
        found.append(f"source[x] must be given once (found {sources or 'none'}): the signed consent it rests on")
    policies = consent.get("policy", [])
    if not policies or not all(p.get("uri") for p in policies):
        found.append("policy.uri is missing: PCF names the policy the patient was presented by its uri")
    if "verification" in consent:
        found.append("verification is not used in PCF (0..0)")
    provision = consent.get("provision")
    if not provision:
        return [*found, "provision is missing (PCF: 1..1)"]
    for where, p in _provisions(provision):
        if where == "provision" and not p.get("type"):
            found.append("provision.type is missing (PCF: 1..1)")
        found += [f"{where}.{name} is not allowed in PCF (0..0)" for name in ("action", "class", "code") if p.get(name)]
        for i, actor in enumerate(p.get("actor", [])):
            if (PARTICIPATION, "IRCP") not in _codes(actor.get("role")):
                found.append(f"{where}.actor[{i}].role is not v3 ParticipationType IRCP (PCF fixes it)")
        if where != "provision" and p.get("provision"):
            found.append(f"{where}.provision: PCF allows one level of nested provisions")
    return found


def _basic(provision: dict[str, Any]) -> list[str]:
    found = [
        f"provision.{n} is not allowed at Basic"
        for n in ("securityLabel", "dataPeriod", "data", "provision")
        if provision.get(n)
    ]
    for c in provision.get("purpose", []):
        if c.get("system") != ACT_REASON or c.get("code") not in BASIC_PURPOSES:
            found.append(f"provision.purpose {c.get('system')}#{c.get('code')} is not TREAT, HPAYMT or HOPERAT (Basic)")
    return found


def _intermediate(provision: dict[str, Any]) -> list[str]:
    found = []
    for where, p in _provisions(provision):
        if p.get("securityLabel"):
            found.append(f"{where}.securityLabel is not allowed at Intermediate (it is Advanced)")
        meanings = [d.get("meaning") for d in p.get("data", [])]
        for i, data in enumerate(p.get("data", [])):
            found += _data_violation(f"{where}.data[{i}]", data)
        if where != "provision":
            found += [f"{where}.data: more than one of meaning {m}" for m in DATA_MEANINGS if meanings.count(m) > 1]
    return found


def _data_violation(where: str, data: dict[str, Any]) -> list[str]:
    meaning = data.get("meaning")
    if meaning not in DATA_MEANINGS:
        return [f"{where}.meaning {meaning} is not instance, related or authoredby (Intermediate)"]
    allowed = DATA_MEANINGS[meaning]
    reference = data.get("reference", {})
    target = reference.get("type") or (reference.get("reference", "").split("/")[0] or None)
    if allowed is not None and target is not None and target not in allowed:
        return [f"{where}: data {meaning} may not point at a {target}"]
    return []


def _advanced(provision: dict[str, Any]) -> list[str]:
    found = []
    for where, p in _provisions(provision):
        for c in p.get("securityLabel", []):
            if c.get("system") not in (CONFIDENTIALITY, ACT_CODE):
                found.append(f"{where}.securityLabel {c.get('system')}#{c.get('code')} is not an HL7 security label")
    return found


# -- IHE BALP -------------------------------------------------------------------------------------------------
def _agents(event: dict[str, Any], system: str, code: str) -> list[dict[str, Any]]:
    return [a for a in event.get("agent", []) if (system, code) in _codes(a.get("type"))]


def _is(coding: dict[str, Any] | None, system: str, code: str) -> bool:
    return coding is not None and coding.get("system") == system and coding.get("code") == code


def _entities(event: dict[str, Any], system: str, code: str) -> list[dict[str, Any]]:
    return [e for e in event.get("entity", []) if _is(e.get("type"), system, code)]


def audit_event_violations(event: dict[str, Any]) -> list[str]:
    """An AuditEvent against the BALP authorization-decision pattern, with our documented departures only."""
    found = []
    if not _is(event.get("type"), DICOM, "110113"):
        found.append("type is not DICOM 110113 (Security Alert)")
    subtypes = {(c.get("system"), c.get("code")) for c in event.get("subtype", [])}
    if not subtypes or not subtypes <= {(BALP_AUTHZ, "AuthZ-Consent"), (BALP_AUTHZ, "AuthZ-Role")}:
        found.append(f"subtype must be BALP AuthZ-Consent or AuthZ-Role (found {sorted(map(str, subtypes))})")
    if event.get("action") != "E":
        found.append(f"action is {event.get('action')}, not E (execute)")
    found += [f"{name} is missing" for name in ("recorded", "outcome") if not event.get(name)]
    allowed = event.get("outcome") == "0"
    if not allowed and not event.get("outcomeDesc"):
        found.append("outcomeDesc is missing: a denial says why")
    purposes = [c for cc in event.get("purposeOfEvent", []) for c in cc.get("coding", [])]
    if not any(c.get("system") == ACT_REASON and c.get("code") in PURPOSES_OF_USE for c in purposes):
        found.append("purposeOfEvent has no HL7 v3 PurposeOfUse code")
    found += _agent_violations(event)
    found += _entity_violations(event, allowed, subtypes)
    return found


def _agent_violations(event: dict[str, Any]) -> list[str]:
    found = []
    observer = (event.get("source") or {}).get("observer")
    if not observer:
        found.append("source.observer is missing")
    for name, (system, code), requestor, forbidden in (
        ("user", (PARTICIPATION, "IRCP"), True, ("network", "media", "altId", "location")),
        ("user organization", (ROLE_CLASS, "PROV"), False, ("role", "network", "media", "altId", "location", "name")),
        ("authorizer", (THO + "extra-security-role-type", "authserver"), False, ("role", "network", "media", "name")),
    ):
        agents = _agents(event, system, code)
        if len(agents) != 1:
            found.append(f"{len(agents)} {name} agents ({system}#{code}): BALP wants exactly one")
            continue
        agent = agents[0]
        if not agent.get("who"):
            found.append(f"the {name} agent names no one (who)")
        if agent.get("requestor") is not requestor:
            found.append(f"the {name} agent's requestor must be {str(requestor).lower()}")
        found += [f"the {name} agent has {f}, which BALP leaves out" for f in forbidden if agent.get(f)]
        if name == "authorizer" and agent.get("who") != observer:
            found.append("the authorizer agent is not source.observer (BALP: the authorizer records the event)")
    return found


def _entity_violations(event: dict[str, Any], allowed: bool, subtypes: set[tuple[Any, Any]]) -> list[str]:
    found = []
    patients = _entities(event, THO + "audit-entity-type", "1")
    consents = _entities(event, "http://hl7.org/fhir/resource-types", "Consent")
    records = [
        e for e in _entities(event, THO + "audit-entity-type", "2") if _is(e.get("role"), THO + "object-role", "4")
    ]
    if len(patients) > 1:
        found.append(f"{len(patients)} patient entities: BALP wants one")
    if allowed and not patients:
        found.append("no patient entity (audit-entity-type 1, object-role 1): an allowed access is to a patient's data")
    for patient in patients:
        if not _is(patient.get("role"), THO + "object-role", "1") or not patient.get("what"):
            found.append("the patient entity needs role object-role 1 (Patient) and what")
        if patient.get("what", {}).get("type", "Patient") != "Patient":
            found.append("the patient entity's what is not a Patient")
    consent_decision = (BALP_AUTHZ, "AuthZ-Consent") in subtypes
    if allowed and consent_decision and not consents:
        found.append("no consent entity: an access allowed by consent names the consent (resource-types Consent)")
    if not consent_decision and consents:
        found.append("a consent entity on a decision by role only (AuthZ-Role)")
    found += ["a consent entity without what" for c in consents if not c.get("what")]
    others = [e for e in event.get("entity", []) if not any(e is x for x in (*patients, *consents, *records))]
    found += [f"entity of type {(e.get('type') or {}).get('code')} is outside the pattern" for e in others]
    return found
