"""The apps' forms respect people: a problem is said in words next to its field (never an exception's text),
the form comes back as it was sent, destructive actions ask first (without JavaScript), dates are bounded,
and buttons of slow actions say they are working. Offline, with the scripted sessions of app_sessions.py."""

from __future__ import annotations

import datetime
import io
import json
import re
from pathlib import Path

import pytest
from careledger.errors import (
    REFUSALS,
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotAuthorized,
    NotFound,
    UploadPendingError,
)

from tests.unit import html_checks
from tests.unit.app_sessions import CLINICIAN_ID, PATIENT, Browser, hospital, portal

APPS = Path(__file__).resolve().parents[2] / "apps" / "careledger_apps"
# What people must never read: parser and developer text.
DEVELOPER_TEXT = re.compile(
    r"Traceback|could not convert|Expecting|delimiter|valid_from|valid_until|ValueError|KeyError|"
    r"JSONDecodeError|line \d+ column \d+|NoneType"
)


def _visible(html: str) -> str:
    """The page without its folded technical details (what a person reads without asking for more)."""
    return re.sub(r"<details>.*?</details>", "", html, flags=re.DOTALL)


def _field(html: str, field_id: str) -> dict[str, str]:
    found = [n for n in html_checks.parse(html).walk() if n.attrs.get("id") == field_id]
    assert len(found) == 1, field_id
    return found[0].attrs


def _error_of(html: str, field_id: str) -> str:
    """The words tied to a field as its problem (aria-describedby), and that it is marked invalid."""
    attrs = _field(html, field_id)
    assert attrs.get("aria-invalid") == "true", field_id
    nodes = {n.attrs.get("id"): n for n in html_checks.parse(html).walk()}
    return " ".join(nodes[i].text() for i in attrs["aria-describedby"].split() if i.endswith("-error"))


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


# -- the portal's grant form ------------------------------------------------------------------------------
def test_a_grant_form_with_problems_comes_back_filled_in_with_each_problem_in_words() -> None:
    browser, patient = portal()
    sent = {"grantee": CLINICIAN_ID, "category": "laboratory", "until": "2000-01-01"}
    answer = browser.send("/grants", sent)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert patient.calls == []
    assert "The last day must be today or later." in _error_of(html, "grant-until")
    assert "Choose at least one purpose." in html
    assert 'aria-describedby="grant-purpose-error"' in html  # the group says its problem
    assert f'<option value="{CLINICIAN_ID}" selected>' in html  # kept as sent
    assert re.search(r'name="category" value="laboratory" checked', html)
    assert 'value="2000-01-01"' in html
    assert "<title>Error: Access" in html
    assert 'class="error-summary"' in html
    assert not DEVELOPER_TEXT.search(_visible(html))


@pytest.mark.parametrize(
    ("until", "words"),
    [
        ("", "Enter the last day access is allowed"),
        ("soon", "Enter a real date"),
        ("2026-02-30", "Enter a real date"),
        ("99999-01-01", "Enter a real date"),
        ("2999-01-01", "within the next 100 years"),
    ],
)
def test_the_last_day_is_checked_before_the_ledger_is_asked(until: str, words: str) -> None:
    browser, patient = portal()
    sent = {"grantee": CLINICIAN_ID, "record": "rec-1", "purpose": "treatment", "until": until}
    html = browser.send("/grants", sent).get_data(as_text=True)
    assert words in _error_of(html, "grant-until")
    assert patient.calls == []
    assert 'name="purpose" value="treatment" checked' in html


def test_the_date_field_is_bounded_from_today() -> None:
    browser, _ = portal()
    attrs = _field(browser.page("/grants").get_data(as_text=True), "grant-until")
    assert attrs["type"] == "date"
    assert attrs["min"] == _today().isoformat()
    assert datetime.date.fromisoformat(attrs["max"]).year == _today().year + 100
    assert "required" in attrs


def test_a_good_grant_is_made_until_the_end_of_the_day() -> None:
    browser, patient = portal()
    day = (_today() + datetime.timedelta(days=30)).isoformat()
    sent = {"grantee": CLINICIAN_ID, "record": "rec-1", "purpose": ["treatment", "bogus"], "until": day}
    answer = browser.send("/grants", sent)
    assert answer.status_code == 302
    assert patient.calls == [("grant", CLINICIAN_ID, ["treatment"], f"{day}T23:59:59Z", ["rec-1"], None)]
    assert "Access granted to" in browser.page("/grants").get_data(as_text=True)


