"""The hospital app and the consent portal, through Flask's test client, against the live ledger."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import OBSERVATION, Browser, WebUsers

pytestmark = pytest.mark.network


@pytest.mark.parametrize("app_name", ["hospital_app", "portal_app"])
def test_security_headers_and_cookie_flags(request: pytest.FixtureRequest, app_name: str) -> None:
    response = Browser(request.getfixturevalue(app_name)).get("/login")
    assert response.status_code == 200
    headers = response.headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    cookie = headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie


@pytest.mark.parametrize(
    ("app_name", "path"),
    [("portal_app", "/"), ("portal_app", "/grants"), ("hospital_app", "/"), ("hospital_app", "/audit")],
)
def test_pages_need_sign_in(request: pytest.FixtureRequest, app_name: str, path: str) -> None:
    response = Browser(request.getfixturevalue(app_name)).get(path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")


def test_forms_without_csrf_token_are_refused(portal_app: Any, web_users: WebUsers) -> None:
    browser = Browser(portal_app)
    response = browser.post("/login", {"org": "hospital1", "user": web_users.patient, "passphrase": "x"}, csrf=False)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert browser.login(web_users.patient).status_code == 302
    assert browser.post("/logout", csrf=False).status_code == 400  # even sign-out needs the token


def test_wrong_passphrase_then_rate_limit(portal_app: Any, web_users: WebUsers) -> None:
    browser = Browser(portal_app)
    for _ in range(5):
        assert browser.login(web_users.other_patient, "wrong").status_code == 401
    response = browser.login(web_users.other_patient)  # even the right passphrase: too many failures
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "too many failed sign-ins" in response.get_data(as_text=True)


def test_identities_without_passphrase_and_wrong_roles_cannot_sign_in(
    portal_app: Any, hospital_app: Any, web_users: WebUsers
) -> None:
    assert Browser(portal_app).login("h1-patient-1", "anything").status_code == 401  # no passphrase on that wallet
    refused = Browser(portal_app).login(web_users.clinician)
    assert refused.status_code == 403
    assert "This app is for patient accounts" in refused.get_data(as_text=True)
    assert Browser(hospital_app).login(web_users.patient).status_code == 403


def test_sign_in_renews_the_session_and_refuses_open_redirects(portal_app: Any, web_users: WebUsers) -> None:
    browser = Browser(portal_app)
    browser.get("/login")
    before = browser.client.get_cookie("portal-session", domain="localhost").value
    response = browser.post(
        "/login?next=https://evil.example/steal",
        {"org": "hospital1", "user": web_users.patient, "passphrase": "correct horse battery staple"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    after = browser.client.get_cookie("portal-session", domain="localhost").value
    assert after != before  # no session fixation
    again = Browser(portal_app).post(
        "/login?next=/%09/evil.example",  # browsers drop the tab: //evil.example
        {"org": "hospital1", "user": web_users.patient, "passphrase": "correct horse battery staple"},
    )
    assert again.headers["Location"] == "/"


def test_grant_open_revoke_refuse(portal_app: Any, hospital_app: Any, web_users: WebUsers) -> None:
    patient, clinician = Browser(portal_app), Browser(hospital_app)
    assert patient.login(web_users.patient).status_code == 302
    assert clinician.login(web_users.clinician).status_code == 302

    refused = clinician.post(f"/records/{web_users.record_id}/open", {"purpose": "treatment"})
    assert refused.status_code == 403
    assert "no consent from the patient covers this record" in refused.get_data(as_text=True)

    granted = patient.post(
        "/grants",
        {
            "grantee": web_users.clinician,
            "record": web_users.record_id,
            "purpose": ["treatment"],
            "until": "2099-12-31",
        },
        follow_redirects=True,
    )
    assert granted.status_code == 200
    assert f"Access granted to {web_users.clinician}" in granted.get_data(as_text=True)
    assert web_users.patient in clinician.get("/").get_data(as_text=True)

    opened = clinician.post(f"/records/{web_users.record_id}/open", {"purpose": "treatment"})
    assert opened.status_code == 200
    assert "13.1 g/dL" in opened.get_data(as_text=True)

    log = patient.get("/log").get_data(as_text=True)
    assert web_users.clinician in log
    assert "allowed" in log

    grants = patient.get("/grants").get_data(as_text=True)
    grant_id = grants.split("/grants/")[1].split("/revoke")[0]
    asked = patient.post(f"/grants/{grant_id}/revoke")  # revoking asks first
    assert "Yes, revoke access" in asked.get_data(as_text=True)
    revoked = patient.post(f"/grants/{grant_id}/revoke", {"confirm": "revoke"}, follow_redirects=True)
    assert "revoked" in revoked.get_data(as_text=True)
    again = clinician.post(f"/records/{web_users.record_id}/open", {"purpose": "treatment"})
    assert again.status_code == 403
    assert "no consent" in again.get_data(as_text=True)


def test_stored_text_is_escaped(hospital_app: Any, web_users: WebUsers, network: Any) -> None:
    from careledger.services import Session

    script = "<script>alert('xss')</script>"
    with Session.open(
        network.state / "profiles" / "hospital1.json", web_users.clinician, b"correct horse battery staple"
    ) as s:
        record = s.create_record(web_users.patient, {**OBSERVATION, "code": {"text": script}}, category="laboratory")
    clinician = Browser(hospital_app)
    clinician.login(web_users.clinician)
    page = clinician.post(
        "/emergency", {"record_id": record["id"], "justification": "Unconscious patient in the ED; checking labs now."}
    )
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert script not in body
    assert "&lt;script&gt;" in body
    assert "Emergency access" in body


def test_reflected_input_is_escaped(hospital_app: Any, web_users: WebUsers) -> None:
    clinician = Browser(hospital_app)
    clinician.login(web_users.clinician)
    page = clinician.get("/patients/<img src=x onerror=alert(1)>")
    body = page.get_data(as_text=True)
    assert "<img src=x" not in body


def test_create_record_by_form_and_refusals(hospital_app: Any, web_users: WebUsers) -> None:
    clinician = Browser(hospital_app)
    clinician.login(web_users.clinician)
    created = clinician.post(
        "/records/new",
        {
            "patient_id": web_users.patient,
            "category": "laboratory",
            "code": "Glucose",
            "value": "5.2",
            "unit": "mmol/L",
        },
        follow_redirects=True,
    )
    assert created.status_code == 200
    assert "created" in created.get_data(as_text=True)
    bad = clinician.post("/records/new", {"patient_id": web_users.patient, "category": "laboratory", "value": "lots"})
    assert bad.status_code == 400
    unknown = clinician.post("/records/new", {"patient_id": "nobody-here", "category": "laboratory", "value": "1"})
    assert unknown.status_code == 404
    assert "nobody-here@Hospital1MSP is not registered" in unknown.get_data(as_text=True)


def test_export_and_erasure(portal_app: Any, web_users: WebUsers, network: Any) -> None:
    from careledger.services import Session

    with Session.open(
        network.state / "profiles" / "hospital1.json", web_users.clinician, b"correct horse battery staple"
    ) as s:
        record = s.create_record(web_users.patient, OBSERVATION, category="vital-signs")
    patient = Browser(portal_app)
    patient.login(web_users.patient)
    bundle = json.loads(patient.get("/export").get_data(as_text=True))
    assert bundle["resourceType"] == "Bundle"
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} >= {"AuditEvent"}
    assert patient.post(f"/records/{record['id']}/erase", {"confirm": "no"}).status_code == 400
    erased = patient.post(f"/records/{record['id']}/erase", {"confirm": "erase"}, follow_redirects=True)
    assert "erased" in erased.get_data(as_text=True)


def test_live_log_stream_starts(portal_app: Any, web_users: WebUsers) -> None:
    patient = Browser(portal_app)
    patient.login(web_users.patient)
    response = patient.get("/log/stream", buffered=False)
    assert response.mimetype == "text/event-stream"
    assert next(response.response).startswith(b": connected")
    response.close()


def test_audit_and_models_pages(hospital_app: Any, portal_app: Any, web_users: WebUsers) -> None:
    clinician = Browser(hospital_app)
    clinician.login(web_users.clinician)
    clinician.post(
        f"/records/{web_users.record_id}/open", {"purpose": "treatment"}
    )  # denied or allowed, audited either way
    audit = clinician.get("/audit").get_data(as_text=True)
    assert web_users.record_id in audit
    models = clinician.get("/models")
    assert models.status_code == 200
    assert "Approved models" in models.get_data(as_text=True)
    missing = clinician.post("/models/run", {"model_id": "no-such-model", "version": "1.0.0", "record_ids": ""})
    assert missing.status_code == 404
    patient = Browser(portal_app)
    patient.login(web_users.patient)
    assert "Models that ran on my data" in patient.get("/models").get_data(as_text=True)
    assert patient.get("/no-such-page").status_code == 404
