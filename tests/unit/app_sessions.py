"""Both web apps offline, for the page tests: scripted ledger sessions (patient, clinician) with canned
answers stand in for the network (the apps take their session from OPEN_SESSION), and `pages()` renders
every HTML page of the web apps, error pages and forms with problems included."""

from __future__ import annotations

import io
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from careledger.errors import ChaincodeRefusal
from careledger.services import OpenedRecord, Refused
from careledger_apps import create_hospital_app, create_portal_app

H1 = "Hospital1MSP"
BASE = "https://localhost"
PATIENT = "h1-patient-1@Hospital1MSP"
CLINICIAN_ID = "h1-clinician-1@Hospital1MSP"
RECORD: dict[str, Any] = {
    "id": "rec-1",
    "patient_id": PATIENT,
    "category": "laboratory",
    "resource_type": "Observation",
    "version": 1,
    "status": "active",
    "created_at": "2026-01-01T09:30:00.123456Z",
    "custodian": H1,
}
ERASED: dict[str, Any] = {**RECORD, "id": "rec-2", "status": "erased"}
GRANT: dict[str, Any] = {
    "id": "g-1",
    "patient_id": PATIENT,
    "grantee": CLINICIAN_ID,
    "grantee_org": H1,
    "record_ids": ["rec-1"],
    "categories": [],
    "purposes": ["treatment", "diagnosis-ai"],
    "valid_from": "2026-01-01T00:00:00Z",
    "valid_until": "2099-12-31T23:59:59Z",
    "status": "active",
    "created_at": "2026-01-01T00:00:00Z",
    "keyed_records": ["rec-1"],
}
EVENT: dict[str, Any] = {
    "tx_id": "tx-1",
    "n": 0,
    "time": "2026-03-01T14:05:00.000000Z",
    "requester": CLINICIAN_ID,
    "requester_org": H1,
    "record_id": "rec-1",
    "purpose": "treatment",
    "decision": "allowed",
    "reason": "consent g-1",
    "emergency": False,
    "consent_id": "g-1",
}
EMERGENCY_EVENT: dict[str, Any] = {
    **EVENT,
    "tx_id": "tx-2",
    "time": "2026-03-02T03:00:00Z",
    "emergency": True,
    "purpose": "",
    "reason": "emergency access",
}
DENIED_EVENT: dict[str, Any] = {
    **EVENT,
    "tx_id": "tx-3",
    "time": "2026-03-03T10:00:00Z",
    "decision": "denied",
    "purpose": "research",
    "reason": "no consent from the patient covers this record",
}
# The patient opening the key of rec-1 to share it (the grant GRANT was made right after): their own access.
SHARING_EVENT: dict[str, Any] = {
    **EVENT,
    "tx_id": "tx-0",
    "time": "2025-12-31T23:59:59Z",
    "requester": PATIENT,
    "reason": "the patient's own record",
}
JUSTIFICATION = "Unconscious on arrival, allergy history needed"
# Invented people of the directory (careledger.directory), as each app may see them.
NAMES: dict[str, Any] = {
    PATIENT: {"display_name": "Ana Silva", "kind": "patient", "birth_date": "1980-05-17"},
    CLINICIAN_ID: {"display_name": "Dr. João Costa", "kind": "staff", "role": "clinician", "department": "Cardiology"},
}


def people(*member_ids: str) -> Any:
    """The directory's view with these of NAMES (careledger.directory.People)."""
    from careledger.directory import People, Person

    return People({m: Person.from_json({"member_id": m, **NAMES[m]}) for m in member_ids})


CLINICIAN: dict[str, Any] = {"id": CLINICIAN_ID, "org": H1, "role": "clinician", "public_key": {}}


def _wallet(role: str) -> Any:
    return type("Wallet", (), {"metadata": staticmethod(lambda _user: {"role": role})})()


