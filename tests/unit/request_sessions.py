"""Consent requests and emergencies in both apps, offline: scripted sessions of a patient who was asked for access
and of a clinician (and a hospital admin) who asks, breaks the glass and reviews, for the page tests and
`app_sessions.pages()`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from careledger.services import EmergencyOpening, OpenedRecord, Refused
from careledger.services._key_recovery import RecoveryRewraps

from .app_sessions import CLINICIAN_ID, EMERGENCY_EVENT, H1, JUSTIFICATION, PATIENT, Browser, Clinician, Patient
from .app_sessions import hospital as hospital_app
from .app_sessions import portal as portal_app

MESSAGE = "Your cardiologist needs the potassium results of last month"
NOTE = "Documented cardiac arrest on arrival; access was proportionate"
H2_CLINICIAN = "h2-clinician-1@Hospital2MSP"
REQUEST: dict[str, Any] = {
    "id": "cr-1",
    "patient_id": PATIENT,
    "requester": CLINICIAN_ID,
    "requester_org": H1,
    "requester_role": "clinician",
    "record_ids": ["rec-1"],
    "categories": ["laboratory"],
    "purposes": ["treatment"],
    "valid_until": "2099-06-30T23:59:59.000000Z",
    "status": "pending",
    "created_at": "2026-03-01T10:00:00.000000Z",
    "expires_at": "2026-03-31T10:00:00.000000Z",
    "tx_id": "ab" * 32,
    "message_sha256": "cd" * 32,
    "message_length": len(MESSAGE),
}
DECLINED: dict[str, Any] = {
    **REQUEST,
    "id": "cr-2",
    "status": "declined",
    "answered_at": "2026-03-02T10:00:00.000000Z",
    "reason_sha256": "ef" * 32,
}
EMERGENCY_TX = EMERGENCY_EVENT["tx_id"]
REVIEW: dict[str, Any] = {
    "access_tx_id": EMERGENCY_TX,
    "reviewer": "ha-auditor-1@HealthAuthorityMSP",
    "reviewer_org": "HealthAuthorityMSP",
    "reviewer_role": "auditor",
    "verdict": "justified",
    "time": "2026-03-03T09:00:00.000000Z",
    "tx_id": "12" * 32,
    "note_sha256": "34" * 32,
    "note_length": len(NOTE),
    "note": NOTE,
}
EMERGENCY: dict[str, Any] = {
    "access_tx_id": "56" * 32,
    "time": "2026-03-02T03:00:00.000000Z",
    "open_until": "2026-03-02T03:10:00.000000Z",
    "requester": H2_CLINICIAN,
    "requester_org": "Hospital2MSP",
    "patient_ids": [PATIENT],
    "record_ids": ["rec-1"],
    "custodians": [H1],
    "justification_sha256": "78" * 32,
    "justification_length": len(JUSTIFICATION),
    "awaiting_release": [],
    "released": ["rec-1"],
    "reviewed": False,
}


def _with_words(request: dict[str, Any]) -> dict[str, Any]:
    words = {"message": MESSAGE} if "message_sha256" in request else {}
    return {**request, **words, **({"reason": "Not before I see my own doctor"} if "reason_sha256" in request else {})}


@dataclass
class AskedPatient(Patient):
    """A patient with a pending request (REQUEST) and a declined one, and an emergency on their records."""

    requests: list[dict[str, Any]] = field(default_factory=lambda: [dict(DECLINED), dict(REQUEST)])
    reviewed: bool = True

    def consent_requests_to(self, patient_id: str | None = None) -> list[dict[str, Any]]:
        return self.requests

    def consent_request(self, request_id: str) -> dict[str, Any]:
        return _with_words(next(r for r in self.requests if r["id"] == request_id))

    def grant_requested(self, request_id: str, *terms: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        self._write("grant_requested", request_id, *terms)
        return {"id": "g-9"}, {**REQUEST, "status": "approved", "grant_id": "g-9"}

    def decline_consent_request(self, request_id: str, reason: str | None = None) -> dict[str, Any]:
        self._write("decline", request_id, reason)
        return {**REQUEST, "status": "declined"}

    def emergency_review(self, access_tx_id: str) -> dict[str, Any] | None:
        return dict(REVIEW) if self.reviewed else None


@dataclass
class AskingClinician(Clinician):
    """A clinician who asks patients and breaks the glass; as `role` "admin", the hospital's privacy officer."""

    role: str = "clinician"
    awaiting: bool = True  # the break-glass touches another hospital's record, whose key is not released yet
    queue: list[dict[str, Any]] = field(default_factory=lambda: [dict(EMERGENCY)])

    def __post_init__(self) -> None:
        super().__post_init__()
        self.wallet = type("Wallet", (), {"metadata": staticmethod(lambda _user: {"role": self.role})})()

    def request_consent(self, patient_id: str, *terms: Any) -> dict[str, Any]:
        if self.refuse:
            raise self.refuse
        self.calls.append(("request_consent", patient_id, *terms))
        return dict(REQUEST)

    def my_consent_requests(self) -> list[dict[str, Any]]:
        return [dict(DECLINED), dict(REQUEST)]

    def consent_request(self, request_id: str) -> dict[str, Any]:
        return _with_words(DECLINED if request_id == "cr-2" else REQUEST)

    def _opening(self) -> EmergencyOpening:
        resource = {"resourceType": "Observation", "status": "final", "code": {"text": "Potassium"}}
        opened = OpenedRecord("rec-1", PATIENT, 1, {**resource, "valueQuantity": {"value": 4.1}}, "ab" * 32, "cd" * 32)
        waiting = Refused("rec-9", "the custodian has not released the key to you yet", awaiting_custodian=True)
        return EmergencyOpening(
            "ab" * 32, "2026-03-02T03:10:00.000000Z", [opened, waiting] if self.awaiting else [opened]
        )

    def break_glass_for_patient(self, patient_id: str, justification: str, categories: Any = None) -> EmergencyOpening:
        if self.refuse:
            raise self.refuse
        self.calls.append(("break_glass_for_patient", patient_id, justification, categories))
        return self._opening()

    def break_glass(self, record_ids: list[str], justification: str) -> EmergencyOpening:
        self.calls.append(("break_glass", record_ids, justification))
        return self._opening()

    def open_released(self, access_tx_id: str) -> list[Any]:
        self.calls.append(("open_released", access_tx_id))
        self.awaiting = False
        return self._opening().items

    def emergencies(self, custodian: str = "", which: str = "unreviewed") -> list[dict[str, Any]]:
        return self.queue

    def justification(self, access_tx_id: str) -> dict[str, Any]:
        return {"access_tx_id": access_tx_id, "justification": JUSTIFICATION, "salt": "00"}

    def emergency_review(self, access_tx_id: str) -> dict[str, Any] | None:
        return next((e.get("review") for e in self.queue if e["access_tx_id"] == access_tx_id), None)

    def review_emergency(self, access_tx_id: str, verdict: str, note: str) -> dict[str, Any]:
        if self.refuse:
            raise self.refuse
        self.calls.append(("review", access_tx_id, verdict, note))
        return {**REVIEW, "access_tx_id": access_tx_id, "verdict": verdict, "note": note}

    def release_pending_emergency_keys(self) -> list[dict[str, Any]]:
        self.calls.append(("release",))
        return [{"access_tx_id": "56" * 32, "requester": H2_CLINICIAN, "released": ["rec-1"]}]

    def rewrap_pending_recoveries(self) -> RecoveryRewraps:
        self.calls.append(("rewrap",))
        return RecoveryRewraps(members=1, keys=2)

    def flush_outbox(self) -> int:
        self.calls.append(("flush",))
        return 0

    def pending_uploads(self) -> int:
        return 0


