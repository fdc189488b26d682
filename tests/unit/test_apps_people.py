"""Names people recognise, offline: the hospital app's patient search and patient page, the portal's access log
in plain words (filters, pages, sharing not read as opening), its notification area and reading one's own record.
Scripted sessions stand in for the ledger (app_sessions.py); the directory's view is injected (PEOPLE)."""

from __future__ import annotations

import re
from typing import Any

from careledger.errors import NotAuthorized

from tests.unit import app_sessions
from tests.unit.app_sessions import CLINICIAN_ID, PATIENT, Clinician, Patient


def _text(response: Any) -> str:
    html = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html[html.index("<main") :]))


def test_a_clinician_finds_a_patient_by_name_with_what_is_open() -> None:
    browser, _ = app_sessions.hospital()
    answer = browser.send("/patients", {"q": "SILVA ana"})
    assert answer.status_code == 200
    text = _text(answer)
    assert "1 patient found" in text
    assert "Ana Silva" in text
    assert "17 May 1980" in text
    assert "diagnostic AI, treatment" in text
    assert "1 chosen record" in text
    assert f'href="/patients/{PATIENT}"' in answer.get_data(as_text=True)


def test_search_by_birth_date_or_id_and_nothing_typed_lands_in_a_url() -> None:
    browser, _ = app_sessions.hospital()
    assert "Ana Silva" in _text(browser.send("/patients", {"q": "17.05.1980"}))
    assert "Ana Silva" in _text(browser.send("/patients", {"q": "h1-patient-1"}))
    assert "Ana Silva" not in _text(browser.page("/patients?q=silva"))  # a GET never searches
    none = browser.send("/patients", {"q": "h1-patient-77"})
    assert "Open the page of patient" in _text(none)
    assert 'href="/patients/h1-patient-77@Hospital1MSP"' in none.get_data(as_text=True)


def test_a_patient_without_any_grant_needs_consent_for_everything() -> None:
    session = Clinician()
    session.grants_to_me = lambda: []  # type: ignore[method-assign]
    browser, _ = app_sessions.hospital(session)
    text = _text(browser.send("/patients", {"q": "silva"}))
    assert "Nothing" in text
    assert "Everything: ask the patient" in text


def test_the_patient_page_names_the_patient_and_what_is_open_per_record() -> None:
    browser, _ = app_sessions.hospital()
    page = browser.page(f"/patients/{PATIENT}")
    text = _text(page)
    assert "Ana Silva" in text
    assert "17 May 1980" in text
    assert "treatment, diagnostic AI" in text  # rec-1: granted
    assert "Needs consent" in text  # rec-2: no grant covers it
    assert f'<dd class="id">{PATIENT}</dd>' in page.get_data(as_text=True)  # the id stays, in the details


def test_the_patient_page_says_consent_is_needed_when_the_ledger_hides_the_records() -> None:
    session = Clinician()

    def hidden(_patient: str) -> list[Any]:
        raise NotAuthorized("x", reason="may not see the records")

    session.records_of = hidden  # type: ignore[method-assign]
    browser, _ = app_sessions.hospital(session)
    text = _text(browser.page(f"/patients/{PATIENT}"))
    assert "need the patient's consent" in text
    assert "No records you may see" in text


def test_pages_show_names_and_organizations_with_ids_on_hover() -> None:
    browser, _ = app_sessions.hospital()
    html = browser.page("/audit").get_data(as_text=True)
    assert f'<span class="person" title="{CLINICIAN_ID}">you</span>' in html  # the signed-in clinician's own
    home = browser.page("/").get_data(as_text=True)
    assert f'title="{PATIENT}">Ana Silva</span>' in home
    record = browser.send("/records/rec-1/open", {"purpose": "treatment"}).get_data(as_text=True)
    assert "Hemoglobin" in record
    assert "Ana Silva" in record