@pytest.mark.parametrize(
    ("refusal", "status", "field", "words"),
    [
        (InvalidArgument("x", reason="grant.valid_until must be after valid_from"), 400, None, "Check each choice"),
        (NotAuthorized("x", reason="record rec-1 is not yours"), 403, None, "only share records about yourself"),
        (NotFound("x", reason="no member h1-clinician-1@Hospital1MSP"), 404, "grant-grantee", "no longer registered"),
        (FailedPrecondition("x", reason="record rec-1 was erased"), 409, "grant-scope", "can no longer be shared"),
        (Conflict("x", reason="grant exists"), 409, None, "already been granted"),
    ],
)
def test_a_ledger_refusal_of_a_grant_is_said_by_its_type_with_the_form_kept(
    refusal: Exception, status: int, field: str | None, words: str
) -> None:
    browser, patient = portal()
    patient.refuse = refusal  # type: ignore[assignment]
    sent = {"grantee": CLINICIAN_ID, "record": "rec-1", "purpose": "research", "until": "2099-01-01"}
    answer = browser.send("/grants", sent)
    html = answer.get_data(as_text=True)
    assert answer.status_code == status
    assert words in _visible(html)
    assert not DEVELOPER_TEXT.search(_visible(html))
    assert f'<details><summary>Technical details (for support)</summary><p class="details">{refusal.reason}' in html  # type: ignore[attr-defined]
    if field:
        assert f'id="{field}-error"' in html
    assert 'name="purpose" value="research" checked' in html
    assert 'value="2099-01-01"' in html


def test_a_ledger_refusal_outside_a_form_is_a_page_by_its_type_with_the_menu() -> None:
    browser, patient = portal()
    for refusal, status, title in [
        (NotAuthorized("x", reason="grant g-1 is not yours"), 403, "you are not allowed to do this"),
        (FailedPrecondition("x", reason="grant g-1 is revoked"), 409, "something must happen first"),
    ]:
        patient.refuse = refusal
        answer = browser.send("/grants/g-1/revoke", {"confirm": "revoke"})
        html = answer.get_data(as_text=True)
        assert answer.status_code == status
        assert f'<h1 class="error-title">The ledger refused: {title}.</h1>' in html
        assert f'<p class="details">{refusal.reason}</p>' in html
        assert '<a href="/grants">Access</a>' in html


# -- importing a consent ----------------------------------------------------------------------------------
def _upload(browser: Browser, content: bytes) -> str:
    answer = browser.send("/grants/import", {"consent": (io.BytesIO(content), "consent.json")}, files=True)
    assert answer.status_code == 400
    return str(answer.get_data(as_text=True))


def test_an_upload_that_is_not_a_consent_is_said_next_to_the_file_field() -> None:
    browser, patient = portal()
    not_json = _upload(browser, b'{"resourceType": "Consent" "status": 1}')
    assert "This file is not a JSON document" in _error_of(not_json, "import-consent")
    not_fhir = _upload(browser, json.dumps({"resourceType": "Consent", "status": 7}).encode())
    assert "not a FHIR Consent CareLedger can read" in _error_of(not_fhir, "import-consent")
    assert "Technical details" in not_fhir
    for html in (not_json, not_fhir):
        assert not DEVELOPER_TEXT.search(_visible(html))
    assert patient.calls == []


# -- confirmations ----------------------------------------------------------------------------------------
def test_revoking_asks_first_and_works_without_javascript() -> None:
    browser, patient = portal()
    grants = browser.page("/grants").get_data(as_text=True)
    assert re.search(r'<form method="get" action="/grants/g-1/revoke"', grants)  # a page, not a script
    question = browser.page("/grants/g-1/revoke")
    html = question.get_data(as_text=True)
    assert question.status_code == 200
    assert "<h1>Revoke access of" in html
    assert "<title>Revoke access of Dr. João Costa?" in html  # the grantee's name (the id on hover)
    assert 'id="confirm-revoke"' in html
    assert patient.calls == []
    unconfirmed = browser.send("/grants/g-1/revoke", {"rotate": "yes"})  # the old one-click form
    assert unconfirmed.status_code == 200
    assert "Yes, revoke access" in unconfirmed.get_data(as_text=True)
    assert patient.calls == []
    done = browser.send("/grants/g-1/revoke", {"confirm": "revoke", "rotate": "yes"})
    assert done.status_code == 302
    assert patient.calls == [("revoke", "g-1"), ("rotate", "rec-1")]