def portal(session: AskedPatient | None = None) -> tuple[Browser, AskedPatient]:
    session = session or AskedPatient()
    browser, _ = portal_app(session)
    return browser, session


def hospital(session: AskingClinician | None = None) -> tuple[Browser, AskingClinician]:
    session = session or AskingClinician()
    browser, _ = hospital_app(session)
    return browser, session


def request_pages() -> dict[str, tuple[int, str]]:
    """The pages of consent requests and emergencies in both apps, by a name: (status, html)."""
    from careledger.errors import Conflict

    out: dict[str, tuple[int, str]] = {}

    def keep(name: str, response: Any) -> None:
        out[name] = (response.status_code, response.get_data(as_text=True))

    browser, patient = portal()
    for path in ("/requests", "/requests/cr-1/approve", "/requests/cr-1/decline", "/emergencies"):
        keep(f"portal {path}", browser.page(path))
    keep("portal approve problems", browser.send("/requests/cr-1/approve", {"until": "2000-01-01"}))
    patient.reviewed = False
    keep("portal /emergencies awaiting review", browser.page("/emergencies"))

    browser, clinician = hospital()
    for path in (f"/patients/{PATIENT}/ask", "/requests", f"/patients/{PATIENT}/emergency"):
        keep(f"hospital {path}", browser.page(path))
    keep("hospital ask problems", browser.send(f"/patients/{PATIENT}/ask", {"message": "hello"}))
    sent = {"scope": "all", "justification": JUSTIFICATION}
    keep("hospital patient emergency opened", browser.send(f"/patients/{PATIENT}/emergency", sent))
    keep("hospital patient emergency problems", browser.send(f"/patients/{PATIENT}/emergency", {"scope": "chosen"}))
    keep("hospital emergency reviews, not a reviewer", browser.page("/emergencies/review"))
    clinician.decision = "refuse"
    refused = {"purpose": "treatment", "patient_id": PATIENT}
    keep("hospital access refused, ways on", browser.send("/records/rec-1/open", refused))

    browser, admin = hospital(AskingClinician(user="h1-admin", role="admin"))
    keep("hospital emergency reviews", browser.page("/emergencies/review"))
    keep("hospital emergency review problems", browser.send("/emergencies/review", {"access_tx_id": "56" * 32}))
    admin.refuse = Conflict("x", reason="this emergency access has been reviewed already")
    review = {"access_tx_id": "56" * 32, "verdict": "justified", "note": NOTE}
    keep("hospital emergency review refused", browser.send("/emergencies/review", review))
    admin.refuse = None
    admin.queue = [{**EMERGENCY, "reviewed": True, "review": REVIEW}]
    keep("hospital emergency reviews, all", browser.page("/emergencies/review?which=all"))
    return out
