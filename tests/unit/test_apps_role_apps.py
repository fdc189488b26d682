"""The researcher app and the auditor app offline (scripted sessions: role_app_sessions.py): who may sign in,
the cohort in counts, training as a background job on research consents only, registration, approvals that
reproduce the metrics first, the trail with its check against the blocks, exports, and the emergency queue's
placeholder."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from careledger.errors import FailedPrecondition, NotFound
from careledger_apps import create_auditor_app, create_research_app
from careledger_apps._jobs import JobBoard, JobRefused

from tests.unit import role_app_sessions
from tests.unit.app_sessions import BASE, PATIENT, Browser, Clinician, Patient, _wallet
from tests.unit.role_app_sessions import (
    COHORT,
    Auditor,
    Researcher,
    auditor,
    finish_jobs,
    job_path,
    research,
)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def _text(response: Any) -> str:
    return str(response.get_data(as_text=True))


# -- sign-in: each app for its own role ------------------------------------------------------------------------
def _sign_in(app: Any, org: str, user: str) -> Any:
    client = Browser.__new__(Browser)
    client.client = app.test_client()
    return client.client.post(
        "/login",
        data={"org": org, "user": user, "passphrase": "pw", "csrf_token": client.csrf("/login")},
        base_url=BASE,
    )


def _with_role(role: str) -> Any:
    session = Clinician(user=f"someone-{role}")
    session.wallet = _wallet(role)
    return session


@pytest.mark.parametrize("role", ["clinician", "patient", "auditor", "admin"])
def test_only_researchers_sign_into_the_researcher_app(role: str) -> None:
    app = create_research_app(
        {
            "PROFILES": {"hospital1": "x.json"},
            "MODEL_DIR": "unused",
            "TESTING": True,
            "OPEN_SESSION": lambda *a: _with_role(role),
        }
    )
    refused = _sign_in(app, "hospital1", f"someone-{role}")
    assert refused.status_code == 403
    assert "This app is for researcher accounts." in _text(refused)
    assert app.test_client().get("/", base_url=BASE).status_code == 302  # still signed out


@pytest.mark.parametrize("role", ["clinician", "patient", "researcher", "admin"])
def test_only_auditors_sign_into_the_auditor_app(role: str) -> None:
    app = create_auditor_app(
        {
            "PROFILE": "healthauthority.json",
            "MODEL_DIR": "unused",
            "TESTING": True,
            "OPEN_SESSION": lambda *a: _with_role(role),
        }
    )
    refused = _sign_in(app, "healthauthority", f"someone-{role}")
    assert refused.status_code == 403
    assert "This app is for auditor accounts." in _text(refused)


def test_the_right_roles_sign_in_and_see_their_menus(models: Path) -> None:
    browser, _, _ = research()
    page = _text(browser.page("/"))
    assert "Cohort and training" in page
    assert "My models" in page
    browser, _, _ = auditor(Auditor(models))
    page = _text(browser.page("/"))
    for entry in ("Model approvals", "Access trail", "Emergency reviews", "Exports"):
        assert entry in page
    assert 'href="/emergencies"' in page


def test_the_auditor_app_is_for_the_health_authority_only() -> None:
    app = create_auditor_app({"PROFILE": "healthauthority.json", "MODEL_DIR": "unused", "TESTING": True})
    page = _text(app.test_client().get("/login", base_url=BASE))
    assert 'name="org" value="healthauthority"' in page  # no other organization to choose


# -- the researcher app ---------------------------------------------------------------------------------------
def test_the_cohort_is_shown_in_counts_only() -> None:
    browser, researcher, _ = research()
    page = _text(browser.page("/"))
    assert '<dd id="cohort-consents">2</dd>' in page  # the two research grants; the treatment grant is not one
    assert f"{COHORT + 2} (1 no longer available" in page  # the erased record is counted, not named
    assert "<td>pathology</td><td>24</td>" in page
    assert "<td>laboratory</td><td>1</td>" in page
    for identifying in ("rec-r0", "rec-x1", "rec-t1", PATIENT, "h1-patient-1"):
        assert identifying not in page
    assert researcher.opened == []  # nothing is opened to count


def test_training_runs_in_the_background_on_research_consents_only(tmp_path: Path) -> None:
    browser, researcher, app = research(model_dir=tmp_path)
    started = browser.send("/train", {"dataset": "breast-cancer", "source": "cohort", "seed": "7"})
    assert started.status_code == 302  # the request answers at once: the job runs on its own thread
    path = job_path(started)
    finish_jobs(app)
    status = json.loads(_text(browser.page(f"{path}/status")))
    assert status == {"state": "done", "stage": "finished", "percent": None, "over": True}
    page = _text(browser.page(path))
    assert "trained on 24 consented records" in page
    assert "2 consented records could not be used" in page
    opened = [rid for ids, purpose in researcher.opened for rid in ids]
    assert {purpose for _, purpose in researcher.opened} == {"research"}
    assert "rec-t1" not in opened  # consented for treatment only: never asked for
    assert set(opened) == {f"rec-r{i}" for i in range(COHORT)} | {"rec-x1", "rec-x2"}
    assert list(tmp_path.glob("breast-cancer-*/model.json"))  # the artifact, where the other apps look

    registered = browser.send(f"{path}/register", {})
    assert registered.status_code == 302
    [entry] = researcher.registered
    assert entry["training"]["cohort"]["records"] == COHORT
    assert entry["version"] == "1.0.0"
    listing = _text(browser.page("/models"))
    assert "breast-cancer" in listing
    assert "waiting for an auditor" in listing
    assert "Registered as version 1.0.0" in _text(browser.page(path))


def test_training_on_the_public_data_opens_no_record(tmp_path: Path) -> None:
    browser, researcher, app = research(model_dir=tmp_path)
    path = job_path(browser.send("/train", {"dataset": "breast-cancer", "source": "public", "seed": "11"}))
    finish_jobs(app)
    assert "rows of the public dataset" in _text(browser.page(path))
    assert researcher.opened == []


def test_a_cohort_too_small_fails_in_words() -> None:
    browser, researcher, app = research()
    researcher.grants = []
    path = job_path(browser.send("/train", {"dataset": "diabetes-progression", "source": "cohort", "seed": "7"}))
    finish_jobs(app)
    page = _text(browser.page(path))
    assert "The cohort is too small: only 0 usable records" in page
    assert json.loads(_text(browser.page(f"{path}/status")))["state"] == "failed"


def test_the_training_form_says_each_problem_and_keeps_what_was_sent() -> None:
    browser, _, app = research()
    response = browser.send("/train", {"dataset": "breast-cancer", "source": "cohort", "seed": "seven"})
    assert response.status_code == 400
    page = _text(response)
    assert "Enter the seed as a whole number" in page
    assert 'value="seven"' in page
    assert 'value="breast-cancer" checked' in page
    assert app.extensions["careledger.jobs"].threads == []  # nothing started


def test_a_job_is_only_its_owners() -> None:
    browser, _, app = research()
    path = job_path(browser.send("/train", {"dataset": "breast-cancer", "source": "public", "seed": "7"}))
    finish_jobs(app)
    other = Researcher(user="h1-researcher-2")
    other.member_id = lambda: "h1-researcher-2@Hospital1MSP"  # type: ignore[method-assign]
    app.extensions["careledger.sessions"].open_session = lambda *a: other
    stranger = Browser(app, "hospital1", other.user)
    assert stranger.page(path).status_code == 404
    assert stranger.page(f"{path}/status").status_code == 404
    assert stranger.send(f"{path}/register", {}).status_code == 404
    assert other.registered == []


def test_one_running_job_per_account() -> None:
    board: JobBoard[int] = JobBoard(lambda exc: None)
    release = threading.Event()
    first = board.start("me", "training", "first", lambda job: int(release.wait(10)))
    with pytest.raises(JobRefused, match="still running"):
        board.start("me", "training", "second", lambda job: 2)
    other = board.start("you", "training", "theirs", lambda job: 3)  # waits its turn, then runs
    release.set()
    for thread in board.threads:
        thread.join(10)
    assert (first.state, first.result, other.result) == ("done", 1, 3)
    assert board.get("you", first.id) is None
    assert board.start("me", "training", "next", lambda job: 4).id != first.id


def test_a_registration_refused_by_the_ledger_says_why(tmp_path: Path) -> None:
    browser, researcher, app = research(model_dir=tmp_path)
    path = job_path(browser.send("/train", {"dataset": "breast-cancer", "source": "public", "seed": "3"}))
    finish_jobs(app)
    researcher.refuse = FailedPrecondition("x", reason="the cohort's access transactions are not research accesses")
    response = browser.send(f"{path}/register", {})
    assert response.status_code == 409
    assert "The ledger refused: something must happen first." in _text(response)


# -- the auditor app ------------------------------------------------------------------------------------------
def _model_path(session: Auditor) -> str:
    return f"/models/{session.entry['model_id']}/{session.entry['version']}"


def test_approving_reproduces_the_metrics_first(models: Path) -> None:
    browser, session, _ = auditor(Auditor(models))
    page = _text(browser.page(_model_path(session)))
    for shown in ("radius-small", "radius-medium", "radius-large", "auc, at least", "Verify and approve"):
        assert shown in page
    response = browser.send(f"{_model_path(session)}/approve", {})
    assert response.status_code == 302
    [(model_id, version, reproduced)] = session.approved
    assert (model_id, version) == ("breast-cancer", "1.0.0")
    assert reproduced["metrics"] == session.entry["metrics"]
    assert reproduced["subgroup_metrics"] == session.entry["subgroup_metrics"]
    assert "approved under approval policy version 2" in _text(browser.page(_model_path(session)))


def test_metrics_that_do_not_reproduce_are_not_approved(models: Path) -> None:
    browser, session, _ = auditor(Auditor(models))
    session.entry["metrics"] = {**session.entry["metrics"], "auc": 0.999999}
    response = browser.send(f"{_model_path(session)}/approve", {})
    assert response.status_code == 409
    page = _text(response)
    assert "the registered metrics do not reproduce" in page
    assert "auc" in page
    assert session.approved == []


def test_a_model_trained_on_consented_records_cannot_be_reproduced_here(models: Path) -> None:
    browser, session, _ = auditor(Auditor(models))
    session.entry["training"] = {**session.entry["training"], "data_source": "ledger-cohort"}
    response = browser.send(f"{_model_path(session)}/approve", {})
    assert response.status_code == 409
    assert "research access to those records" in _text(response)
    assert session.approved == []


def test_without_the_artifact_nothing_is_approved(models: Path, tmp_path: Path) -> None:
    session = Auditor(models)
    session.folder = tmp_path  # an empty model folder
    browser, session, _ = auditor(session)
    assert "not in this app's model folder" in _text(browser.page(_model_path(session)))
    response = browser.send(f"{_model_path(session)}/approve", {})
    assert response.status_code == 409
    assert session.approved == []


def test_the_policy_refusal_is_shown_with_the_ledgers_reason(models: Path) -> None:
    browser, session, _ = auditor(Auditor(models))
    session.refuse = FailedPrecondition("x", reason="policy v2: radius-medium has 12 people, fewer than 30")
    response = browser.send(f"{_model_path(session)}/approve", {})
    assert response.status_code == 409
    assert "radius-medium has 12 people, fewer than 30" in _text(response)


def test_the_whole_trail_pages_and_filters(models: Path) -> None:
    browser, _, _ = auditor(Auditor(models))
    first = _text(browser.page("/trail"))
    assert "59 events, page 1 of 2" in first
    assert "Older events" in first
    assert "1 event;" in _text(browser.page("/trail?emergency=yes"))
    assert "57 events, page 2 of 2" in _text(browser.page("/trail?decision=denied&page=2"))


def test_one_members_trail_comes_by_form_never_by_address(models: Path) -> None:
    browser, session, _ = auditor(Auditor(models))
    response = browser.send("/trail", {"kind": "patient", "member": PATIENT})
    assert response.status_code == 200
    assert session.asked == [("patient", PATIENT)]
    assert "Accesses to this patient's records" in _text(response)
    assert "Location" not in response.headers
    assert not re.search(r'(href|action)="[^"]*h1-patient-1', _text(response))  # in no link of the answer either
    bad = browser.send("/trail", {"kind": "patient", "member": "h1-patient-1"})
    assert bad.status_code == 400
    assert "with its organization" in _text(bad)
    assert session.asked == [("patient", PATIENT)]  # the ledger was not asked
    session.refuse = NotFound("x", reason=f"patient {PATIENT} is not registered")
    unknown = browser.send("/trail", {"kind": "patient", "member": PATIENT})
    assert unknown.status_code == 404
    assert "No member with this id is registered." in _text(unknown)


@pytest.mark.parametrize("tamper", [False, True])
def test_the_trail_is_checked_against_the_blocks_in_the_background(models: Path, tamper: bool) -> None:
    browser, _, app = auditor(Auditor(models), tamper=tamper)
    path = job_path(browser.send("/trail/check", {}))
    finish_jobs(app)
    page = _text(browser.page(path))
    if tamper:
        assert "The trail does NOT hold against the blocks." in page
        assert "block 1: its transactions do not match its data hash" in page
    else:
        assert "The trail holds" in page
        assert "<dt>Events checked</dt><dd>59</dd>" in page


def test_exports_are_fhir_bundles(models: Path) -> None:
    browser, session, _ = auditor(Auditor(models))
    whole = browser.page("/export/trail.json")
    assert whole.mimetype == "application/fhir+json"
    bundle = json.loads(_text(whole))
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["AuditEvent"] * len(session.events)
    one = browser.send("/export", {"patient": PATIENT})
    assert one.status_code == 200
    kinds = [e["resource"]["resourceType"] for e in json.loads(_text(one))["entry"]]
    assert kinds == ["Consent", "AuditEvent", "AuditEvent"]
    assert PATIENT not in one.headers["Content-Disposition"]
    assert browser.send("/export", {"patient": ""}).status_code == 400


def test_the_emergency_queue_lists_every_hospitals_emergencies_for_review(models: Path) -> None:
    browser, session, _ = auditor(Auditor(models))
    page = _text(browser.page("/emergencies"))
    assert ("emergencies", "") in session.asked  # every custodian's, not one hospital's
    assert "unconscious patient, allergy history needed now" in page  # the justification, for the reviewer
    assert "tx-e1"[:5] in page
    assert "Was this emergency access justified?" in page
    assert "Justified</strong>" not in page  # the reviewed one is not waiting
    everything = _text(browser.page("/emergencies?which=all"))
    assert "the record shows the patient arrived unconscious" in everything  # the review's note


def test_two_emergencies_by_one_clinician_in_one_minute_get_distinct_section_names(
    models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each review section is a landmark named by its title: same clinician and minute must still differ."""
    same_minute = [
        {**role_app_sessions.EMERGENCIES[0], "access_tx_id": tx, "time": t, "reviewed": False}
        for tx, t in (("aa11" * 16, "2026-03-01T03:00:05Z"), ("bb22" * 16, "2026-03-01T03:00:41Z"))
    ]
    monkeypatch.setattr(role_app_sessions, "EMERGENCIES", same_minute)
    browser, _, _ = auditor(Auditor(models))
    page = _text(browser.page("/emergencies"))
    titles = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r'<h2 id="emergency-[^"]+-title">(.*?)</h2>', page)]
    assert len(titles) == 2
    assert titles[0] != titles[1]
    assert sorted(t.rsplit("(ref. ", 1)[1] for t in titles) == ["aa11aa11)", "bb22bb22)"]


