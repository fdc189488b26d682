"""Consent in: a FHIR Consent becomes the grants it asks for, or is refused whole with the reason. What
CareLedger exports (now as IHE PCF consents, and before) comes back as the same grant; IHE PCF Basic,
Intermediate and Advanced consents are read where a grant can say them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from careledger import fhir
from careledger.consent_import import ConsentNotExpressible, GrantRequest, grants_from_consent
from careledger.fhir import FHIRError
from careledger.fhir_pcf import PCF_PROFILES
from careledger_protocol import Grant

NOW = datetime(2026, 11, 28, tzinfo=UTC)
ALICE = "h1-patient-1@Hospital1MSP"
CLINICIAN = "h2-clinician-1@Hospital2MSP"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
IRCP = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]}
GRANT: Grant = {
    "id": "g-1",
    "patient_id": ALICE,
    "grantee": CLINICIAN,
    "grantee_org": "Hospital2MSP",
    "purposes": ["treatment", "diagnosis-ai"],
    "record_ids": ["rec-1", "rec-2"],
    "categories": ["laboratory"],
    "valid_from": "2026-11-01T00:00:00.000000Z",
    "valid_until": "2027-06-30T00:00:00.000000Z",
    "status": "active",
    "created_at": "2026-11-01T00:00:00.000000Z",
    "keyed_records": ["rec-1", "rec-2"],
}


def _exported(**changes: Any) -> dict[str, Any]:
    return fhir.consent({**GRANT, **changes}, now=NOW)  # type: ignore[typeddict-item]


def test_an_exported_consent_comes_back_as_the_same_grant() -> None:
    assert grants_from_consent(_exported(), ALICE, NOW) == [
        GrantRequest(
            CLINICIAN,
            ("treatment", "diagnosis-ai"),
            "2027-06-30T00:00:00Z",  # the same instant, as FHIR writes it
            ("rec-1", "rec-2"),
            ("laboratory",),
        )
    ]


@pytest.mark.parametrize(
    ("records", "categories", "level"),
    [
        (["rec-1"], [], "intermediate"),
        ([], ["mental-health"], "advanced"),
        (["rec-1"], ["hiv", "mental-health"], "advanced"),
        ([], ["laboratory"], None),  # no standard code for it: a class, and no PCF claim
        (["rec-1"], ["laboratory", "mental-health"], None),
        ([], ["mental-health", "laboratory"], None),  # the label at the root, the class nested
    ],
)
@pytest.mark.parametrize(
    "purposes", [["treatment"], ["diagnosis-ai"], ["research"], ["diagnosis-ai", "research"], ["treatment", "research"]]
)
def test_every_grant_shape_round_trips_and_says_its_pcf_level(
    records: list[str], categories: list[str], level: str | None, purposes: list[str]
) -> None:
    consent = _exported(record_ids=records, categories=categories, purposes=purposes, grantee="org:Hospital2MSP")
    assert consent.get("meta", {}).get("profile") == ([PCF_PROFILES[level]] if level else None)
    (request,) = grants_from_consent(consent, ALICE, NOW)
    assert (request.record_ids, sorted(request.categories), request.grantee) == (
        tuple(records),
        sorted(categories),
        "org:Hospital2MSP",
    )
    assert sorted(request.purposes) == sorted(purposes)


def test_records_and_categories_are_alternatives_in_nested_provisions() -> None:
    """A grant opens its records or its categories' records; FHIR reads one provision's criteria together,
    so each kind after the first is a nested permit with the same terms."""
    provision = _exported(categories=["mental-health", "laboratory"])["provision"]
    assert [r["reference"]["identifier"]["value"] for r in provision["data"]] == ["rec-1", "rec-2"]
    assert "securityLabel" not in provision
    assert "class" not in provision
    labels, classes = provision["provision"]
    assert labels["securityLabel"] == [{"system": ACT_CODE, "code": "PSY"}]
    assert classes["class"] == [{"system": "urn:careledger:category", "code": "laboratory"}]
    for nested in (labels, classes):
        assert {k: nested[k] for k in ("type", "actor", "purpose", "period")} == {
            k: provision[k] for k in ("type", "actor", "purpose", "period")
        }


def test_own_purpose_codes_only_where_the_v3_code_alone_would_read_back_otherwise() -> None:
    def codes(purposes: list[str]) -> list[str]:
        return [
            f"{c['system'].rsplit('/', 1)[-1].rsplit(':', 1)[-1]}#{c['code']}"
            for c in _exported(purposes=purposes)["provision"]["purpose"]
        ]

    assert codes(["treatment"]) == ["v3-ActReason#TREAT"]
    assert codes(["research"]) == ["v3-ActReason#HRESCH"]
    assert codes(["diagnosis-ai"]) == ["v3-ActReason#TREAT", "purpose#diagnosis-ai"]
    assert codes(["treatment", "diagnosis-ai", "research"]) == [
        "v3-ActReason#TREAT",
        "v3-ActReason#HRESCH",
        "purpose#treatment",
        "purpose#diagnosis-ai",
    ]


def test_the_export_before_pcf_still_comes_back_as_the_same_grant() -> None:
    """Exports made before PCF put records and classes in one provision (meaning either) and all our codes."""
    legacy = _exported()
    legacy["provision"] = {
        "type": "permit",
        "period": {"start": "2026-11-01T00:00:00Z", "end": "2027-06-30T00:00:00Z"},
        "actor": [{"role": IRCP, "reference": {"identifier": {"system": "urn:careledger:member", "value": CLINICIAN}}}],
        "purpose": [
            {"system": V3, "code": "TREAT"},
            {"system": "urn:careledger:purpose", "code": "treatment"},
            {"system": "urn:careledger:purpose", "code": "diagnosis-ai"},
        ],
        "data": [
            {"meaning": "instance", "reference": {"identifier": {"system": "urn:careledger:record", "value": r}}}
            for r in ("rec-1", "rec-2")
        ],
        "class": [{"system": "urn:careledger:category", "code": "laboratory"}],
    }
    for key in ("meta", "identifier", "performer", "organization", "sourceReference"):
        legacy.pop(key, None)
    assert grants_from_consent(legacy, ALICE, NOW) == grants_from_consent(_exported(), ALICE, NOW)


def test_standard_purpose_codes_alone_are_understood() -> None:
    consent = _exported(categories=[])
    consent["provision"]["purpose"] = [{"system": V3, "code": "HRESCH"}]
    assert grants_from_consent(consent, ALICE, NOW)[0].purposes == ("research",)


def test_one_grant_per_actor() -> None:
    consent = _exported(categories=[])
    second = copy.deepcopy(consent["provision"]["actor"][0])
    second["reference"]["identifier"]["value"] = "org:Hospital2MSP"
    consent["provision"]["actor"].append(second)
    assert [g.grantee for g in grants_from_consent(consent, ALICE, NOW)] == [CLINICIAN, "org:Hospital2MSP"]


# -- IHE PCF consents as another system writes them ---------------------------------------------------------------
def _pcf(level: str, **provision: Any) -> dict[str, Any]:
    """A PCF consent of Alice's: the foundation elements, an end, the clinician as recipient, TREAT."""
    return {
        "resourceType": "Consent",
        "meta": {"profile": [PCF_PROFILES[level]]},
        "status": "active",
        "scope": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"identifier": {"system": "urn:careledger:member", "value": ALICE}},
        "dateTime": "2026-11-01",
        "performer": [{"identifier": {"system": "urn:careledger:member", "value": ALICE}}],
        "organization": [{"identifier": {"system": "urn:careledger:org", "value": "Hospital1MSP"}}],
        "sourceAttachment": {"contentType": "application/pdf", "url": "https://example.org/signed/1"},
        "policy": [{"uri": fhir.CONSENT_POLICY}],
        "provision": {
            "type": "permit",
            "period": {"end": "2027-01-01T00:00:00Z"},
            "actor": [
                {"role": IRCP, "reference": {"identifier": {"system": "urn:careledger:member", "value": CLINICIAN}}}
            ],
            "purpose": [{"system": V3, "code": "TREAT"}],
            **provision,
        },
    }


