"""Our own IHE checker (tests/ihe_profiles.py): every FHIR export in the HL7 validator's corpus (the same
generator, test_fhir_validation.corpus) follows the IHE rules it claims; and the checker finds what it is
meant to find: each kind of violation, put into an otherwise conformant export, is reported."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from careledger import fhir

from tests.ihe_profiles import (
    PCF,
    PCF_LEVELS,
    audit_event_violations,
    consent_violations,
    pcf_level,
    resources,
    violations,
)
from tests.ledger_documents import EVENTS, GRANTS, PATIENT, PROXY

from .test_fhir_validation import CONTROLS, corpus

THO = "http://terminology.hl7.org/CodeSystem/"
BASIC, INTERMEDIATE, ADVANCED = (PCF + f"IHE.PCF.consent{n}" for n in ("Basic", "Intermediate", "Advanced"))
Change = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    made = corpus(tmp_path_factory.mktemp("fhir"))
    return {name: document for name, document in made.items() if name not in CONTROLS}


def test_every_export_follows_the_ihe_profiles_it_claims(documents: dict[str, dict[str, Any]]) -> None:
    """Our own check of the IHE rules (tests/ihe_profiles.py) over the same corpus: PCF for every Consent
    that claims a level, the BALP authorization-decision pattern for every AuditEvent."""
    found = {name: violations(doc) for name, doc in documents.items()}
    failing = {name: v for name, v in found.items() if v}
    first = next(iter(failing.items()), None)
    assert not failing, f"{len(failing)} documents break the IHE rules they claim; first: {first}"


def test_every_consent_claims_its_pcf_level_unless_pcf_cannot_say_it(documents: dict[str, dict[str, Any]]) -> None:
    """A Consent claims no PCF level only when a category of its grant has no standard code (kept as a class)."""
    consents = [r for d in documents.values() for r in resources(d) if r["resourceType"] == "Consent"]
    levels = {pcf_level(c) for c in consents}
    assert levels == {None, *(level for level in PCF_LEVELS.values() if level != "basic")}
    for consent in consents:
        provisions = [consent["provision"], *consent["provision"].get("provision", [])]
        has_class = any("class" in p for p in provisions)
        assert (pcf_level(consent) is None) == has_class, consent["id"]


def _consent(name: str) -> dict[str, Any]:
    return fhir.consent(GRANTS[name])


def _basic() -> dict[str, Any]:
    """A conformant Basic consent: TPO purposes, no data restriction (no grant exports as one)."""
    consent = _consent("record")
    consent["meta"] = {"profile": [BASIC]}
    del consent["provision"]["data"]
    consent["provision"]["purpose"] = [{"system": THO + "v3-ActReason", "code": c} for c in ("TREAT", "HPAYMT")]
    return consent


@pytest.mark.parametrize("name", sorted(GRANTS))
def test_every_exported_consent_passes(name: str) -> None:
    assert consent_violations(_consent(name)) == []


def test_a_basic_consent_passes() -> None:
    assert consent_violations(_basic()) == []


def _set(path: str, value: Any) -> Change:
    def change(resource: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = resource
        for name in parents:
            node = node[int(name)] if name.isdigit() else node[name]
        key: Any = int(last) if last.isdigit() else last
        if value is None:
            del node[key]
        else:
            node[key] = value

    return change


CLASS = [{"system": "urn:careledger:category", "code": "laboratory"}]
PSY = [{"system": THO + "v3-ActCode", "code": "PSY"}]


@pytest.mark.parametrize(
    ("start", "change", "says"),
    [
        ("record", _set("provision.class", CLASS), "provision.class is not allowed"),
        ("records-and-sensitive", _set("provision.provision.0.class", CLASS), "provision.provision[0].class"),
        ("record", _set("provision.action", [{"text": "access"}]), "provision.action is not allowed"),
        ("record", _set("provision.code", [{"text": "x"}]), "provision.code is not allowed"),
        ("record", _set("performer", None), "performer is missing"),
        ("record", _set("organization", None), "organization is missing"),
        ("record", _set("sourceReference", None), "source[x] must be given once"),
        ("record", _set("sourceAttachment", {"url": "https://example.org/c"}), "source[x] must be given once"),
        ("record", _set("policy", [{"authority": "https://example.org"}]), "policy.uri is missing"),
        ("record", _set("verification", [{"verified": True}]), "verification is not used"),
        (
            "record",
            _set("scope", {"coding": [{"system": THO + "consentscope", "code": "research"}]}),
            "patient-privacy",
        ),
        (
            "record",
            _set("provision.actor.0.role", {"coding": [{"system": THO + "v3-RoleCode", "code": "PRN"}]}),
            "IRCP",
        ),
        ("record", _set("provision.securityLabel", PSY), "securityLabel is not allowed at Intermediate"),
        ("record", _set("provision.data.0.meaning", "dependents"), "not instance, related or authoredby"),
        (
            "record",
            _set("provision.data.0", {"meaning": "related", "reference": {"reference": "Observation/o"}}),
            "may not point at a Observation",
        ),
        (
            "records-and-sensitive",
            _set("provision.provision.0.provision", [{"type": "permit"}]),
            "one level of nested provisions",
        ),
        (
            "sensitive-category",
            _set("provision.securityLabel", [{"system": "urn:careledger:category", "code": "mental-health"}]),
            "not an HL7 security label",
        ),
        ("record", _set("meta", {"profile": [INTERMEDIATE, ADVANCED]}), "claims 2 PCF levels"),
    ],
)
def test_pcf_violations_are_found(start: str, change: Change, says: str) -> None:
    consent = _consent(start)
    change(consent)
    assert any(says in v for v in consent_violations(consent)), consent_violations(consent)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (_set("provision.purpose", [{"system": THO + "v3-ActReason", "code": "HRESCH"}]), "HRESCH is not TREAT"),
        (_set("provision.data", [{"meaning": "instance", "reference": {"reference": "Observation/o"}}]), "data"),
        (_set("provision.securityLabel", PSY), "securityLabel is not allowed at Basic"),
        (_set("provision.dataPeriod", {"start": "2022-01-01"}), "dataPeriod is not allowed at Basic"),
        (_set("provision.provision", [{"type": "deny"}]), "provision is not allowed at Basic"),
    ],
)
def test_basic_violations_are_found(change: Change, says: str) -> None:
    consent = _basic()
    change(consent)
    assert any(says in v for v in consent_violations(consent)), consent_violations(consent)


def test_a_consent_claiming_no_pcf_level_is_not_judged() -> None:
    consent = _consent("category")  # laboratory: no standard code, kept as a class
    assert "meta" not in consent
    assert consent_violations(consent) == []


# -- BALP -------------------------------------------------------------------------------------------------------
def _event(name: str) -> dict[str, Any]:
    return fhir.audit_event(EVENTS[name])


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_every_exported_audit_event_passes(name: str) -> None:
    assert audit_event_violations(_event(name)) == []


def _drop_entities(code: str) -> Change:
    def change(event: dict[str, Any]) -> None:
        event["entity"] = [e for e in event["entity"] if e["type"]["code"] != code]

    return change


def _agent(index: int, field: str, value: Any) -> Change:
    def change(event: dict[str, Any]) -> None:
        event["agent"][index][field] = value

    return change


def _duplicate_user(event: dict[str, Any]) -> None:
    event["agent"].append(copy.deepcopy(event["agent"][0]))


def _extra_entity(event: dict[str, Any]) -> None:
    event["entity"].append({"what": {"display": "x"}, "type": {"system": THO + "audit-entity-type", "code": "4"}})


@pytest.mark.parametrize(
    ("start", "change", "says"),
    [
        ("consented", _drop_entities("1"), "no patient entity"),
        ("consented", _drop_entities("Consent"), "no consent entity"),
        ("break-glass", lambda e: e["entity"].append(_event("consented")["entity"][1]), "decision by role only"),
        ("consented", _extra_entity, "outside the pattern"),
        ("consented", _agent(0, "requestor", False), "user agent's requestor must be true"),
        ("consented", _agent(0, "network", {"address": "10.0.0.1"}), "user agent has network"),
        ("consented", _agent(1, "role", [{"text": "x"}]), "user organization agent has role"),
        ("consented", _agent(2, "who", {"display": "someone else"}), "authorizer agent is not source.observer"),
        ("consented", _duplicate_user, "2 user agents"),
        ("consented", _agent(1, "type", {"coding": [{"system": THO + "v3-RoleClass", "code": "PAT"}]}), "0 user org"),
        ("consented", _set("action", "R"), "action is R"),
        (
            "consented",
            _set("subtype", [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}]),
            "AuthZ",
        ),
        (
            "consented",
            _set("type", {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"}),
            "110113",
        ),
        ("consented", _set("purposeOfEvent", [{"text": "treatment"}]), "no HL7 v3 PurposeOfUse"),
        ("denied", _set("outcomeDesc", None), "a denial says why"),
        ("consented", _set("source.observer", None), "source.observer is missing"),
    ],
)
def test_balp_violations_are_found(start: str, change: Change, says: str) -> None:
    event = _event(start)
    change(event)
    assert any(says in v for v in audit_event_violations(event)), audit_event_violations(event)


def test_a_bundle_is_checked_resource_by_resource() -> None:
    bad = _event("consented")
    _drop_entities("1")(bad)
    found = violations(fhir.bundle([_event("denied"), bad, _consent("record")]))
    assert found == [f"AuditEvent/{bad['id']}: no patient entity (audit-entity-type 1, object-role 1): an allowed "
                     "access is to a patient's data"]  # fmt: skip


# -- a proxy acting for the patient (IHE PCF's delegate case) -------------------------------------------------
def test_a_consent_given_by_a_proxy_names_the_proxy_as_performer() -> None:
    consent = _consent("by-proxy")
    assert consent_violations(consent) == []
    assert consent["performer"] == [
        {"type": "RelatedPerson", "identifier": {"system": consent["patient"]["identifier"]["system"], "value": PROXY}}
    ]
    assert consent["patient"]["identifier"]["value"] != PROXY
    assert f"given by {PROXY}" in consent["text"]["div"]


def test_an_audit_event_of_a_proxy_names_the_proxy_acting_for_the_patient() -> None:
    event = _event("by-proxy")
    assert audit_event_violations(event) == []
    user, *_ = (a for a in event["agent"] if a["requestor"])
    assert (user["who"]["type"], user["who"]["identifier"]["value"]) == ("RelatedPerson", PROXY)
    [represented] = [a for a in event["agent"] if a["type"]["coding"][0]["code"] == "PAT"]
    assert represented["who"]["identifier"]["value"] == PATIENT
    assert represented["requestor"] is False
    assert f"for {PATIENT}, as their proxy" in event["text"]["div"]
