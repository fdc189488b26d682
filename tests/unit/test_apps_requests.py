"""Consent requests and emergencies in the web apps, offline (scripted sessions, Flask's test client): what each
page offers, what each form asks the ledger, problems said next to their fields, and free text never in a URL."""

from __future__ import annotations

import threading
from typing import Any

from careledger.errors import Conflict, NotFound

from .app_sessions import PATIENT
from .request_sessions import (
    DECLINED as REQUEST_DECLINED,
)
from .request_sessions import (
    EMERGENCY,
    JUSTIFICATION,
    MESSAGE,
    NOTE,
    REVIEW,
    AskedPatient,
    AskingClinician,
    hospital,
    portal,
)


def test_the_patient_sees_pending_requests_with_their_message_and_past_outcomes() -> None:
    browser, _ = portal()
    page = browser.page("/requests").get_data(as_text=True)
    pending, answered = page.split('id="answered-heading"')
    assert MESSAGE in pending
    assert "/requests/cr-1/approve" in pending
    assert "/requests/cr-1/decline" in pending
    assert "Declined: <q>Not before I see my own doctor</q>" in answered


def test_approving_opens_the_grant_form_prefilled_and_grants_what_is_kept() -> None:
    browser, patient = portal()
    form = browser.page("/requests/cr-1/approve").get_data(as_text=True)
    assert 'name="category" value="laboratory" checked' in form
    assert 'name="record" value="rec-1" checked' in form
    assert 'name="purpose" value="treatment" checked' in form
    assert 'value="2099-06-30"' in form
    done = browser.send("/requests/cr-1/approve", {"record": "rec-1", "purpose": "treatment", "until": "2099-01-31"})
    assert done.status_code == 302
    assert patient.calls == [("grant_requested", "cr-1", ["treatment"], "2099-01-31T23:59:59Z", ["rec-1"], [])]
    refused = browser.send("/requests/cr-1/approve", {"record": "rec-1", "until": "2099-01-31"})
    assert refused.status_code == 400
    assert "Choose at least one purpose." in refused.get_data(as_text=True)


def test_declining_with_a_reason_sends_it_once_and_not_in_the_url() -> None:
    browser, patient = portal()
    done = browser.send("/requests/cr-1/decline", {"reason": "Not before I see my own doctor"})
    assert done.status_code == 302
    assert "doctor" not in done.headers["Location"]
    assert patient.calls == [("decline", "cr-1", "Not before I see my own doctor")]
    patient.refuse = NotFound("x", reason="consent request cr-1 does not exist")
    gone = browser.send("/requests/cr-1/decline", {})
    assert "This request is no longer on the ledger." in gone.get_data(as_text=True)


def test_the_patient_reads_each_emergency_with_its_justification_and_review() -> None:
    browser, patient = portal()
    page = browser.page("/emergencies").get_data(as_text=True)
    assert JUSTIFICATION in page
    assert "Justified" in page
    assert NOTE in page
    patient.reviewed = False
    assert "Awaiting review" in browser.page("/emergencies").get_data(as_text=True)
    assert isinstance(patient, AskedPatient)


def test_a_refusal_offers_to_ask_the_patient_prefilled() -> None:
    browser, clinician = hospital()
    clinician.decision = "refuse"
    page = browser.send("/records/rec-1/open", {"purpose": "treatment", "patient_id": PATIENT}).get_data(as_text=True)
    assert f"/patients/{PATIENT}/ask?record=rec-1&amp;purpose=treatment" in page
    assert f"/patients/{PATIENT}/emergency" in page
    form = browser.page(f"/patients/{PATIENT}/ask?record=rec-1&purpose=treatment").get_data(as_text=True)
    assert 'name="record" value="rec-1" checked' in form
    assert 'name="purpose" value="treatment" checked' in form


def test_asking_sends_the_request_with_the_message_and_lists_it() -> None:
    browser, clinician = hospital()
    sent = {"record": "rec-1", "categories": "laboratory, Imaging", "purpose": "treatment", "until": "2099-01-31"}
    done = browser.send(f"/patients/{PATIENT}/ask", {**sent, "message": MESSAGE})
    assert done.status_code == 302
    assert MESSAGE not in done.headers["Location"]
    assert clinician.calls == [
        (
            "request_consent",
            PATIENT,
            ["treatment"],
            "2099-01-31T23:59:59Z",
            ["rec-1"],
            ["laboratory", "imaging"],
            MESSAGE,
        )
    ]
    problems = browser.send(f"/patients/{PATIENT}/ask", {"message": "x"}).get_data(as_text=True)
    assert "Choose records or at least one category of records." in problems
    listed = browser.page("/requests").get_data(as_text=True)
    assert "Waiting for the patient" in listed
    assert "Declined: <q>Not before I see my own doctor</q>" in listed


def test_break_glass_from_the_patient_page_and_the_records_another_hospital_holds() -> None:
    browser, clinician = hospital()
    assert f"/patients/{PATIENT}/emergency" in browser.page(f"/patients/{PATIENT}").get_data(as_text=True)
    opened = browser.send(f"/patients/{PATIENT}/emergency", {"scope": "all", "justification": JUSTIFICATION})
    page = opened.get_data(as_text=True)
    assert clinician.calls[-1] == ("break_glass_for_patient", PATIENT, JUSTIFICATION, None)
    assert "Potassium" in page
    assert "waiting for its hospital" in page
    fetch = f"/emergency/{'ab' * 32}/fetch"
    assert fetch in page
    again = browser.send(fetch, {"open_until": "2026-03-02T03:10:00.000000Z", "patient": PATIENT})
    assert "waiting for its hospital" not in again.get_data(as_text=True)
    chosen = browser.send(
        f"/patients/{PATIENT}/emergency", {"scope": "chosen", "record": "rec-1", "justification": JUSTIFICATION}
    )
    assert chosen.status_code == 200
    assert clinician.calls[-1] == ("break_glass", ["rec-1"], JUSTIFICATION)
    short = browser.send(f"/patients/{PATIENT}/emergency", {"scope": "all", "justification": "hurry"})
    assert short.status_code == 400
    assert "at least 20 letters" in short.get_data(as_text=True)


