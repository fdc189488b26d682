"""Each role's main flows end to end in Debian's Chromium (headless, Playwright) against the web apps on the live
network, across both hospitals: a Hospital2 clinician asks a Hospital1 patient for access from the patient page
(approved in the portal's prefilled grant form, then the record opens) and again from a refusal (declined with a
reason, which the clinician reads); the clinician breaks the glass on another Hospital1 patient, Hospital1's
hospital app releases the key, the clinician reads the record, an auditor reviews the emergency in the auditor
app and the patient reads the emergency and its review; a patient names a Hospital2 person as proxy, who acts for
the patient and grants the clinician access, and the patient's log says it was done by the proxy for them.

axe-core checks every page the flows stop on; a screenshot of each goes to test-artifacts/flows/ (git-ignored);
page-load and action timings are printed per flow (pytest -s)."""

from __future__ import annotations

import datetime
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from careledger.services import Session
from careledger_apps import create_auditor_app, create_hospital_app, create_portal_app
from careledger_network import crypto as netcrypto
from careledger_network.network import Network
from careledger_network.paths import REPO_ROOT
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from .conftest import PASSPHRASE, record_seen
from .resources import observation
from .test_browser import CHROMIUM, serve_as

pytestmark = [pytest.mark.network, pytest.mark.slow]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "flows"
UNTIL = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
MESSAGE = "Your cardiologist at Hospital2 asks for your potassium results before the visit"
SECOND = "We would also like to run the approved risk model on this potassium result"
REASON = "I would rather discuss the model with my own doctor first"
JUSTIFICATION = "Patient unconscious in our emergency department; sodium history needed now"
NOTE = "Unconscious on arrival, no consent possible; the access was proportionate and brief"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]  # as test_people_live
RECORDS = {"asked": ("Potassium", 4.1, "mmol/L"), "emergency": ("Sodium", 139, "mmol/L")}
RECORDS["proxied"] = ("Hemoglobin", 12.9, "g/dL")


@dataclass
class Cast:
    users: dict[str, str]  # part in these flows -> the user id signed in with
    ids: dict[str, str]  # part -> ledger id
    records: dict[str, str]  # patient part -> their one record


@pytest.fixture(scope="module")
def cast(network: Network) -> Cast:
    """Fresh people with passphrases: a Hospital2 clinician, three Hospital1 patients (one record each, on both
    hospitals' peers), a Hospital2 person (role patient) to be a proxy, and an auditor of the health authority."""
    run = uuid.uuid4().hex[:6]
    parts = {
        "clinician": ("hospital2", f"h2-flowc-{run}", "clinician"),
        "asked": ("hospital1", f"h1-flowa-{run}", "patient"),
        "emergency": ("hospital1", f"h1-flowe-{run}", "patient"),
        "proxied": ("hospital1", f"h1-flowp-{run}", "patient"),
        "proxy": ("hospital2", f"h2-flowx-{run}", "patient"),
        "auditor": ("healthauthority", f"ha-flowa-{run}", "auditor"),
    }
    profiles = network.state / "profiles"
    for org, admin in (("hospital1", "h1-admin"), ("hospital2", "h2-admin")):
        with Session.open(profiles / f"{org}.json", admin) as s:
            s.register()  # the organization key (the hospital apps open org-wrapped keys with it): no-op if there
    for org, user, role in parts.values():
        netcrypto.enroll_user(network.state, network.c.org(org), user, role, PASSPHRASE.encode())
        with Session.open(profiles / f"{org}.json", user, PASSPHRASE.encode()) as s:
            s.register()
    ids = {part: f"{user}@{network.c.org(org).msp_id}" for part, (org, user, _) in parts.items()}
    with Session.open(profiles / "hospital1.json", "h1-clinician-1") as dr_h1:
        dr_h1.register()
        records = {p: dr_h1.create_record(ids[p], observation(*RECORDS[p]), "laboratory")["id"] for p in RECORDS}
    with Session.open(profiles / "hospital2.json", parts["clinician"][1], PASSPHRASE.encode()) as dr_h2:
        for rid in records.values():  # break-glass "all of the patient's records" is picked on Hospital2's peer
            record_seen(dr_h2, rid)
    return Cast({part: user for part, (_, user, _) in parts.items()}, ids, records)


