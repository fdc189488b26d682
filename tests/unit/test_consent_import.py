"""Consent in: a FHIR Consent becomes the grants it asks for, or is refused whole with the reason; what
CareLedger exports comes back as the same grant."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from careledger import fhir
from careledger.consent_import import ConsentNotExpressible, GrantRequest, grants_from_consent
from careledger.fhir import FHIRError
from careledger_protocol import Grant

NOW = datetime(2026, 11, 28, tzinfo=UTC)
ALICE = "h1-patient-1@Hospital1MSP"
GRANT: Grant = {  # type: ignore[typeddict-item]
    "id": "g-1",
    "patient_id": ALICE,
    "grantee": "h2-clinician-1@Hospital2MSP",
    "purposes": ["treatment", "diagnosis-ai"],
    "record_ids": ["rec-1", "rec-2"],
    "categories": ["laboratory"],
    "valid_from": "2026-11-01T00:00:00.000000Z",
    "valid_until": "2027-06-30T00:00:00.000000Z",
    "status": "active",
    "created_at": "2026-11-01T00:00:00.000000Z",
}


def _exported() -> dict[str, Any]:
    return fhir.consent(GRANT, now=NOW)


def test_an_exported_consent_comes_back_as_the_same_grant() -> None:
    assert grants_from_consent(_exported(), ALICE, NOW) == [
        GrantRequest(
            "h2-clinician-1@Hospital2MSP",
            ("treatment", "diagnosis-ai"),
            "2027-06-30T00:00:00Z",  # the same instant, as FHIR writes it
            ("rec-1", "rec-2"),
            ("laboratory",),
        )
    ]


def test_standard_purpose_codes_alone_are_understood() -> None:
    consent = _exported()
    consent["provision"]["purpose"] = [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HRESCH"}
    ]
    assert grants_from_consent(consent, ALICE, NOW)[0].purposes == ("research",)


def test_one_grant_per_actor() -> None:
    consent = _exported()
    second = copy.deepcopy(consent["provision"]["actor"][0])
    second["reference"]["identifier"]["value"] = "org:Hospital2MSP"
    consent["provision"]["actor"].append(second)
    assert [g.grantee for g in grants_from_consent(consent, ALICE, NOW)] == [
        "h2-clinician-1@Hospital2MSP",
        "org:Hospital2MSP",
    ]


def _changed(path: str, value: Any) -> dict[str, Any]:
    consent = _exported()
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
        (_changed("provision.data", None), None),  # still has a class: accepted (see below)
        (_changed("provision.provision", [{"type": "deny"}]), "nested provisions"),
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
def test_what_a_grant_cannot_say_is_refused_with_the_reason(consent: dict[str, Any], says: str | None) -> None:
    if says is None:
        assert grants_from_consent(consent, ALICE, NOW)[0].record_ids == ()
        return
    with pytest.raises(ConsentNotExpressible, match=says):
        grants_from_consent(consent, ALICE, NOW)


def test_no_data_and_no_class_is_refused() -> None:
    consent = _changed("provision.data", None)
    del consent["provision"]["class"]
    with pytest.raises(ConsentNotExpressible, match="names no data and no class"):
        grants_from_consent(consent, ALICE, NOW)


def test_invalid_fhir_is_refused_before_anything_else() -> None:
    with pytest.raises(FHIRError):
        grants_from_consent({"resourceType": "Consent", "status": 7}, ALICE, NOW)
    with pytest.raises(FHIRError, match="expected a Consent"):
        grants_from_consent({"resourceType": "Observation", "status": "final", "code": {"text": "x"}}, ALICE, NOW)