def test_an_unknown_or_revoked_grant_is_not_revoked_again() -> None:
    browser, patient = portal()
    assert browser.page("/grants/g-9/revoke").status_code == 404
    patient.grants[0]["status"] = "revoked"
    assert browser.send("/grants/g-1/revoke", {"confirm": "revoke"}).status_code == 302
    assert patient.calls == []


def test_erasing_needs_the_box_ticked() -> None:
    browser, patient = portal()
    question = browser.page("/records/rec-1/erase").get_data(as_text=True)
    box = _field(question, "erase-confirm")
    assert box["type"] == "checkbox"
    assert "required" in box
    assert "This cannot be undone." in question
    refused = browser.send("/records/rec-1/erase", {})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "Tick the box" in _error_of(html, "erase-confirm")
    assert patient.calls == []
    assert browser.send("/records/rec-1/erase", {"confirm": "erase"}).status_code == 302
    assert patient.calls == [("erase", "rec-1")]
    assert browser.page("/records/rec-9/erase").status_code == 404


# -- the hospital's forms ---------------------------------------------------------------------------------
def test_a_value_that_is_not_a_number_is_said_in_words_and_the_form_kept() -> None:
    browser, clinician = hospital()
    sent = {
        "patient_id": "h1-patient-1",
        "category": "laboratory",
        "code": "Hemoglobin",
        "value": "abc",
        "unit": "g/dL",
    }
    answer = browser.send("/records/new", sent, files=True)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "Enter the value as a number, for example 13.5." in _error_of(html, "record-value")
    for value in ('value="h1-patient-1"', 'value="Hemoglobin"', 'value="abc"', 'value="g/dL"'):
        assert value in html
    assert not DEVELOPER_TEXT.search(html)
    assert clinician.calls == []


def test_a_broken_fhir_file_is_said_with_where_to_look() -> None:
    browser, clinician = hospital()
    broken = b'{"resourceType": "Observation" "status": "final"}'
    sent = {"patient_id": "h1-patient-1", "category": "laboratory", "fhir": (io.BytesIO(broken), "obs.json")}
    html = browser.send("/records/new", sent, files=True).get_data(as_text=True)
    said = _error_of(html, "record-fhir")
    assert "not valid JSON (the problem is at line 1, column 32)" in said
    assert "choose it again" in html
    assert "Expecting" not in html
    invalid = json.dumps({"resourceType": "Observation", "status": "final", "valueQuantity": {"value": "x"}})
    sent["fhir"] = (io.BytesIO(invalid.encode()), "obs.json")
    html = browser.send("/records/new", sent, files=True).get_data(as_text=True)
    assert "not a FHIR R4 resource CareLedger can store" in _error_of(html, "record-fhir")
    assert "Technical details" in html
    assert not DEVELOPER_TEXT.search(_visible(html))
    assert clinician.calls == []


def test_a_good_observation_is_created_with_a_decimal_comma_read() -> None:
    browser, clinician = hospital()
    sent = {"patient_id": "h1-patient-1", "category": "laboratory", "code": "Hemoglobin", "value": "13,5"}
    assert browser.send("/records/new", sent, files=True).status_code == 302
    assert clinician.calls[0][2]["valueQuantity"] == {"value": 13.5}


def test_a_ledger_refusal_of_a_new_record_points_at_the_patient_field() -> None:
    browser, clinician = hospital()
    clinician.refuse = NotFound("x", reason="no member h1-patient-9@Hospital1MSP")
    sent = {"patient_id": "h1-patient-9", "category": "laboratory", "value": "1"}
    answer = browser.send("/records/new", sent, files=True)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 404
    assert "No patient with this id is registered" in _error_of(html, "record-patient_id")
    assert 'value="h1-patient-9"' in html


