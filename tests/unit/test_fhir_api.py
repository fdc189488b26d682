"""The hospital app's FHIR read API offline: searches by patient and date, pages, and every refusal as an
OperationOutcome (the ledger decides what the signed-in member may read, as for the pages)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from careledger.errors import NotAuthorized
from careledger_apps import create_hospital_app

from .test_fhir_validation import PATIENT, LedgerSession, _sign_in, trail


@pytest.fixture
def api() -> tuple[Any, LedgerSession]:
    session = LedgerSession(trail(45), [], [])
    session.wallet = type("W", (), {"metadata": staticmethod(lambda _u: {"role": "clinician"})})()
    app = create_hospital_app({"PROFILE": "hospital1.json", "TESTING": True, "OPEN_SESSION": lambda *a: session})
    client = app.test_client()
    _sign_in(client, "hospital1", "h1-clinician-1")
    return client, session


def _get(client: Any, path: str) -> tuple[int, dict[str, Any]]:
    response = client.get(path, base_url="https://localhost")
    assert response.mimetype == "application/fhir+json"
    return response.status_code, json.loads(response.get_data())


def test_pages_of_a_searchset_link_to_the_next(api: tuple[Any, LedgerSession]) -> None:
    client, _ = api
    status, first = _get(client, f"/fhir/AuditEvent?patient={PATIENT}&_count=20")
    assert (status, first["type"], first["total"], len(first["entry"])) == (200, "searchset", 45, 20)
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    _, third = _get(client, next_url.replace("_page=2", "_page=3"))
    assert len(third["entry"]) == 5
    assert [link["relation"] for link in third["link"]] == ["self"]  # the last page


def test_a_date_range_filters_on_the_recorded_time(api: tuple[Any, LedgerSession]) -> None:
    client, session = api
    times = sorted(e["time"] for e in session.events)
    _, found = _get(client, f"/fhir/AuditEvent?patient={PATIENT}&date=ge{times[10]}&date=lt{times[20]}")
    assert found["total"] == 10


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/fhir/AuditEvent", 400, "give the patient"),
        (f"/fhir/AuditEvent?patient={PATIENT}&_count=0", 400, "_count must be"),
        (f"/fhir/AuditEvent?patient={PATIENT}&date=yesterday", 400, "write a date"),
        ("/fhir/Patient?patient=x", 404, "cannot be searched here"),
    ],
)
def test_bad_searches_say_what_to_send(api: tuple[Any, LedgerSession], path: str, status: int, says: str) -> None:
    code, outcome = _get(api[0], path)
    assert (code, outcome["resourceType"]) == (status, "OperationOutcome")
    assert says in outcome["issue"][0]["diagnostics"]


def test_a_ledger_refusal_is_a_403_outcome_with_its_reason(api: tuple[Any, LedgerSession]) -> None:
    client, session = api

    def refuse(patient_id: str | None = None) -> Any:
        raise NotAuthorized("x", reason="only the patient, the custodian's staff and auditors may read it")

    session.access_log = refuse  # type: ignore[method-assign]
    code, outcome = _get(client, f"/fhir/AuditEvent?patient={PATIENT}")
    assert (code, outcome["issue"][0]["code"]) == (403, "forbidden")
    assert "custodian's staff" in outcome["issue"][0]["diagnostics"]


def test_without_sign_in_the_api_answers_401() -> None:
    anonymous = create_hospital_app({"PROFILE": "hospital1.json", "TESTING": True}).test_client()
    code, outcome = _get(anonymous, f"/fhir/Consent?patient={PATIENT}")
    assert (code, outcome["issue"][0]["code"]) == (401, "login")