@dataclass
class Patient:
    """A patient's ledger session: `refuse` makes the next ledger write fail with it; writes are recorded."""

    user: str = "h1-patient-1"
    refuse: ChaincodeRefusal | None = None
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    grants: list[dict[str, Any]] = field(default_factory=lambda: [dict(GRANT)])

    def __post_init__(self) -> None:
        self.wallet = _wallet("patient")

    def _write(self, *call: Any) -> None:
        if self.refuse:
            raise self.refuse
        self.calls.append(call)

    def member_id(self) -> str:
        return PATIENT

    def my_records(self) -> list[dict[str, Any]]:
        return [RECORD, ERASED]

    def grants_of(self) -> list[dict[str, Any]]:
        return self.grants

    def members_of(self, org: str, role: str = "") -> list[dict[str, Any]]:
        return [CLINICIAN] if (org, role) == (H1, "clinician") else []

    def access_log(self) -> list[dict[str, Any]]:
        return [SHARING_EVENT, EVENT, EMERGENCY_EVENT, DENIED_EVENT]

    def justification(self, access_tx_id: str) -> dict[str, Any]:
        return {"access_tx_id": access_tx_id, "justification": JUSTIFICATION, "salt": "00"}

    def open_records(self, record_ids: list[str], purpose: str = "treatment", **kwargs: Any) -> list[Any]:
        self.calls.append(("open", record_ids, purpose))
        resource = {"resourceType": "Observation", "status": "final", "code": {"text": "Hemoglobin"}}
        resource |= {"valueQuantity": {"value": 13.5, "unit": "g/dL"}, "effectiveDateTime": "2026-01-01T09:00:00Z"}
        return [OpenedRecord(rid, PATIENT, 1, resource, "ab" * 32, "cd" * 32) for rid in record_ids]

    def inferences_of(self) -> list[dict[str, Any]]:
        return []

    def grant(self, *args: Any) -> dict[str, Any]:
        self._write("grant", *args)
        return {"grantee": args[0], "id": "g-2"}

    def revoke(self, grant_id: str) -> dict[str, Any]:
        self._write("revoke", grant_id)
        return {**GRANT, "status": "revoked"}

    def rotate_record(self, record_id: str) -> dict[str, Any]:
        self._write("rotate", record_id)
        return RECORD

    def erase(self, record_id: str) -> dict[str, Any]:
        self._write("erase", record_id)
        return {**RECORD, "status": "erased"}

    def close(self) -> None:
        pass


@dataclass
class Clinician:
    """A clinician's ledger session; `refuse` makes the next ledger call that writes fail with it."""

    user: str = "h1-clinician-1"
    refuse: ChaincodeRefusal | None = None
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    decision: str = "allow"

    def __post_init__(self) -> None:
        self.wallet = _wallet("clinician")
        self.gateway = type("G", (), {"identity": type("I", (), {"msp_id": H1})()})()

    def member_id(self) -> str:
        return CLINICIAN_ID

    def qualify(self, member: str) -> str:
        return member if "@" in member else f"{member}@{H1}"

    def grants_to_me(self) -> list[dict[str, Any]]:
        return [GRANT]

    def records_of(self, patient_id: str) -> list[dict[str, Any]]:
        return [RECORD, ERASED]

    def members_of(self, org: str, role: str = "") -> list[dict[str, Any]]:
        return [CLINICIAN] if role == "clinician" else []

    def access_by(self, requester: str) -> list[dict[str, Any]]:
        return [EVENT, EMERGENCY_EVENT]

    def models(self) -> list[dict[str, Any]]:
        return []

    def open_records(self, record_ids: list[str], purpose: str = "treatment", **kwargs: Any) -> list[Any]:
        if self.refuse:
            raise self.refuse
        self.calls.append(("open", record_ids, purpose, kwargs))
        if self.decision != "allow":
            return [Refused(record_ids[0], "no consent from the patient covers this record")]
        resource = {"resourceType": "Observation", "status": "final", "code": {"text": "Hemoglobin"}}
        resource["valueQuantity"] = {"value": 13.5, "unit": "g/dL"}
        return [OpenedRecord(record_ids[0], PATIENT, 1, resource, "ab" * 32, "cd" * 32)]

    def break_glass(self, record_ids: list[str], justification: str, wait: float = 0.0) -> Any:
        from careledger.services import EmergencyOpening

        items = self.open_records(record_ids, emergency_justification=justification)
        return EmergencyOpening("ab" * 32, "2026-03-02T03:10:00.000000Z", items)

    def create_record(self, patient_id: str, resource: dict[str, Any], category: str) -> dict[str, Any]:
        from careledger import fhir

        fhir.validate(resource)  # what the real session checks first
        if self.refuse:
            raise self.refuse
        self.calls.append(("create", patient_id, resource, category))
        return {**RECORD, "id": "rec-new"}

    def close(self) -> None:
        pass


class Browser:
    """A signed-in test client of one app: `page` GETs, `send` POSTs a form with the page's CSRF token."""

    def __init__(self, app: Any, org: str, user: str) -> None:
        self.client = app.test_client()
        form = {"org": org, "user": user, "passphrase": "pw", "csrf_token": self.csrf("/login")}
        assert self.client.post("/login", data=form, base_url=BASE).status_code == 302

    def csrf(self, path: str = "/") -> str:
        page = self.client.get(path, base_url=BASE).get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]

    def page(self, path: str) -> Any:
        return self.client.get(path, base_url=BASE)

    def send(self, path: str, data: dict[str, Any], files: bool = False) -> Any:
        data = {**data, "csrf_token": self.csrf()}
        kind = "multipart/form-data" if files else None
        return self.client.post(path, data=data, base_url=BASE, content_type=kind)


def portal(session: Patient | None = None) -> tuple[Browser, Patient]:
    session = session or Patient()
    app = create_portal_app(
        {
            "PROFILES": {"hospital1": "unused.json"},
            "GRANTEE_ORGS": [H1],
            "TESTING": True,
            "OPEN_SESSION": lambda org, user, passphrase: session,
            "PEOPLE": lambda _session: people(PATIENT, CLINICIAN_ID),  # the patient's own entry and staff
        }
    )
    return Browser(app, "hospital1", session.user), session