def test_the_privacy_officer_reviews_and_releases() -> None:
    browser, admin = hospital(AskingClinician(user="h1-admin", role="admin"))
    queue = browser.page("/emergencies/review").get_data(as_text=True)
    assert JUSTIFICATION in queue
    assert 'name="access_tx_id" value="' + EMERGENCY["access_tx_id"] in queue
    done = browser.send(
        "/emergencies/review", {"access_tx_id": EMERGENCY["access_tx_id"], "verdict": "justified", "note": NOTE}
    )
    assert done.status_code == 302
    assert NOTE not in done.headers["Location"]
    assert admin.calls == [("review", EMERGENCY["access_tx_id"], "justified", NOTE)]
    short = browser.send("/emergencies/review", {"access_tx_id": EMERGENCY["access_tx_id"], "note": "fine"})
    text = short.get_data(as_text=True)
    assert "Choose whether the emergency access was justified." in text
    assert "Write why, in at least 20 letters." in text
    admin.refuse = Conflict("x", reason="reviewed already")
    refused = browser.send(
        "/emergencies/review", {"access_tx_id": EMERGENCY["access_tx_id"], "verdict": "unjustified", "note": NOTE}
    )
    assert refused.status_code == 409
    assert "has been reviewed already" in refused.get_data(as_text=True)
    admin.refuse = None
    released = browser.send("/emergencies/release", {})
    assert released.status_code == 302
    assert admin.calls[-1] == ("release",)
    admin.queue = [{**EMERGENCY, "reviewed": True, "review": REVIEW}]
    assert "<strong>Justified</strong>" in browser.page("/emergencies/review?which=all").get_data(as_text=True)


def test_a_clinician_is_not_shown_the_review_queue() -> None:
    browser, clinician = hospital()
    assert "Emergency reviews" not in browser.page("/").get_data(as_text=True)
    page = browser.page("/emergencies/review")
    assert page.status_code == 403
    assert clinician.calls == []


def test_the_releaser_releases_each_round_and_survives_a_failed_one(monkeypatch: Any) -> None:
    from contextlib import nullcontext

    from careledger.errors import IdentityError
    from careledger_apps import _releaser, create_hospital_app

    custodian = AskingClinician(user="h1-admin", role="admin")
    done = _releaser.run_once(lambda: nullcontext(custodian))  # type: ignore[arg-type]
    assert done == _releaser.Round(released=1, recovered=1, rewrapped=2)
    assert custodian.calls == [("release",), ("rewrap",), ("flush",)]  # every job, in one session

    def broken() -> Any:
        raise IdentityError("no such wallet")

    assert _releaser.run_once(broken) == _releaser.Round()
    rounds = threading.Event()

    def opened(profile: Any, label: str, passphrase: Any, org_key_from: str) -> Any:
        assert (label, org_key_from, passphrase) == ("h1-admin", "h1-admin", None)
        rounds.set()
        return nullcontext(custodian)

    monkeypatch.setattr(_releaser.Session, "open", staticmethod(opened))
    config = {"PROFILE": "hospital1.json", "TESTING": True, "OPEN_SESSION": lambda *a: custodian}
    assert "careledger.emergency_releaser" not in create_hospital_app(config).extensions  # off unless configured
    app = create_hospital_app({**config, "EMERGENCY_RELEASER": "h1-admin", "EMERGENCY_RELEASE_SECONDS": 0.01})
    assert not rounds.wait(0.1)  # not in the process that built the app: in the one that serves it
    app.test_client().get("/login", base_url="https://localhost")
    assert rounds.wait(5)
    app.extensions["careledger.emergency_releaser"].set()


def test_break_glass_by_record_id_on_another_hospitals_record_waits_for_its_release() -> None:
    from careledger.services import EmergencyOpening, Refused

    browser, clinician = hospital()
    waiting = Refused("rec-9", "the custodian has not released the key to you yet", awaiting_custodian=True)
    clinician._opening = lambda: EmergencyOpening("ab" * 32, "2026-03-02T03:10:00.000000Z", [waiting])  # type: ignore[method-assign]
    page = browser.send("/emergency", {"record_id": "rec-9", "justification": JUSTIFICATION})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "held by another hospital" in text
    assert f"/emergency/{'ab' * 32}/fetch" in text
    assert clinician.calls == [("break_glass", ["rec-9"], JUSTIFICATION)]


def test_an_answered_request_is_not_answered_again() -> None:
    browser, patient = portal(AskedPatient(requests=[{**REQUEST_DECLINED}]))
    for path in ("/requests/cr-2/approve", "/requests/cr-2/decline"):
        page = browser.page(path)
        assert page.status_code == 302
    done = browser.send("/requests/cr-2/approve", {"record": "rec-1", "purpose": "treatment", "until": "2099-01-31"})
    assert done.status_code == 302
    assert patient.calls == []
