"""Everything CareLedger emits as FHIR passes the HL7 validation engine with zero errors (the CI gate).

The corpus is made offline by the project's own code paths: the CLI's `audit log --fhir` and
`audit consents` (with a scripted ledger session), the portal's /export, the exporters in
careledger.fhir one resource at a time, and the Observations records carry (the hospital form's and the
datasets', normalised by fhir.validate as create_record stores them). The ledger documents are shaped as
the chaincode writes them (careledger_protocol.documents). One JVM run validates it all; the summary
printed on failure counts errors and warnings per kind and the distinct messages.

The IHE profiles the exports claim or follow (PCF consents, the BALP authorization-decision pattern) are not
available to the engine; tests/ihe_profiles.py checks their rules over the same corpus.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from careledger import fhir
from careledger.cli import main
from careledger.cli._base import Context
from careledger_apps import create_hospital_app, create_portal_app
from careledger_protocol import AuditEvent, Grant, Inference
from click.testing import CliRunner

from tests.fhir_validation import UNKNOWN_PROFILE, Issue, Report, engine_version, validate
from tests.ihe_profiles import CHECKED_BY, UNAVAILABLE_PROFILES, pcf_level, resources
from tests.ledger_documents import CLINICIAN, EVENTS, GRANTS, H1, PATIENT, inference, trail

pytestmark = pytest.mark.slow  # a JVM start and a full validation run: tens of seconds

LARGE_LOG = 500  # a page-sized trail: the exporters must not degrade with volume
CONTROL = "control/invalid-observation"  # must fail: proves the engine is really judging
# Must fail too: a profile claim nobody vouches for stays an error (only UNAVAILABLE_PROFILES become notes).
CONTROL_PROFILE = "control/unknown-profile"
CONTROLS = (CONTROL, CONTROL_PROFILE)


# -- the project's own emitters --------------------------------------------------------------------------------
class LedgerSession:
    """A ledger session with canned answers, for the CLI and the apps (no network)."""

    user = "h1-patient-1"

    def __init__(self, events: list[AuditEvent], grants: list[Grant], inferences: list[Inference]) -> None:
        self.events, self.grants, self.inferences = events, grants, inferences
        self.created: list[dict[str, Any]] = []
        self.wallet = type("W", (), {"metadata": staticmethod(lambda _u: {"role": "patient"})})()

    def member_id(self) -> str:
        return PATIENT

    def access_log(self, patient_id: str | None = None) -> list[AuditEvent]:
        return self.events

    access_by = all_access = access_log

    def grants_of(self, patient_id: str | None = None) -> list[Grant]:
        return self.grants

    def inferences_of(self, patient_id: str | None = None) -> list[Inference]:
        return self.inferences

    def create_record(self, patient_id: str, resource: dict[str, Any], category: str) -> dict[str, Any]:
        self.created.append(fhir.validate(resource))  # what Session.create_record encrypts and stores
        return {"id": "rec-new"}

    def close(self) -> None:
        pass


def cli_json(tmp: Path, session: LedgerSession, *args: str) -> dict[str, Any]:
    """Run a `careledger` command against the scripted session; its JSON output."""

    @contextmanager
    def scripted(_self: Context) -> Iterator[LedgerSession]:
        yield session

    profile = tmp / "profile.json"
    profile.write_text("{}")  # never read: the session is scripted
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Context, "session", scripted)
        result = CliRunner().invoke(main, ["--profile", str(profile), "--user", "u", *args])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.output)
    return document


def _sign_in(client: Any, org: str, user: str) -> None:
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"org": org, "user": user, "passphrase": "pw", "csrf_token": token}
    assert client.post("/login", data=form, base_url="https://localhost").status_code == 302


def portal_export(session: LedgerSession) -> dict[str, Any]:
    app = create_portal_app(
        {
            "PROFILES": {"hospital1": "unused.json"},
            "GRANTEE_ORGS": [H1],
            "TESTING": True,
            "OPEN_SESSION": lambda *a: session,
        }
    )
    client = app.test_client()
    _sign_in(client, "hospital1", "h1-patient-1")
    response = client.get("/export", base_url="https://localhost")
    assert response.status_code == 200
    bundle: dict[str, Any] = json.loads(response.get_data())
    return bundle


def fhir_api_documents(session: LedgerSession) -> dict[str, dict[str, Any]]:
    """What the hospital app's FHIR read API answers: its capability statement and searchset pages."""
    session.wallet = type("W", (), {"metadata": staticmethod(lambda _u: {"role": "clinician"})})()
    app = create_hospital_app({"PROFILE": "hospital1.json", "TESTING": True, "OPEN_SESSION": lambda *a: session})
    client = app.test_client()
    _sign_in(client, "hospital1", "h1-clinician-1")
    paths = {
        "metadata": "/fhir/metadata",
        "consents": f"/fhir/Consent?patient={PATIENT}",
        "audit-events-page-2": f"/fhir/AuditEvent?patient={PATIENT}&_count=20&_page=2",
        "audit-events-dated": f"/fhir/AuditEvent?patient={PATIENT}&date=ge2026-01-01&date=lt2099-01-01",
        "provenance": f"/fhir/Provenance?patient={PATIENT}",
        "empty": f"/fhir/Consent?patient={PATIENT}&date=lt2000-01-01",
    }
    found = {}
    for name, path in paths.items():
        response = client.get(path, base_url="https://localhost")
        assert response.status_code == 200, response.get_data(as_text=True)
        found[f"fhir-api/{name}"] = json.loads(response.get_data())
    return found