def test_the_log_says_who_opened_what_for_what_and_why() -> None:
    browser, _ = app_sessions.portal()
    text = _text(browser.page("/log"))
    assert "Dr. João Costa (clinician, Cardiology)" in text
    assert "Hospital 1" in text
    assert "Allowed by your consent" in text
    assert "Refused: no consent from the patient covers this record" in text
    assert "Allowed as an emergency access, without your consent" in text
    assert f"Their justification: “{app_sessions.JUSTIFICATION}”" in text
    assert "You" not in text.split("Decision", 1)[1]  # granting is not shown as the patient opening records


def test_sharing_is_said_as_sharing_when_own_accesses_are_asked_for() -> None:
    browser, _ = app_sessions.portal()
    text = _text(browser.page("/log?own=yes"))
    assert "You" in text
    assert "to share it with Dr. João Costa" in text
    assert "to read it" not in text


def test_the_log_filters_and_pages() -> None:
    browser, _ = app_sessions.portal()
    denied = _text(browser.page("/log?decision=denied"))
    assert "Refused:" in denied
    assert "emergency access, without" not in denied
    emergencies = _text(browser.page("/log?emergency=only"))
    assert "emergency access, without" in emergencies
    assert "Refused:" not in emergencies
    window = _text(browser.page("/log?since=2026-03-02&until=2026-03-02"))
    assert "1 shown by these filters" in window
    bad = _text(browser.page("/log?since=soon"))
    assert "Enter a date like 2026-03-01." in bad
    assert "3 shown by these filters" in bad


def test_the_log_pages_keep_the_filters() -> None:
    session = Patient()
    many = [
        {**app_sessions.EVENT, "tx_id": f"tx-{i}", "time": f"2026-04-{1 + i % 28:02d}T10:00:00Z"} for i in range(30)
    ]
    session.access_log = lambda: many  # type: ignore[method-assign]
    browser, _ = app_sessions.portal(session)
    first = browser.page("/log?decision=allowed").get_data(as_text=True)
    assert "page 1 of 2" in first
    assert 'href="/log?decision=allowed&amp;page=2"' in first
    second = _text(browser.page("/log?decision=allowed&page=2"))
    assert "page 2 of 2" in second
    assert "Newer" in second