def _instances(*records: str) -> list[dict[str, Any]]:
    return [
        {"meaning": "instance", "reference": {"identifier": {"system": "urn:careledger:record", "value": r}}}
        for r in records
    ]


def _labels(*codes: str, system: str = ACT_CODE) -> list[dict[str, str]]:
    return [{"system": system, "code": c} for c in codes]


@pytest.mark.parametrize(
    ("consent", "records", "categories"),
    [
        (_pcf("intermediate", data=_instances("rec-1", "rec-2")), ("rec-1", "rec-2"), ()),
        (_pcf("advanced", securityLabel=_labels("PSY", "HIV")), (), ("mental-health", "hiv")),
        (
            _pcf("advanced", data=_instances("rec-1"), provision=[{"type": "permit", "securityLabel": _labels("SDV")}]),
            ("rec-1",),
            ("sexual-violence",),
        ),
    ],
)
def test_pcf_consents_a_grant_can_say_become_grants(
    consent: dict[str, Any], records: tuple[str, ...], categories: tuple[str, ...]
) -> None:
    assert grants_from_consent(consent, ALICE, NOW) == [
        GrantRequest(CLINICIAN, ("treatment",), "2027-01-01T00:00:00Z", records, categories)
    ]


TPO = [{"system": V3, "code": c} for c in ("TREAT", "HPAYMT", "HOPERAT")]