def hospital_form_observations() -> list[dict[str, Any]]:
    """What the hospital app's 'new record' form stores, with and without a unit."""
    session = LedgerSession([], [], [])
    session.wallet = type("W", (), {"metadata": staticmethod(lambda _u: {"role": "clinician"})})()
    app = create_hospital_app({"PROFILE": "hospital1.json", "TESTING": True, "OPEN_SESSION": lambda *a: session})
    client = app.test_client()
    _sign_in(client, "hospital1", "h1-clinician-1")
    for form in ({"code": "Haemoglobin", "value": "13.5", "unit": "g/dL"}, {"code": "", "value": "7", "unit": ""}):
        page = client.get("/records/new", base_url="https://localhost").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        data = {**form, "patient_id": PATIENT, "category": "laboratory", "csrf_token": token}
        assert client.post("/records/new", data=data, base_url="https://localhost").status_code == 302
    return session.created


def dataset_observations() -> dict[str, dict[str, Any]]:
    """The seeded records: one dataset row each as models' to_observation makes it, stored normalised."""
    from careledger_models.datasets import DATASETS, to_observation

    made = {}
    for name, load in DATASETS.items():
        data = load()
        features = dict(zip(data.features, data.frame.iloc[0].tolist(), strict=True))
        made[f"record/{name}"] = fhir.validate(to_observation(data, features))
        made[f"record/{name}-with-outcome"] = fhir.validate(to_observation(data, features, float(data.target.iloc[0])))
    return made


def corpus(tmp: Path) -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    for name, g in GRANTS.items():
        items[f"consent/{name}"] = fhir.consent(g)
        items[f"cli-audit-consents/{name}"] = cli_json(tmp, LedgerSession([], [g], []), "audit", "consents")
    everything = list(GRANTS.values())
    items["cli-audit-consents/all-shapes"] = cli_json(tmp, LedgerSession([], everything, []), "audit", "consents")
    items["cli-audit-consents/empty"] = cli_json(tmp, LedgerSession([], [], []), "audit", "consents")
    for name, e in EVENTS.items():
        items[f"audit-event/{name}"] = fhir.audit_event(e)
        items[f"cli-audit-log/{name}"] = cli_json(tmp, LedgerSession([e], [], []), "audit", "log", "--fhir")
    items["cli-audit-log/empty"] = cli_json(tmp, LedgerSession([], [], []), "audit", "log", "--fhir")
    large = LedgerSession(trail(LARGE_LOG), [], [])
    items[f"cli-audit-log/{LARGE_LOG}-events"] = cli_json(tmp, large, "audit", "log", "--fhir")
    several = LedgerSession(list(EVENTS.values()), [], [])
    items["cli-audit-log/all"] = cli_json(tmp, several, "audit", "log", "--all", "--fhir")
    items["cli-audit-log/requester"] = cli_json(tmp, several, "audit", "log", "--requester", CLINICIAN, "--fhir")
    items["provenance/inference"] = fhir.provenance(inference(1))
    items.update(fhir_api_documents(LedgerSession(trail(50), list(GRANTS.values()), [inference(1)])))
    items["portal-export/empty"] = portal_export(LedgerSession([], [], []))
    items["portal-export/full"] = portal_export(
        LedgerSession(list(EVENTS.values()) + trail(50), everything, [inference(i) for i in range(5)])
    )
    for i, observation in enumerate(hospital_form_observations()):
        items[f"record/hospital-form-{i}"] = observation
    items.update(dataset_observations())
    items[CONTROL] = {"resourceType": "Observation", "code": {"text": "no status"}}  # status is 1..1
    unknown = "https://profiles.example.org/StructureDefinition/unknown-consent"
    items[CONTROL_PROFILE] = {**fhir.consent(GRANTS["record"]), "meta": {"profile": [unknown]}}
    return items