def hospital(session: Clinician | None = None, model_dir: Path | None = None) -> tuple[Browser, Clinician]:
    session = session or Clinician()
    config = {"PROFILE": "hospital1.json", "TESTING": True, "OPEN_SESSION": lambda *a: session}
    config["PEOPLE"] = lambda _session: people(PATIENT, CLINICIAN_ID)  # the hospital's directory
    app = create_hospital_app(
        {**config, "MODEL_DIR": str(model_dir or Path(tempfile.mkdtemp(prefix="careledger-models-")))}
    )
    return Browser(app, "hospital1", session.user), session


def anonymous(app_name: str) -> Any:
    """A test client of an app, not signed in."""
    if app_name == "portal":
        app = create_portal_app({"PROFILES": {"hospital1": "unused.json"}, "GRANTEE_ORGS": [], "TESTING": True})
    else:
        app = create_hospital_app({"PROFILE": "hospital1.json", "TESTING": True})
    return app.test_client()


def pages() -> dict[str, tuple[int, str]]:
    """Every HTML page of the web apps, by a name: (status, html). Error pages and refused forms included."""
    from careledger.errors import NotAuthorized

    out: dict[str, tuple[int, str]] = {}

    def keep(name: str, response: Any) -> None:
        out[name] = (response.status_code, response.get_data(as_text=True))

    for name in ("portal", "hospital"):
        client = anonymous(name)
        keep(f"{name} sign-in", client.get("/login", base_url=BASE))
        keep(f"{name} not found, signed out", client.get("/nowhere", base_url=BASE))
        token = re.search(r'name="csrf_token" value="([^"]+)"', out[f"{name} sign-in"][1])
        form = {"org": "hospital1", "user": "someone", "passphrase": "", "csrf_token": token.group(1) if token else ""}
        keep(f"{name} sign-in refused", client.post("/login", data=form, base_url=BASE))
        keep(f"{name} form expired", client.post("/login", data={}, base_url=BASE))

    browser, patient = portal()
    for path in ("/", "/grants", "/log", "/grants/g-1/revoke", "/records/rec-1/erase", "/nowhere"):
        keep(f"portal {path}", browser.page(path))
    keep("portal log filtered", browser.page("/log?decision=denied&own=yes&since=2026-01-01&until=bad"))
    keep("portal read own record", browser.send("/records/rec-1/read", {}))
    keep("portal grant refused in words", browser.send("/grants", {"until": "2000-01-01", "record": "rec-1"}))
    keep("portal erase unconfirmed", browser.send("/records/rec-1/erase", {}))
    bad = {"consent": (io.BytesIO(b"{not json"), "consent.json")}
    keep("portal import not json", browser.send("/grants/import", bad, files=True))
    patient.refuse = NotAuthorized("x", reason="grant.valid_until must be after valid_from")
    form = {"grantee": CLINICIAN_ID, "record": "rec-1", "purpose": "treatment", "until": "2099-01-01"}
    keep("portal grant refused by the ledger", browser.send("/grants", form))
    keep("portal revoke refused by the ledger", browser.send("/grants/g-1/revoke", {"confirm": "revoke"}))

    browser, clinician = hospital()
    for path in ("/", f"/patients/{PATIENT}", "/emergency", "/records/new", "/audit", "/nowhere", "/patients"):
        keep(f"hospital {path}", browser.page(path))
    keep("hospital patient search", browser.send("/patients", {"q": "silva"}))
    keep("hospital patient search, none", browser.send("/patients", {"q": "nobody here"}))
    keep("hospital record", browser.send("/records/rec-1/open", {"purpose": "treatment"}))
    keep("hospital emergency record", browser.send("/emergency", {"record_id": "rec-1", "justification": "x" * 30}))
    keep("hospital new record problems", browser.send("/records/new", {"patient_id": "p", "value": "abc"}))
    keep("hospital emergency problems", browser.send("/emergency", {"record_id": "rec-1", "justification": "hurry"}))
    clinician.decision = "refuse"
    keep("hospital access refused", browser.send("/records/rec-1/open", {"purpose": "treatment"}))
    out.update(_role_app_pages())  # the researcher and auditor apps
    out.update(_proxy_pages())  # the portal's proxy pages
    out.update(_request_pages())  # consent requests and emergencies, in both apps
    return out


def _request_pages() -> dict[str, tuple[int, str]]:
    from tests.unit.request_sessions import request_pages

    return request_pages()


def _proxy_pages() -> dict[str, tuple[int, str]]:
    from tests.unit.proxy_sessions import proxy_pages

    return proxy_pages()


def _role_app_pages() -> dict[str, tuple[int, str]]:
    import tempfile

    from tests.unit import role_app_sessions

    with tempfile.TemporaryDirectory() as folder:  # the models trained for their pages
        return role_app_sessions.pages(Path(folder))