def test_notifications_since_the_last_visit_and_marking_them_seen() -> None:
    browser, _ = app_sessions.portal()
    home = _text(browser.page("/"))
    assert "New since you started: 3" in home
    assert "Emergency: Dr. João Costa (clinician, Cardiology) opened your record in an emergency" in home
    assert "was refused access to your record" in home
    html = browser.page("/").get_data(as_text=True)
    until = re.search(r'name="until" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert browser.send("/notifications/seen", {"until": until}).status_code == 302
    assert "Nothing new since your last visit" in _text(browser.page("/"))


def test_a_patient_reads_their_own_record_and_its_title_names_it_after() -> None:
    browser, session = app_sessions.portal()
    page = browser.send("/records/rec-1/read", {})
    text = _text(page)
    assert page.status_code == 200
    assert "Hemoglobin" in text
    assert "13.5 g/dL" in text
    assert "1 Jan 2026" in text
    assert ("open", ["rec-1"], "treatment") in session.calls
    assert "Hemoglobin" in _text(browser.page("/"))
    assert "Hemoglobin" in _text(browser.page("/log"))  # the log names the record by its title now


def test_grant_pages_name_the_grantee() -> None:
    browser, _ = app_sessions.portal()
    html = browser.page("/grants").get_data(as_text=True)
    assert f'<span class="person" title="{CLINICIAN_ID}">Dr. João Costa (clinician, Cardiology)</span>' in html
    assert "Dr. João Costa (clinician, Cardiology) (clinician, Hospital 1)" not in html


def test_an_own_access_long_before_any_grant_reads_as_reading() -> None:
    session = Patient()
    session.grants = [{**app_sessions.GRANT, "created_at": "2026-02-01T00:00:00Z"}]  # a month after the access
    browser, _ = app_sessions.portal(session)
    text = _text(browser.page("/log?own=yes"))
    assert "to read it" in text
    assert "to share it" not in text


def test_last_seen_markers_outlive_a_restart_and_hold_no_ids(tmp_path: Any) -> None:
    from careledger_apps._notices import SeenMarkers

    path = tmp_path / "seen.json"
    SeenMarkers(path).mark(PATIENT, "2026-03-02T00:00:00Z")
    assert SeenMarkers(path).last_seen(PATIENT) == "2026-03-02T00:00:00Z"
    assert "h1-patient" not in path.read_text()
    assert SeenMarkers(path).last_seen(CLINICIAN_ID) == ""


def test_times_fall_back_to_the_hospital_time_zone_before_the_script_runs() -> None:
    from careledger_apps import create_hospital_app

    session = Clinician()
    app = create_hospital_app(
        {"PROFILE": "hospital1.json", "TESTING": True, "OPEN_SESSION": lambda *a: session, "TIME_ZONE": "Europe/Berlin"}
    )
    browser = app_sessions.Browser(app, "hospital1", session.user)
    html = browser.page("/audit").get_data(as_text=True)
    # 2026-03-01T14:05Z is 15:05 CET in Berlin; the machine value stays UTC for the script.
    assert "data-local>1 Mar 2026, 15:05 CET</time>" in html
    assert '<time datetime="2026-03-01T14:05:00Z"' in html


def test_a_directory_the_app_cannot_open_shows_ids_and_tells_the_operator(caplog: Any) -> None:
    from careledger.directory import DirectoryKeyError

    def broken(_session: Any) -> Any:
        raise DirectoryKeyError("the directory of Hospital1MSP does not open with this key")

    session = Clinician()
    config = {"PROFILE": "hospital1.json", "TESTING": True, "OPEN_SESSION": lambda *a: session, "PEOPLE": broken}
    from careledger_apps import create_hospital_app

    browser = app_sessions.Browser(create_hospital_app(config), "hospital1", session.user)
    page = browser.page(f"/patients/{PATIENT}")
    assert page.status_code == 200
    assert "Ana Silva" not in _text(page)
    assert f"Records of {PATIENT}" in _text(page)
    assert "does not open with this key" in caplog.text


def test_an_emergency_shows_its_review_once_there_is_one() -> None:
    session = Patient()
    browser, _ = app_sessions.portal(session)
    assert "Not reviewed yet" in _text(browser.page("/log?emergency=only"))
    review = {
        "access_tx_id": "tx-2",
        "reviewer": CLINICIAN_ID,
        "verdict": "unjustified",
        "time": "2026-03-04T09:00:00Z",
        "note": "No emergency was recorded that night",
    }
    session.emergency_review = lambda tx_id: review if tx_id == "tx-2" else None  # type: ignore[attr-defined]
    text = _text(browser.page("/log?emergency=only"))
    assert "Reviewed 4 Mar 2026, 09:00 UTC by Dr. João Costa (clinician, Cardiology)" in text
    assert ": not justified — “No emergency was recorded that night”" in text
    assert "Not reviewed yet" not in text


def test_a_records_open_purposes_come_treatment_first_whatever_the_grants_order() -> None:
    """The patient page preselects the first open purpose: reading a record is treatment, when that is open."""
    from careledger_apps._coverage import purposes_for

    record: Any = {"id": "rec-1", "patient_id": "p@Hospital1MSP", "category": "laboratory"}
    grant: Any = {
        "patient_id": "p@Hospital1MSP", "status": "active", "record_ids": ["rec-1"], "categories": [],
        "purposes": ["diagnosis-ai", "treatment"], "valid_from": "2026-01-01T00:00:00Z",
        "valid_until": "2999-01-01T00:00:00Z",
    }  # fmt: skip
    assert purposes_for(record, [grant]) == ["treatment", "diagnosis-ai"]
    research = {**grant, "purposes": ["research"]}
    assert purposes_for(record, [research, grant]) == ["treatment", "diagnosis-ai", "research"]
    assert purposes_for({**record, "id": "rec-2"}, [grant]) == []  # not named by the grant
