"""The portal's pages, forms, refusals and headers offline: the apps take their ledger session from an
injected factory (OPEN_SESSION), so a scripted session stands in for the network."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from careledger.errors import FailedPrecondition, NotAuthorized
from careledger_apps import create_portal_app
from careledger_protocol import PURPOSES

H1 = "Hospital1MSP"
RECORD = {
    "id": "rec-1",
    "category": "laboratory",
    "resource_type": "Observation",
    "version": 1,
    "status": "active",
    "created_at": "2026-01-01T00:00:00.000000Z",
    "custodian": H1,
}
CLINICIAN = {"id": "h1-clinician-1@Hospital1MSP", "org": H1, "role": "clinician", "public_key": {}}


class ScriptedSession:
    """A patient's ledger session with canned answers; `refuse` makes the next grant fail with it."""

    user = "h1-patient-1"

    def __init__(self) -> None:
        self.wallet = type("W", (), {"metadata": staticmethod(lambda _u: {"role": "patient"})})()
        self.refuse: Exception | None = None
        self.granted: list[tuple[Any, ...]] = []

    def member_id(self) -> str:
        return "h1-patient-1@Hospital1MSP"

    def my_records(self) -> list[dict[str, Any]]:
        return [RECORD]

    def grants_of(self) -> list[dict[str, Any]]:
        return []

    def members_of(self, org: str, role: str = "") -> list[dict[str, Any]]:
        return [CLINICIAN] if (org, role) == (H1, "clinician") else []

    def grant(self, *args: Any) -> dict[str, Any]:
        if self.refuse:
            raise self.refuse
        self.granted.append(args)
        return {"grantee": args[0], "id": "g-1"}

    def close(self) -> None:
        pass


@pytest.fixture
def portal() -> tuple[Any, ScriptedSession]:
    session = ScriptedSession()
    app = create_portal_app(
        {
            "PROFILES": {"hospital1": "unused.json"},
            "GRANTEE_ORGS": [H1],
            "TESTING": True,
            "OPEN_SESSION": lambda org, user, passphrase: session,
        }
    )
    return app.test_client(), session


def _csrf(client: Any, path: str) -> str:
    page = client.get(path, base_url="https://localhost").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def _signed_in(client: Any) -> None:
    form = {"org": "hospital1", "user": "h1-patient-1", "passphrase": "pw", "csrf_token": _csrf(client, "/login")}
    assert client.post("/login", data=form, base_url="https://localhost").status_code == 302


def test_pages_carry_the_security_headers(portal: tuple[Any, ScriptedSession]) -> None:
    client, _ = portal
    response = client.get("/login", base_url="https://localhost")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_grant_page_lists_grantees_and_records(portal: tuple[Any, ScriptedSession]) -> None:
    client, _ = portal
    _signed_in(client)
    page = client.get("/grants", base_url="https://localhost").get_data(as_text=True)
    assert "h1-clinician-1@Hospital1MSP" in page
    assert "rec-1" in page
    offered = re.findall(r'name="purpose" value="([^"]+)"', page)
    assert offered == list(PURPOSES)  # every purpose of the protocol, each once


def test_a_grant_form_without_a_date_is_refused_in_words(portal: tuple[Any, ScriptedSession]) -> None:
    client, session = portal
    _signed_in(client)
    form = {"grantee": CLINICIAN["id"], "record": "rec-1", "purpose": ["treatment"], "until": "soon"}
    response = client.post(
        "/grants", data={**form, "csrf_token": _csrf(client, "/grants")}, base_url="https://localhost"
    )
    assert response.status_code == 400
    assert "Enter a real date" in response.get_data(as_text=True)
    assert session.granted == []


@pytest.mark.parametrize(
    ("refusal", "status", "title"),
    [
        (NotAuthorized("x", reason="record rec-1 is not yours"), 403, "only share records about yourself"),
        (FailedPrecondition("x", reason="record rec-1 was erased"), 409, "can no longer be shared"),
    ],
)
def test_a_ledger_refusal_is_said_by_its_type(
    portal: tuple[Any, ScriptedSession], refusal: Exception, status: int, title: str
) -> None:
    """The grant form comes back with the refusal in words chosen by its type (_messages.FORM_REFUSALS);
    what the ledger said is kept under the technical details."""
    client, session = portal
    _signed_in(client)
    session.refuse = refusal
    form = {"grantee": CLINICIAN["id"], "record": "rec-1", "purpose": ["treatment"], "until": "2027-01-01"}
    response = client.post(
        "/grants", data={**form, "csrf_token": _csrf(client, "/grants")}, base_url="https://localhost"
    )
    assert response.status_code == status
    text = response.get_data(as_text=True)
    assert title in text
    assert f'<p class="details">{refusal.reason}</p>' in text  # type: ignore[attr-defined]


def _consent(provision_type: str) -> bytes:
    from careledger import fhir

    grant = {
        "id": "g-x",
        "patient_id": "h1-patient-1@Hospital1MSP",
        "grantee": CLINICIAN["id"],
        "purposes": ["treatment"],
        "record_ids": ["rec-1"],
        "categories": [],
        "valid_from": "2026-01-01T00:00:00Z",
        "valid_until": "2099-01-01T00:00:00Z",
        "status": "active",
        "created_at": "2026-01-01T00:00:00Z",
    }
    consent = fhir.consent(grant)  # type: ignore[arg-type]
    consent["provision"]["type"] = provision_type
    return json.dumps(consent).encode()


def test_an_uploaded_consent_becomes_grants_or_nothing_with_the_reason(portal: tuple[Any, ScriptedSession]) -> None:
    client, session = portal
    _signed_in(client)
    for kind, status in (("deny", 400), ("permit", 302)):
        data = {"csrf_token": _csrf(client, "/grants"), "consent": (io.BytesIO(_consent(kind)), "consent.json")}
        answer = client.post(
            "/grants/import", data=data, base_url="https://localhost", content_type="multipart/form-data"
        )
        assert answer.status_code == status
        if kind == "deny":
            assert "only permit provisions" in answer.get_data(as_text=True)
            assert session.granted == []  # nothing was granted
    assert session.granted == [(CLINICIAN["id"], ["treatment"], "2099-01-01T00:00:00Z", ["rec-1"], None)]
