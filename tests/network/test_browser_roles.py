"""The researcher's and the auditor's main flows in a real browser (Debian's Chromium, Playwright), against their
apps served over HTTPS on loopback and the live network: a researcher sees the cohort, trains a model in the
background, registers it; an auditor reviews its card, verifies and approves it, reads the trail and the
emergency queue; the researcher sees it approved. axe-core on every page the flow stops on, screenshots in
test-artifacts/flows/ (r-…), timings printed (pytest -s)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from careledger.services import Session
from careledger_apps import create_auditor_app, create_research_app
from careledger_models.policies import ensure_policy
from careledger_network import crypto as netcrypto
from careledger_network.network import Network
from playwright.sync_api import Browser, expect, sync_playwright

from .conftest import PASSPHRASE
from .test_browser import CHROMIUM, serve_as
from .test_browser_flows import ARTIFACTS, Run
from .test_role_apps_live import _new_public_seed

pytestmark = [pytest.mark.network, pytest.mark.slow]


@pytest.fixture(scope="module")
def staff(network: Network) -> dict[str, str]:
    """A Hospital1 researcher and a health-authority auditor, fresh, with passphrases and registered keys."""
    tag = uuid.uuid4().hex[:6]
    users = {"researcher": ("hospital1", f"h1-rolr-{tag}"), "auditor": ("healthauthority", f"ha-rola-{tag}")}
    for role, (org, user) in users.items():
        netcrypto.enroll_user(network.state, network.c.org(org), user, role, PASSPHRASE.encode())
        with Session.open(network.state / "profiles" / f"{org}.json", user, PASSPHRASE.encode()) as s:
            s.register()
    return {role: user for role, (_, user) in users.items()}


@pytest.fixture(scope="module")
def role_sites(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The researcher app and the auditor app, sharing one model folder (the auditor reproduces from it)."""
    profiles = network.state / "profiles"
    models = str(tmp_path_factory.mktemp("browser-role-models"))
    shown = {"ORG_NAMES": {o.msp_id: o.display_name for o in network.c.orgs}}
    research = create_research_app(
        {"PROFILES": {o: str(profiles / f"{o}.json") for o in ("hospital1", "hospital2")}, "MODEL_DIR": models, **shown}
    )
    auditor = create_auditor_app({"PROFILE": str(profiles / "healthauthority.json"), "MODEL_DIR": models, **shown})
    served = {
        name: serve_as(network, app, "healthauthority") for name, app in (("research", research), ("audit", auditor))
    }
    yield {name: url for name, (url, _) in served.items()}
    for _, server in served.values():
        server.shutdown()


@pytest.fixture(scope="module")
def chromium(role_sites: dict[str, str]) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # the flows' folder: this flow's shots are named r-…
    expect.set_options(timeout=60_000)  # a ledger write, or reproducing a model's metrics, takes seconds
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()
    expect.set_options(timeout=None)


@pytest.fixture
def run(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Run]:
    flow = Run(chromium, pytest.importorskip("axe_playwright_python.sync_playwright").Axe())
    yield flow
    flow.report(request.node.name)


def test_a_researcher_trains_and_registers_and_an_auditor_approves(
    run: Run, role_sites: dict[str, str], staff: dict[str, str], network: Network, tmp_path: Path
) -> None:
    research, audit = role_sites["research"], role_sites["audit"]
    with Session.open(network.state / "profiles" / "healthauthority.json", "ha-auditor-1") as authority:
        authority.register()
        ensure_policy(authority, "breast-cancer")
        seed = _new_public_seed(authority, tmp_path)
    researcher, auditor = run.person(), run.person()

    # The researcher sees the cohort in counts, and trains on the public dataset in the background.
    run.sign_in(researcher, research, staff["researcher"], org="hospital1", shot="r1-research-sign-in")
    run.check(researcher, "r2-research-home")
    expect(researcher.locator("#train-form")).to_be_visible()
    researcher.check("input[name=dataset][value=breast-cancer]")
    researcher.check("input[name=source][value=public]")
    researcher.fill("#train-seed", str(seed))
    with run.timed("action", "train a model (to its finished page)"):
        researcher.click("#train")  # the job page follows its progress and shows the result when it is done
        expect(researcher.locator("#register")).to_be_visible(timeout=300_000)
    run.check(researcher, "r3-training-finished")
    job_page = researcher.url
    with run.timed("action", "register it on the ledger"):
        researcher.click("#register")
    run.load(researcher, job_page, "r4-registered")
    version = re.search(r"Registered as version ([\d.]+)", researcher.content())
    assert version, "the job page names the registered version"
    run.load(researcher, f"{research}/models", "r5-my-models")
    expect(researcher.locator("main")).to_contain_text("waiting for an auditor")

    # The auditor reads the card and the policy, verifies and approves; then the trail and the emergencies.
    run.sign_in(auditor, audit, staff["auditor"], shot="r6-audit-sign-in")
    run.check(auditor, "r7-approvals")
    card = f"{audit}/models/breast-cancer/{version.group(1)}"  # registered through Hospital1's peer
    run.until(
        auditor, card, "#approve", "Verify and approve", "the registration reaches the authority", "r8-model-card"
    )
    with run.timed("action", "verify (reproduce the metrics) and approve"):
        auditor.click("#approve")
        expect(auditor.locator("main")).to_contain_text("approved under approval policy version")
    run.check(auditor, "r9-approved")
    run.load(auditor, f"{audit}/trail", "r10-trail")
    run.load(auditor, f"{audit}/emergencies", "r11-emergencies")

    run.until(researcher, f"{research}/models", "main", "approved", "the approval reaches Hospital1", "r12-approved")
    run.assert_accessible()