def test_a_new_record_whose_upload_waits_is_said_created_not_failed() -> None:
    browser, clinician = hospital()
    clinician.refuse = UploadPendingError("registered; kept in the outbox", {"id": "rec-new"}, Path("/outbox/x"))
    sent = {"patient_id": "h1-patient-1", "category": "laboratory", "code": "Hemoglobin", "value": "13.5"}
    answer = browser.send("/records/new", sent, files=True)
    assert answer.status_code == 302  # registered: the form is not shown again to be sent twice
    page = browser.page(answer.headers["Location"]).get_data(as_text=True)
    assert "Record rec-new created. Its encrypted content could not reach the record store yet" in page
    assert "/outbox/x" not in page


def test_an_emergency_without_enough_justification_is_kept_and_said() -> None:
    browser, clinician = hospital()
    answer = browser.send("/emergency", {"record_id": "rec-1", "justification": "bleeding"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "at least 20 letters" in _error_of(html, "emergency-justification")
    assert ">bleeding</textarea>" in html
    assert 'value="rec-1"' in html
    assert clinician.calls == []
    clinician.refuse = NotFound("x", reason="no record rec-404")
    answer = browser.send(
        "/emergency", {"record_id": "rec-404", "justification": "unconscious, bleeding, no relatives"}
    )
    assert answer.status_code == 404
    assert "There is no record with this id" in _error_of(answer.get_data(as_text=True), "emergency-record_id")


def test_an_access_refusal_keeps_the_ledger_reason_for_people() -> None:
    browser, clinician = hospital()
    clinician.decision = "refuse"
    html = browser.send("/records/rec-1/open", {"purpose": "treatment"}).get_data(as_text=True)
    assert '<p class="reason" id="reason">no consent from the patient covers this record</p>' in html
    assert browser.send("/records/rec-1/open", {"purpose": "fun"}).status_code == 400


def test_sign_in_keeps_the_user_id_but_never_the_passphrase() -> None:
    browser, _ = portal()
    client = browser.client
    client.post("/logout", data={"csrf_token": browser.csrf()}, base_url="https://localhost")
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"org": "hospital1", "user": "h1-patient-1", "passphrase": "", "csrf_token": token}
    html = client.post("/login", data=form, base_url="https://localhost").get_data(as_text=True)
    assert 'value="h1-patient-1"' in html
    assert "Enter your user id and your passphrase." in _error_of(html, "login-user")


# -- slow actions say so; every problem and refusal has words ---------------------------------------------
@pytest.mark.parametrize(
    ("app", "path", "button"),
    [
        ("portal", "/grants", "grant"),
        ("portal", "/grants", "import"),
        ("portal", "/grants/g-1/revoke", "confirm-revoke"),
        ("portal", "/records/rec-1/erase", "confirm-erase"),
        ("hospital", "/emergency", None),
        ("hospital", "/records/new", None),
        ("hospital", f"/patients/{PATIENT}", None),
    ],
)
def test_buttons_of_slow_actions_show_progress(app: str, path: str, button: str | None) -> None:
    browser = portal()[0] if app == "portal" else hospital()[0]
    html = browser.page(path).get_data(as_text=True)
    buttons = [
        n
        for n in html_checks.parse(html).walk()
        if n.tag == "button" and (n.attrs.get("id") == button if button else "sign-out" not in str(n.parent.attrs))
    ]
    assert buttons
    assert all(b.attrs.get("data-busy", "").endswith("…") for b in buttons)
    script = (APPS / "static" / "careledger.js").read_text()
    assert "data-busy" in script
    assert "setTimeout" in script  # disabled after the browser has read the form: it still sends the button


def test_every_problem_a_form_can_have_has_words() -> None:
    from careledger_apps._messages import FORM_REFUSALS, PROBLEMS, REFUSAL_PAGES

    sources = "".join(p.read_text() for p in APPS.glob("*.py"))
    named = set(re.findall(r'problem\([^,]+, "([a-z_]+\.[a-z_]+)"', sources))
    named |= {f"{n}.{kind}" for n in ("until",) for kind in ("missing", "invalid", "past", "far")}
    assert named - set(PROBLEMS) == set()
    refusals = {kind for code, kind in REFUSALS.items() if code not in ("UNKNOWN_FUNCTION", "INTERNAL")}
    assert refusals <= set(REFUSAL_PAGES)
    for form, kinds in FORM_REFUSALS.items():
        assert kinds, form
    for words in PROBLEMS.values():
        assert words.endswith(".")
        assert not DEVELOPER_TEXT.search(words)