@pytest.mark.parametrize(
    ("consent", "says"),
    [
        (_pcf("basic", purpose=TPO), "HPAYMT has no grant equivalent"),
        (_pcf("basic"), "names no data"),
        (_pcf("intermediate", dataPeriod={"start": "2022-01-01", "end": "2022-12-31"}), "by when it was authored"),
        (
            _pcf("intermediate", data=[{"meaning": "authoredby", "reference": {"reference": "Practitioner/p"}}]),
            "meaning authoredby",
        ),
        (
            _pcf("intermediate", data=[{"meaning": "instance", "reference": {"reference": "Observation/o"}}]),
            "identifier",
        ),
        (
            _pcf(
                "advanced",
                securityLabel=_labels("N", system="http://terminology.hl7.org/CodeSystem/v3-Confidentiality"),
            ),
            "confidentiality",
        ),
        (_pcf("advanced", securityLabel=_labels("STD")), "names no category"),
        (_pcf("advanced", data=_instances("rec-1"), securityLabel=_labels("PSY")), "together"),
        (
            _pcf(
                "advanced", securityLabel=_labels("PSY"), provision=[{"type": "deny", "securityLabel": _labels("HIV")}]
            ),
            "take data away",
        ),
        (
            _pcf(
                "advanced",
                data=_instances("rec-1"),
                provision=[
                    {
                        "type": "permit",
                        "securityLabel": _labels("PSY"),
                        "actor": [
                            {
                                "role": IRCP,
                                "reference": {"identifier": {"system": "urn:careledger:member", "value": ALICE}},
                            }
                        ],
                    }
                ],
            ),
            "its own actor",
        ),
        (
            _pcf(
                "intermediate",
                data=_instances("rec-1"),
                provision=[{"type": "permit", "provision": [{"type": "permit"}]}],
            ),
            "nesting two deep",
        ),
        (_pcf("intermediate", data=_instances("rec-1"), purpose=[{"system": V3, "code": "BTG"}]), "break-the-glass"),
        (
            _pcf(
                "intermediate",
                data=_instances("rec-1"),
                actor=[{"role": IRCP, "reference": {"reference": "Practitioner/p"}}],
            ),
            "actor must",
        ),
        (_pcf("intermediate", data=_instances("rec-1"), action=[{"text": "collect"}]), "actions"),
    ],
)
def test_pcf_consents_a_grant_cannot_say_are_refused_with_the_reason(consent: dict[str, Any], says: str) -> None:
    with pytest.raises(ConsentNotExpressible, match=says):
        grants_from_consent(consent, ALICE, NOW)


# -- what any Consent must say ------------------------------------------------------------------------------------
def _changed(path: str, value: Any) -> dict[str, Any]:
    consent = _exported(categories=[])
    node = consent
    *parents, last = path.split(".")
    for name in parents:
        node = node[name]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return consent


@pytest.mark.parametrize(
    ("consent", "says"),
    [
        (_changed("provision.type", "deny"), "only permit provisions"),
        (_changed("provision.period", {"start": "2026-11-01T00:00:00Z"}), "period.end is missing"),
        (_changed("provision.period", {"end": "2026-01-01T00:00:00Z"}), "is past"),
        (_changed("provision.purpose", [{"system": "urn:x", "code": "marketing"}]), "no grant equivalent"),
        (_changed("provision.data", None), "names no data"),
        (_changed("provision.provision", [{"type": "deny"}]), "nested provisions that take data away"),
        (_changed("provision.actor", None), "names no actor"),
        (_changed("status", "inactive"), "only an active Consent"),
        (
            _changed(
                "patient", {"identifier": {"system": "urn:careledger:member", "value": "h1-patient-2@Hospital1MSP"}}
            ),
            "not about you",
        ),
        (_changed("policy", [{"uri": "urn:other:policy"}]), "names policies"),
    ],
)
def test_what_a_grant_cannot_say_is_refused_with_the_reason(consent: dict[str, Any], says: str) -> None:
    with pytest.raises(ConsentNotExpressible, match=says):
        grants_from_consent(consent, ALICE, NOW)


def test_invalid_fhir_is_refused_before_anything_else() -> None:
    with pytest.raises(FHIRError):
        grants_from_consent({"resourceType": "Consent", "status": 7}, ALICE, NOW)
    with pytest.raises(FHIRError, match="expected a Consent"):
        grants_from_consent({"resourceType": "Observation", "status": "final", "code": {"text": "x"}}, ALICE, NOW)