# -- the run and its summary -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return corpus(tmp_path_factory.mktemp("fhir"))


@pytest.fixture(scope="module")
def reports(documents: dict[str, dict[str, Any]]) -> dict[str, Report]:
    return validate(documents, UNAVAILABLE_PROFILES)  # one JVM for the whole corpus


def _group(name: str) -> str:
    return name.split("/", 1)[0]


def _resource_type(issue: Issue, name: str, types: dict[str, str]) -> str:
    """The resource an issue sits in: the Bundle entry's ("Bundle.entry[3].resource/*Consent/g-1*/..."),
    else the document's own type."""
    inner = re.search(r"\.resource/\*(\w+)/", issue.location)
    return inner.group(1) if inner else types[name]


def _message(issue: Issue) -> str:
    # Codes, ids, hashes and entry numbers make each message unique; without them the distinct problems show.
    text = re.sub(r"([a-z]+:[^#\s'()]+)#[^')]*", r"\1#…", issue.message)
    text = re.sub(r"\b[0-9a-f]{32,64}\b|\[\d+\]", "…", text)
    return f"[{issue.message_id}] {text}" if issue.message_id else text


def summary(reports: dict[str, Report], types: dict[str, str], top_warnings: int = 15) -> str:
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    errors: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    for name, report in reports.items():
        if name in CONTROLS:
            continue
        groups[_group(name)].update(documents=1, errors=len(report.errors), warnings=len(report.warnings))
        for severity, issues in (("errors", report.errors), ("warnings", report.warnings)):
            for issue in issues:
                by_type[_resource_type(issue, name, types)][severity] += 1
        errors.update(_message(i) for i in report.errors)
        warnings.update(_message(i) for i in report.warnings)
    noted = sum(1 for n, r in reports.items() if n not in CONTROLS for i in r.information if CHECKED_BY in i.message)
    lines = [f"HAPI FHIR {engine_version()} (R4): {len(reports) - len(CONTROLS)} documents"]
    lines += [
        f"IHE profile claims the engine cannot check ({CHECKED_BY}): {noted} notes",
        "by emitter (documents, issues):",
    ]
    lines += [
        f"  {g:<20} {c['documents']:>3} docs {c['errors']:>6} errors {c['warnings']:>6} warnings"
        for g, c in sorted(groups.items())
    ]
    lines += ["by the resource type the issue is in:"]
    lines += [f"  {t:<20} {c['errors']:>6} errors {c['warnings']:>6} warnings" for t, c in sorted(by_type.items())]
    lines += [f"distinct errors ({len(errors)}):", *(f"  {n:>6}x {m}" for m, n in errors.most_common())]
    lines += [f"distinct warnings ({len(warnings)}), the first {top_warnings}:"]
    lines += [f"  {n:>6}x {m}" for m, n in warnings.most_common(top_warnings)]
    return "\n".join(lines)


def test_the_engine_rejects_a_known_invalid_resource(reports: dict[str, Report]) -> None:
    assert any("status" in i.location or "status" in i.message for i in reports[CONTROL].errors)


def test_only_the_profiles_checked_elsewhere_are_excused(
    documents: dict[str, dict[str, Any]], reports: dict[str, Report]
) -> None:
    """An unknown profile is an error, unless it is one of the IHE profiles tests/ihe_profiles.py checks;
    those claims show as notes, one per claiming resource at least."""
    assert any(i.message_id == UNKNOWN_PROFILE for i in reports[CONTROL_PROFILE].errors)
    for name, document in documents.items():
        if name in CONTROLS:
            continue
        claims = sum(1 for r in resources(document) if r["resourceType"] == "Consent" and pcf_level(r))
        notes = [i for i in reports[name].information if i.message_id == UNKNOWN_PROFILE and CHECKED_BY in i.message]
        assert len(notes) >= claims, name


def test_every_fhir_export_validates_without_errors(
    documents: dict[str, dict[str, Any]], reports: dict[str, Report]
) -> None:
    text = summary(reports, {name: str(doc["resourceType"]) for name, doc in documents.items()})
    print(text)  # shown with -s or -rP, and in the failure below
    failing = sorted(name for name, r in reports.items() if r.errors and name not in CONTROLS)
    assert not failing, f"{len(failing)} documents fail FHIR validation (first: {failing[:5]}):\n{text}"
