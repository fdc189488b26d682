"""End to end in a real browser: Debian's Chromium, headless, driven by Playwright, against both apps served
over HTTPS on loopback. A patient grants a clinician access → the clinician opens the record and runs the
model → the patient sees both events appear live → the patient revokes → the clinician is refused with
the reason. Screenshots of each step go to test-artifacts/browser/ (not committed)."""

from __future__ import annotations

import datetime
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from careledger.services import Session
from careledger_apps import create_hospital_app, create_portal_app
from careledger_network.network import Network
from careledger_network.paths import REPO_ROOT

from .conftest import PASSPHRASE, WebUsers, model_status_seen

pytestmark = [pytest.mark.network, pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"


def serve_as(network: Network, app: Any, org: str) -> tuple[str, Any]:
    """Serve `app` over HTTPS on loopback with `org`'s app certificate (the browser tests share it); its URL and
    server (shut it down after)."""
    from werkzeug.serving import make_server

    tls = network.state / "crypto" / org / "app"
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, ssl_context=(str(tls / "server.crt"), str(tls / "server.key"))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"https://127.0.0.1:{server.server_port}", server


@pytest.fixture(scope="module")
def model(network: Network, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from careledger_models.datasets import breast_cancer
    from careledger_models.policies import ensure_policy
    from careledger_models.runner import register
    from careledger_models.train import train
    from careledger_models.verify import verify_and_approve

    artifacts = tmp_path_factory.mktemp("models")
    # A seed of its own: a new model version each run, registered with its training run and approved under
    # its policy (an artifact registered by an earlier session would keep that session's registry entry).
    trained = train(breast_cancer(), seed=secrets.randbelow(10**6) + 1000, out_dir=artifacts)
    profiles = network.state / "profiles"
    with Session.open(profiles / "hospital1.json", "h1-researcher-1") as researcher:
        researcher.register()
        entry = register(researcher, trained)
    if entry["status"] == "registered":
        with Session.open(profiles / "healthauthority.json", "ha-auditor-1") as auditor:
            auditor.register()
            ensure_policy(auditor, entry["model_id"])
            model_status_seen(auditor, entry["model_id"], entry["version"], "registered")  # via Hospital1's peer
            entry = verify_and_approve(auditor, entry["model_id"], entry["version"], trained.artifact)
    return artifacts, entry


@pytest.fixture(scope="module")
def sites(network: Network, model: tuple[Path, dict[str, Any]]) -> Iterator[dict[str, str]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    profiles = network.state / "profiles"
    hospital = create_hospital_app(
        {"PROFILE": str(profiles / "hospital1.json"), "ORG_KEY_FROM": "h1-admin", "MODEL_DIR": str(model[0])}
    )
    portal = create_portal_app(
        {
            "PROFILES": {"hospital1": str(profiles / "hospital1.json"), "hospital2": str(profiles / "hospital2.json")},
            "GRANTEE_ORGS": ["Hospital1MSP", "Hospital2MSP"],
        }
    )
    hospital_url, hospital_server = serve_as(network, hospital, "hospital1")
    portal_url, portal_server = serve_as(network, portal, "healthauthority")
    yield {"hospital": hospital_url, "portal": portal_url}
    hospital_server.shutdown()
    portal_server.shutdown()


@pytest.fixture(scope="module")
def model_record(network: Network, web_users: WebUsers) -> str:
    """A breast-cancer record of the web patient, so the model has something to run on."""
    from careledger_models.datasets import breast_cancer, to_observation

    dataset = breast_cancer()
    features = dict(zip(dataset.features, dataset.frame.iloc[3].tolist(), strict=True))
    with Session.open(
        network.state / "profiles" / "hospital1.json", web_users.clinician, PASSPHRASE.encode()
    ) as clinician:
        return str(
            clinician.create_record(web_users.patient, to_observation(dataset, features), dataset.category)["id"]
        )


def test_grant_open_run_live_log_revoke_refuse(
    sites: dict[str, str], web_users: WebUsers, model_record: str, model: tuple[Path, dict[str, Any]]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        patient = browser.new_context(ignore_https_errors=True).new_page()
        clinician = browser.new_context(ignore_https_errors=True).new_page()

        def sign_in(page: Any, site: str, user: str) -> None:
            page.goto(f"{sites[site]}/login")
            page.fill("input[name=user]", user)
            page.fill("input[name=passphrase]", PASSPHRASE)
            page.click("#sign-in")

        # 1. The patient grants the clinician treatment and diagnosis-ai access to the record.
        sign_in(patient, "portal", web_users.patient)
        patient.goto(f"{sites['portal']}/grants")
        patient.select_option("select[name=grantee]", f"{web_users.clinician}@Hospital1MSP")  # ledger ids
        patient.check(f"input[name=record][value='{model_record}']")
        patient.check("input[name=purpose][value=treatment]")
        patient.check("input[name=purpose][value=diagnosis-ai]")
        patient.fill("input[name=until]", (datetime.date.today() + datetime.timedelta(days=30)).isoformat())
        patient.click("#grant")
        expect(patient.locator(".flash")).to_contain_text(f"Access granted to {web_users.clinician}")
        patient.screenshot(path=str(ARTIFACTS / "1-patient-grants.png"), full_page=True)

        # The patient watches the live access log.
        patient.goto(f"{sites['portal']}/log")
        expect(patient.locator("#live-status")).to_contain_text("Live", timeout=10_000)

        # 2. The clinician opens the record, then runs the approved model on it.
        sign_in(clinician, "hospital", web_users.clinician)
        expect(clinician.locator("#patients")).to_contain_text(web_users.patient)
        clinician.click(f"text={web_users.patient}")
        patient_page = clinician.url
        clinician.locator("tr", has_text=model_record).locator("button.open").click()
        expect(clinician.locator("#record-content")).to_contain_text("mean radius")
        clinician.screenshot(path=str(ARTIFACTS / "2-clinician-opens.png"), full_page=True)
        clinician.goto(f"{sites['hospital']}/models")
        entry = model[1]
        section = clinician.locator("section.model", has_text=f"{entry['model_id']} {entry['version']}")
        section.locator("textarea[name=record_ids]").fill(model_record)
        section.locator("button.run").click()
        expect(clinician.locator("h1")).to_contain_text("1 scored")
        expect(clinician.locator("svg.chart")).to_be_visible()
        clinician.screenshot(path=str(ARTIFACTS / "3-clinician-runs-model.png"), full_page=True)

        # 3. Both events appear live on the patient's page (no reload).
        expect(patient.locator("tr.live", has_text="treatment")).to_have_count(1, timeout=15_000)
        expect(patient.locator("tr.live.inference")).to_have_count(1, timeout=15_000)
        patient.screenshot(path=str(ARTIFACTS / "4-patient-sees-live-events.png"), full_page=True)

        # The patient reads the model card: approval, validation for people like them, the result explained.
        patient.goto(f"{sites['portal']}/models")
        patient.locator("#inferences a", has_text="model card").first.click()
        expect(patient.locator("#result")).to_contain_text("The model gave the result")
        expect(patient.locator("#model")).to_contain_text("under approval policy version")
        expect(patient.locator("#validation")).to_contain_text("People like you")
        expect(patient.locator("figcaption")).to_contain_text("red bars raised it")
        expect(patient.locator("#trail li.fails")).to_have_count(0)
        patient.screenshot(path=str(ARTIFACTS / "4b-patient-model-card.png"), full_page=True)

        # 4. The patient revokes; 5. the clinician is refused, with the reason.
        patient.goto(f"{sites['portal']}/grants")
        patient.locator("tr", has_text=web_users.clinician).locator("button.revoke").first.click()
        patient.click("#confirm-revoke")  # revoking asks first, on a page of its own
        expect(patient.locator(".flash")).to_contain_text("revoked")
        patient.screenshot(path=str(ARTIFACTS / "5-patient-revokes.png"), full_page=True)
        clinician.goto(patient_page)
        clinician.locator("tr", has_text=model_record).locator("button.open").click()
        expect(clinician.locator("#reason")).to_contain_text("no consent from the patient covers this record")
        clinician.screenshot(path=str(ARTIFACTS / "6-clinician-refused.png"), full_page=True)
        browser.close()
    assert sorted(p.name for p in ARTIFACTS.glob("*.png")) == [
        "1-patient-grants.png",
        "2-clinician-opens.png",
        "3-clinician-runs-model.png",
        "4-patient-sees-live-events.png",
        "4b-patient-model-card.png",
        "5-patient-revokes.png",
        "6-clinician-refused.png",
    ]
