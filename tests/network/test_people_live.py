"""Names people recognise, end to end in Debian's Chromium against both apps on the live network: a clinician
finds a patient by name and opens their page, which names them; the patient reads their own record in the portal
and sees the access log in words (name, role, hospital, record title, purpose, why). The names come from a
directory sealed under Hospital1's organization key (careledger.directory), never from the ledger. axe-core
checks each page on the way; screenshots go to test-artifacts/people/ (not committed)."""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from careledger.directory import Directory, Person
from careledger.services import Session
from careledger_apps import create_hospital_app, create_portal_app
from careledger_network.network import Network
from careledger_network.paths import REPO_ROOT

from .conftest import PASSPHRASE, WebUsers
from .test_browser import CHROMIUM, serve_as

pytestmark = [pytest.mark.network, pytest.mark.slow]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "people"
H1 = "Hospital1MSP"
PATIENT_NAME, DOCTOR_NAME = "Helena Quaresma Live", "Dr. Rui Valadares Live"
BORN = datetime.date(1971, 8, 23)
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@pytest.fixture(scope="module")
def directory(network: Network, web_users: WebUsers, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Hospital1's directory naming the web patient and clinician, published; and a grant from the patient."""
    root = tmp_path_factory.mktemp("directory")
    profile = network.state / "profiles" / "hospital1.json"
    patient_id, clinician_id = f"{web_users.patient}@{H1}", f"{web_users.clinician}@{H1}"
    with Session.open(profile, "h1-admin") as admin:
        sealed = Directory(root, H1, admin.encryption_key())
        sealed.put(
            Person(patient_id, PATIENT_NAME, "patient", birth_date=BORN),
            Person(clinician_id, DOCTOR_NAME, "staff", role="clinician", department="Cardiology"),
        )
        sealed.publish({patient_id: admin.member(patient_id)["public_key"]})
    until = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30)).strftime("%Y-%m-%dT00:00:00Z")
    with Session.open(profile, web_users.patient, PASSPHRASE.encode()) as patient:
        patient.grant(clinician_id, ["treatment"], until, record_ids=[web_users.record_id])
    return root


@pytest.fixture(scope="module")
def sites(network: Network, directory: Path) -> Iterator[dict[str, str]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    profiles = network.state / "profiles"
    names = {o.msp_id: o.display_name for o in network.c.orgs}
    shown = {"DIRECTORY_DIR": str(directory), "ORG_NAMES": names, "TIME_ZONE": "Europe/Lisbon"}
    hospital = create_hospital_app(
        {"PROFILE": str(profiles / "hospital1.json"), "ORG_KEY_FROM": "h1-admin", "MODEL_DIR": "unused", **shown}
    )
    portal = create_portal_app(
        {
            "PROFILES": {"hospital1": str(profiles / "hospital1.json"), "hospital2": str(profiles / "hospital2.json")},
            "GRANTEE_ORGS": ["Hospital1MSP", "Hospital2MSP"],
            **shown,
        }
    )
    hospital_url, hospital_server = serve_as(network, hospital, "hospital1")
    portal_url, portal_server = serve_as(network, portal, "healthauthority")
    yield {"hospital": hospital_url, "portal": portal_url}
    hospital_server.shutdown()
    portal_server.shutdown()


def test_search_by_name_then_the_patient_reads_their_record_and_the_log_in_words(
    sites: dict[str, str], web_users: WebUsers
) -> None:
    from playwright.sync_api import expect, sync_playwright

    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    problems: dict[str, str] = {}

    def check(page: Any, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        results = axe_module.Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
        if results.violations_count:
            problems[name] = results.generate_report()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        clinician = browser.new_context(ignore_https_errors=True).new_page()
        patient = browser.new_context(ignore_https_errors=True).new_page()

        def sign_in(page: Any, site: str, user: str) -> None:
            page.goto(f"{sites[site]}/login")
            page.fill("input[name=user]", user)
            page.fill("input[name=passphrase]", PASSPHRASE)
            page.click("#sign-in")

        # 1. The clinician finds the patient by name: what is open to them is said; the typed name is in no URL.
        sign_in(clinician, "hospital", web_users.clinician)
        clinician.goto(f"{sites['hospital']}/patients")
        clinician.fill("#search-q", "quaresma helena")
        clinician.click("form.search button[type=submit]")
        expect(clinician.locator("#found")).to_contain_text(PATIENT_NAME)
        expect(clinician.locator("#found")).to_contain_text("treatment")
        assert "quaresma" not in clinician.url.lower()
        check(clinician, "1-clinician-finds-patient")

        # 2. The patient page names the patient, with the date of birth, and what is open per record.
        clinician.locator("#found a", has_text=PATIENT_NAME).click()
        expect(clinician.locator("h1")).to_have_text(PATIENT_NAME)
        expect(clinician.locator("#patient-facts")).to_contain_text("23 August 1971")
        row = clinician.locator("#records tr", has_text=web_users.record_id)
        expect(row).to_contain_text("treatment")
        check(clinician, "2-patient-page")
        row.locator("button.open").click()
        expect(clinician.locator("h1")).to_contain_text("Hemoglobin")
        expect(clinician.locator("main")).to_contain_text(PATIENT_NAME)
        check(clinician, "3-clinician-opens-record")

        # 3. The patient sees the access in the notification area, reads their own record, then the log in words.
        sign_in(patient, "portal", web_users.patient)
        expect(patient.locator("#notifications")).to_contain_text(
            f"{DOCTOR_NAME} (clinician, Cardiology) opened your record"
        )
        check(patient, "4-patient-notifications")
        mine = patient.locator(f"#records tr:has(th[title^='record {web_users.record_id},'])")
        mine.locator("button.open").click()
        expect(patient.locator("h1")).to_contain_text("Hemoglobin")
        expect(patient.locator("#record-content")).to_contain_text("13.1")
        check(patient, "5-patient-reads-own-record")
        patient.goto(f"{sites['portal']}/log")
        # the record's title, read by the patient's portal, names the record the clinician opened
        opened = patient.locator("#log tbody tr", has_text=DOCTOR_NAME).filter(has_text="Hemoglobin").first
        expect(opened).to_contain_text("Cardiology")
        expect(opened).to_contain_text("Allowed by your consent")
        expect(patient.locator("#log tbody")).not_to_contain_text("You")  # granting is not "you opened it"
        check(patient, "6-patient-log-in-words")
        patient.goto(f"{sites['portal']}/log?own=yes")
        expect(patient.locator("#log tbody")).to_contain_text(f"to share it with {DOCTOR_NAME}")
        check(patient, "7-patient-log-with-own-accesses")
        browser.close()
    assert problems == {}, "\n\n".join(f"== {name}\n{report}" for name, report in problems.items())