def test_reviewing_an_emergency_sends_the_note_in_the_form_only(models: Path) -> None:
    browser, session, _ = auditor(Auditor(models))
    short = browser.send("/emergencies", {"access_tx_id": "tx-e1", "verdict": "justified", "note": "fine"})
    assert short.status_code == 400
    assert "Write why, in at least" in _text(short)
    assert session.reviews == []
    note = "the patient was unconscious and no relative could be reached in time"
    saved = browser.send("/emergencies", {"access_tx_id": "tx-e1", "verdict": "unjustified", "note": note})
    assert saved.status_code == 302
    assert "note" not in saved.headers["Location"]
    assert "unconscious" not in saved.headers["Location"]
    assert session.reviews == [("tx-e1", "unjustified", note)]


def test_pages_need_sign_in() -> None:
    for app, paths in (
        (
            create_research_app({"PROFILES": {"hospital1": "x"}, "MODEL_DIR": "x", "TESTING": True}),
            ["/", "/models", "/jobs/x"],
        ),
        (
            create_auditor_app({"PROFILE": "h.json", "MODEL_DIR": "x", "TESTING": True}),
            ["/", "/trail", "/export", "/emergencies"],
        ),
    ):
        client = app.test_client()
        for path in paths:
            response = client.get(path, base_url=BASE)
            assert response.status_code == 302, path
            assert response.headers["Location"].endswith("/login")


def test_patients_cannot_use_the_new_apps_even_scripted() -> None:
    app = create_research_app(
        {
            "PROFILES": {"hospital1": "x.json"},
            "MODEL_DIR": "unused",
            "TESTING": True,
            "OPEN_SESSION": lambda *a: Patient(),
        }
    )
    assert _sign_in(app, "hospital1", "h1-patient-1").status_code == 403