@pytest.fixture(scope="module")
def sites(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Hospital2's hospital app, the portal and the auditor app over HTTPS on loopback; and Hospital1's hospital app
    running its emergency key releaser, as `make demo` runs it (EMERGENCY_RELEASER: h1-admin, the wallet identity
    holding the organization key). The custodian side is that thread, not the admin's "release" button, which would
    need a Hospital1 admin with a passphrase signed in to a served Hospital1 app; no browser visits this one: its
    first request (from Flask's test client) starts the thread."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    profiles = network.state / "profiles"
    models = str(tmp_path_factory.mktemp("flow-models"))
    shown = {"ORG_NAMES": {o.msp_id: o.display_name for o in network.c.orgs}}
    releaser = {"EMERGENCY_RELEASER": "h1-admin", "EMERGENCY_RELEASE_SECONDS": 1.0}
    custodian = create_hospital_app(
        {"PROFILE": str(profiles / "hospital1.json"), "ORG_KEY_FROM": "h1-admin", "MODEL_DIR": models, **releaser}
    )
    custodian.test_client().get("/login", base_url="https://localhost")  # starts the releaser thread
    hospital2 = {"PROFILE": str(profiles / "hospital2.json"), "ORG_KEY_FROM": "h2-admin", "MODEL_DIR": models}
    portal = {
        "PROFILES": {h: str(profiles / f"{h}.json") for h in ("hospital1", "hospital2")},
        "GRANTEE_ORGS": ["Hospital1MSP", "Hospital2MSP"],
        "STREAM_SECONDS": 30,
    }
    auditor = {"PROFILE": str(profiles / "healthauthority.json"), "MODEL_DIR": models}
    apps = {
        "hospital2": (create_hospital_app({**hospital2, **shown}), "hospital2"),
        "portal": (create_portal_app({**portal, **shown}), "healthauthority"),
        "auditor": (create_auditor_app({**auditor, **shown}), "healthauthority"),
    }
    urls: dict[str, str] = {}
    servers: list[Any] = []
    for name, (app, org) in apps.items():
        urls[name], server = serve_as(network, app, org)
        servers.append(server)
    yield urls
    custodian.extensions["careledger.emergency_releaser"].set()
    for server in servers:
        server.shutdown()


@pytest.fixture(scope="module")
def browser(sites: dict[str, str]) -> Iterator[Browser]:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    expect.set_options(timeout=30_000)  # ledger writes commit in seconds, not milliseconds
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()
    expect.set_options(timeout=None)


@dataclass
class Run:
    """One flow: its people's pages, timings (page loads, actions, waits for another peer) and axe's findings."""

    browser: Browser
    axe: Any
    times: list[tuple[str, str, float]] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)

    def person(self) -> Page:
        context = self.browser.new_context(ignore_https_errors=True)
        context.set_default_timeout(60_000)
        return context.new_page()

    @contextmanager
    def timed(self, kind: str, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.times.append((kind, name, time.perf_counter() - started))

    def check(self, page: Page, shot: str) -> None:
        """A screenshot, and axe-core's WCAG 2.2 A/AA and best-practice rules on the page as it is now."""
        page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
        results = self.axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
        if results.violations_count:
            self.problems[shot] = results.generate_report()

    def load(self, page: Page, url: str, shot: str = "") -> None:
        with self.timed("page", shot or url.split("/", 3)[-1]):
            page.goto(url)
        if shot:
            self.check(page, shot)

    def follow(self, page: Page, link: Locator, shot: str) -> None:
        with self.timed("page", shot):
            link.click()
        self.check(page, shot)

    def until(self, page: Page, url: str, selector: str, text: str, what: str, shot: str = "") -> None:
        """Load `url` until `selector` shows `text`: what another organization's peer committed arrives a moment
        later. The wait is timed as such; the last load as a page load."""
        deadline = time.monotonic() + 60
        with self.timed("wait", what):
            while True:
                started = time.perf_counter()
                page.goto(url)
                loaded = time.perf_counter() - started
                if page.locator(selector, has_text=text).count():
                    break
                assert time.monotonic() < deadline, f"{what}: still not shown after 60 s"
                page.wait_for_timeout(500)
        self.times.append(("page", shot or what, loaded))
        if shot:
            self.check(page, shot)

    def sign_in(self, page: Page, site: str, user: str, org: str = "", shot: str = "") -> None:
        self.load(page, f"{site}/login", shot)
        if org:  # the portal serves every hospital's patients: the sign-in names the hospital
            page.select_option("#login-org", org)
        page.fill("#login-user", user)
        page.fill("#login-passphrase", PASSPHRASE)
        with self.timed("action", f"sign in {user}"):
            page.click("#sign-in")
            expect(page.locator("form.sign-out")).to_be_visible()

    def report(self, flow: str) -> None:
        lines = [f"\n{flow}: seconds per page load, per action, per wait for another peer"]
        for kind in ("page", "action", "wait"):
            rows = [(name, s) for k, name, s in self.times if k == kind]
            if rows:
                values = sorted(s for _, s in rows)
                lines.append(f"  {kind}: {len(rows)}, median {values[len(values) // 2]:.2f}, max {values[-1]:.2f}")
                lines += [f"    {s:6.2f}  {name}" for name, s in rows]
        print("\n".join(lines))

    def assert_accessible(self) -> None:
        assert self.problems == {}, "\n\n".join(f"== {name}\n{report}" for name, report in self.problems.items())


@pytest.fixture
def run(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Run]:
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    flow = Run(browser, axe)
    yield flow
    flow.report(request.node.name)
    for context in browser.contexts:
        context.close()


def test_a_consent_request_approved_and_one_declined(run: Run, sites: dict[str, str], cast: Cast) -> None:
    h2, portal, record = sites["hospital2"], sites["portal"], cast.records["asked"]
    patient_page = f"{h2}/patients/{cast.ids['asked']}"
    dr, patient = run.person(), run.person()

    # The clinician finds nothing open on the patient page and asks for the patient's laboratory records.
    run.sign_in(dr, h2, cast.users["clinician"], shot="1a-hospital-sign-in")
    run.check(dr, "1b-hospital-home")
    run.load(dr, patient_page, "1c-patient-page-needs-consent")
    expect(dr.locator("#needs-consent")).to_be_visible()
    run.follow(dr, dr.locator("#patient-actions a", has_text="Ask the patient for access"), "1d-ask-form")
    dr.fill("#ask-categories", "laboratory")
    dr.check("#ask-form input[name=purpose][value=treatment]")
    dr.fill("#ask-until", UNTIL)
    dr.fill("#ask-message", MESSAGE)
    with run.timed("action", "send a consent request"):
        dr.click("#ask-form button[type=submit]")
        expect(dr.locator("#requests tbody tr").first).to_contain_text("Waiting for the patient")
    run.check(dr, "1e-my-requests-pending")

    # The patient reads the request with its message and approves it in the prefilled grant form.
    run.sign_in(patient, portal, cast.users["asked"], org="hospital1", shot="1f-portal-sign-in")
    run.until(patient, f"{portal}/requests", "section.request", MESSAGE, "the request reaches Hospital1", "1g-inbox")
    asked = patient.locator("section.request", has_text=MESSAGE)
    expect(asked).to_contain_text("all laboratory records")
    run.follow(patient, asked.locator("a", has_text="Approve"), "1h-approve-prefilled")
    expect(patient.locator("#approve-form input[name=category][value=laboratory]")).to_be_checked()
    expect(patient.locator("#approve-form input[name=purpose][value=treatment]")).to_be_checked()
    expect(patient.locator("#grant-until")).to_have_value(UNTIL)
    with run.timed("action", "grant and approve"):
        patient.click("#approve-form button[type=submit]")
        expect(patient.locator(".flash")).to_contain_text("the request is approved")
    run.check(patient, "1i-inbox-approved")

    # The clinician sees it approved and opens the record.
    run.until(dr, f"{h2}/requests", "#requests tbody tr", "Approved", "the approval reaches Hospital2")
    run.until(dr, patient_page, "#records tr", record, "the granted record is listed", "1j-patient-page-open")
    row = dr.locator("#records tr", has_text=record)
    expect(row).to_contain_text("treatment")
    with run.timed("action", "open a record (consent)"):
        row.locator("button.open").click()
        expect(dr.locator("#record-content")).to_contain_text("4.1")
    expect(dr.locator("h1")).to_contain_text("Potassium")
    run.check(dr, "1k-clinician-reads-record")

    # Opening it for another purpose is refused; the refusal's "ask the patient" comes prefilled with both.
    run.load(dr, patient_page)
    row.locator("select[name=purpose]").select_option("diagnosis-ai")
    with run.timed("action", "open for another purpose (refused)"):
        row.locator("button.open").click()
        expect(dr.locator("#reason")).to_be_visible()
    run.check(dr, "1l-refused-with-ways-on")
    run.follow(dr, dr.locator("#refusal-actions a", has_text="Ask the patient for access"), "1m-ask-from-refusal")
    expect(dr.locator(f"#ask-form input[name=record][value='{record}']")).to_be_checked()
    expect(dr.locator("#ask-form input[name=purpose][value=diagnosis-ai]")).to_be_checked()
    dr.fill("#ask-until", UNTIL)
    dr.fill("#ask-message", SECOND)
    with run.timed("action", "send a second consent request"):
        dr.click("#ask-form button[type=submit]")
        expect(dr.locator("#requests tbody tr").first).to_contain_text("Waiting for the patient")

    # The patient declines, saying why; the clinician reads the answer; the patient's log shows the reading.
    run.until(patient, f"{portal}/requests", "section.request", SECOND, "the second request reaches Hospital1")
    second = patient.locator("section.request", has_text=SECOND)
    run.follow(patient, second.locator("a", has_text="Decline"), "1n-decline")
    patient.fill("#answer-reason", REASON)
    with run.timed("action", "decline with a reason"):
        patient.click("#decline-form button[type=submit]")
        expect(patient.locator(".flash")).to_contain_text("Request declined")
    expect(patient.locator("#answered")).to_contain_text(REASON)
    run.check(patient, "1o-inbox-answered")
    run.until(dr, f"{h2}/requests", "#requests tbody tr", REASON, "the decline reaches Hospital2", "1p-declined")
    expect(dr.locator("#requests tbody tr", has_text=REASON)).to_contain_text("Declined")
    clinician = cast.ids["clinician"]
    run.until(patient, f"{portal}/log", "#log tbody tr", clinician, "the reading reaches the log", "1q-patient-log")
    expect(patient.locator("#log tbody tr", has_text="Allowed by your consent").first).to_contain_text(clinician)
    expect(patient.locator("#log tbody")).to_contain_text("Refused")
    run.assert_accessible()


def test_a_cross_hospital_emergency_its_review_and_the_patient_reading_both(
    run: Run, sites: dict[str, str], cast: Cast
) -> None:
    h2, portal, auditor_app = sites["hospital2"], sites["portal"], sites["auditor"]
    clinician = cast.ids["clinician"]
    dr, auditor, patient = run.person(), run.person(), run.person()

    # Break-glass from the patient page: allowed at once, but only Hospital1 holds the key.
    run.sign_in(dr, h2, cast.users["clinician"])
    run.load(dr, f"{h2}/patients/{cast.ids['emergency']}", "2a-patient-page")
    run.follow(dr, dr.locator("#patient-actions a", has_text="Emergency access"), "2b-emergency-form")
    expect(dr.locator("input[name=scope][value=all]")).to_be_checked()
    dr.fill("#patient-emergency-justification", JUSTIFICATION)
    with run.timed("action", "break the glass (another hospital's records)"):
        dr.get_by_role("button", name="Open under emergency").click()
        expect(dr.locator("#emergency-recorded")).to_be_visible()
    expect(dr.locator("#awaiting-keys")).to_be_visible()
    run.check(dr, "2c-emergency-awaiting-key")

    # Hospital1's app releases the key for the committed emergency; the clinician fetches and reads the record.
    deadline = time.monotonic() + 60
    with run.timed("wait", "Hospital1 releases the key; fetched"):
        while not dr.locator("section.record h2", has_text="Sodium").count():
            assert time.monotonic() < deadline, "Hospital1's releaser did not release the key within 60 s"
            dr.wait_for_timeout(1000)
            dr.click("#awaiting-keys button")
    expect(dr.locator("section.record", has_text="Sodium")).to_contain_text("139")
    run.check(dr, "2d-emergency-record-read")

    # An auditor of the health authority reviews it.
    run.sign_in(auditor, auditor_app, cast.users["auditor"], shot="2e-auditor-sign-in")
    run.check(auditor, "2f-auditor-home")
    queue = f"{auditor_app}/emergencies"
    run.until(auditor, queue, "section.emergency-review", clinician, "the emergency reaches the authority", "2g-queue")
    section = auditor.locator("section.emergency-review", has_text=clinician)
    section.locator("input[name=verdict][value=justified]").check()
    section.locator("textarea[name=note]").fill(NOTE)
    with run.timed("action", "review the emergency"):
        section.get_by_role("button", name="Save the review").click()
        expect(auditor.locator(".flash")).to_contain_text("Review saved")
    run.load(auditor, f"{queue}?which=all", "2h-auditor-reviewed")
    expect(auditor.locator("section.emergency-review", has_text=clinician)).to_contain_text(NOTE)

    # The patient is told, and reads the justification and the review.
    run.sign_in(patient, portal, cast.users["emergency"], org="hospital1")
    expect(patient.locator("#notifications")).to_contain_text("in an emergency")
    run.check(patient, "2i-patient-notified")
    mine = f"{portal}/emergencies"
    run.until(patient, mine, "section.emergency-review", NOTE, "the review reaches Hospital1", "2j-emergencies")
    seen = patient.locator("section.emergency-review", has_text=clinician)
    for words in ("opened", JUSTIFICATION, "Justified", NOTE):
        expect(seen).to_contain_text(words)
    run.load(patient, f"{portal}/log?emergency=only", "2k-patient-log-emergencies")
    row = patient.locator("#log tbody tr.emergency", has_text=clinician).first
    for words in ("EMERGENCY", JUSTIFICATION, "justified", NOTE):
        expect(row).to_contain_text(words)
    run.assert_accessible()


def test_a_proxy_grants_for_the_patient_and_the_log_says_by_whom(run: Run, sites: dict[str, str], cast: Cast) -> None:
    h2, portal, record = sites["hospital2"], sites["portal"], cast.records["proxied"]
    proxied, proxy_id, clinician = cast.ids["proxied"], cast.ids["proxy"], cast.ids["clinician"]
    patient, proxy, dr = run.person(), run.person(), run.person()

    # The patient names the proxy, with the rights to see and to grant, until a day.
    run.sign_in(patient, portal, cast.users["proxied"], org="hospital1")
    run.load(patient, f"{portal}/proxies", "3a-people-who-can-act-for-me")
    patient.fill("#proxy-proxy", proxy_id)
    for right in ("view", "grant"):
        patient.check(f"#proxy-form input[name=right][value={right}]")
    patient.fill("#proxy-until", UNTIL)
    with run.timed("action", "name a proxy"):
        patient.click("#name-proxy")
        expect(patient.locator(".flash")).to_contain_text("may now act for you")
    expect(patient.locator("#proxies tr", has_text=proxy_id)).to_contain_text("active")
    run.check(patient, "3b-proxy-named")

    # The proxy (of Hospital2) signs in as themselves, acts for the patient and grants the clinician access.
    run.sign_in(proxy, portal, cast.users["proxy"], org="hospital2")
    run.until(proxy, f"{portal}/acting", "#acting-for tr", proxied, "the relation reaches Hospital2", "3c-act-for")
    with run.timed("action", "act for the patient"):
        proxy.locator("#acting-for tr", has_text=proxied).locator("button").click()
        expect(proxy.locator(".acting-banner")).to_contain_text("You are acting for")
    expect(proxy.locator("#records")).to_contain_text(record)
    run.check(proxy, "3d-acting-their-records")
    their_access = proxy.locator(".acting-links").get_by_role("link", name="Their access", exact=True)  # not "…log"
    run.follow(proxy, their_access, "3e-acting-their-access")
    proxy.select_option("#proxy-grant-grantee", clinician)
    proxy.check(f"#proxy-grant-form input[name=record][value='{record}']")
    proxy.check("#proxy-grant-form input[name=purpose][value=treatment]")
    proxy.fill("#proxy-grant-until", UNTIL)
    with run.timed("action", "grant for the patient"):
        proxy.click("#proxy-grant")
        expect(proxy.locator(".flash")).to_contain_text(f"for {proxied}")
    expect(proxy.locator("#grants tr", has_text=clinician)).to_contain_text(f"by you for {proxied}")
    run.check(proxy, "3f-proxy-granted")

    # The clinician opens the record under that grant.
    run.sign_in(dr, h2, cast.users["clinician"])
    patient_page = f"{h2}/patients/{proxied}"
    run.until(dr, patient_page, "#records tr", record, "the proxy's grant reaches Hospital2", "3g-patient-page")
    with run.timed("action", "open a record (the proxy's grant)"):
        dr.locator("#records tr", has_text=record).locator("button.open").click()
        expect(dr.locator("#record-content")).to_contain_text("12.9")
    run.check(dr, "3h-clinician-reads-record")

    # The patient's log: the proxy's sharing "done by your proxy, for you", then the clinician's reading.
    run.until(patient, f"{portal}/log", "#log tbody tr", clinician, "the reading reaches the log", "3i-patient-log")
    expect(patient.locator("#log tbody tr", has_text=proxy_id).first).to_contain_text("done by your proxy, for you")
    expect(patient.locator("#log tbody tr", has_text=clinician).first).to_contain_text("Allowed by your consent")
    run.assert_accessible()
