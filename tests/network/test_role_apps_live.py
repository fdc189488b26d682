"""The researcher app and the auditor app on the live network, through Flask's test client: each signs in its
own role only and loads its main pages; a model trained and registered through the researcher app is
approved through the auditor app (its metrics reproduced from the artifact, the policy applied by the
ledger); the whole trail is checked against the blocks from the auditor app."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from careledger.services import Session
from careledger_apps import create_auditor_app, create_research_app
from careledger_models.datasets import breast_cancer
from careledger_models.policies import ensure_policy
from careledger_models.train import train
from careledger_network import crypto as netcrypto
from careledger_network.network import Network
from careledger_protocol import Purpose

from .conftest import OBSERVATION, PASSPHRASE, Browser, WebUsers, eventually

pytestmark = pytest.mark.network


@dataclass
class RoleUsers:
    researcher: str  # of Hospital1
    auditor: str  # of the health authority


@pytest.fixture(scope="module")
def role_users(network: Network) -> RoleUsers:
    """A researcher and an auditor with passphrases, their keys registered."""
    run = uuid.uuid4().hex[:6]
    users = RoleUsers(f"h1-webr-{run}", f"ha-weba-{run}")
    for org_key, user, role in (
        ("hospital1", users.researcher, "researcher"),
        ("healthauthority", users.auditor, "auditor"),
    ):
        netcrypto.enroll_user(network.state, network.c.org(org_key), user, role, PASSPHRASE.encode())
        with Session.open(network.state / "profiles" / f"{org_key}.json", user, PASSPHRASE.encode()) as s:
            s.register()
    return users


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("role-app-models")


@pytest.fixture(scope="module")
def research_app(network: Network, model_dir: Path) -> Any:
    profiles = {o.key: str(network.state / "profiles" / f"{o.key}.json") for o in network.c.orgs if o.store_port}
    return create_research_app({"PROFILES": profiles, "MODEL_DIR": str(model_dir), "TESTING": True})


@pytest.fixture(scope="module")
def auditor_app(network: Network, model_dir: Path) -> Any:
    profile = network.state / "profiles" / f"{network.c.authority.key}.json"
    return create_auditor_app({"PROFILE": str(profile), "MODEL_DIR": str(model_dir), "TESTING": True})


@pytest.fixture(scope="module")
def authority(network: Network) -> Iterator[Session]:
    with Session.open(network.state / "profiles" / "healthauthority.json", "ha-auditor-1") as s:
        s.register()
        yield s


def _wait_for_job(browser: Browser, path: str, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = json.loads(browser.get(f"{path}/status").get_data(as_text=True))
        if status["over"] or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def _job_path(response: Any) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    match = re.search(r"(/jobs/[\w-]+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def test_each_app_signs_in_its_own_role_only(
    research_app: Any, auditor_app: Any, role_users: RoleUsers, web_users: WebUsers
) -> None:
    refused = Browser(research_app).login(web_users.clinician)
    assert refused.status_code == 403
    assert "This app is for researcher accounts." in refused.get_data(as_text=True)
    refused = Browser(auditor_app).login(role_users.researcher, org="healthauthority")  # not the authority's
    assert refused.status_code == 401
    assert Browser(research_app).login(role_users.researcher).status_code == 302
    assert Browser(auditor_app).login(role_users.auditor, org="healthauthority").status_code == 302


@dataclass
class Consented:
    patient_id: str  # a patient of this module's own, so other tests' records do not change the counts
    record_id: str


@pytest.fixture(scope="module")
def consented(role_users: RoleUsers, web_users: WebUsers, network: Network) -> Consented:
    """A patient enrolled here, with one laboratory record, consents to research by the researcher."""
    org = network.c.org("hospital1")
    patient = f"h1-webcohort-{uuid.uuid4().hex[:6]}"
    netcrypto.enroll_user(network.state, org, patient, "patient", PASSPHRASE.encode())
    profile = network.state / "profiles" / "hospital1.json"
    with Session.open(profile, patient, PASSPHRASE.encode()) as s:
        s.register()
    with Session.open(profile, web_users.clinician, PASSPHRASE.encode()) as clinician:
        record_id = clinician.create_record(f"{patient}@{org.msp_id}", OBSERVATION, category="laboratory")["id"]
    with Session.open(profile, patient, PASSPHRASE.encode()) as s:
        s.grant(
            f"{role_users.researcher}@{org.msp_id}",
            [Purpose.RESEARCH],
            "2099-01-01T00:00:00Z",
            categories=["laboratory"],
        )
    return Consented(f"{patient}@{org.msp_id}", record_id)


def test_the_researcher_app_shows_the_cohort_in_counts(
    research_app: Any, role_users: RoleUsers, web_users: WebUsers, consented: Consented
) -> None:
    browser = Browser(research_app)
    assert browser.login(role_users.researcher).status_code == 302
    page = browser.get("/").get_data(as_text=True)
    assert '<dd id="cohort-consents">1</dd>' in page
    assert "<td>laboratory</td><td>1</td>" in page
    assert consented.record_id not in page
    assert consented.patient_id not in page
    assert consented.patient_id.split("@")[0] not in page
    assert browser.get("/models").status_code == 200


def _new_public_seed(authority: Session, probe: Path) -> int:
    """A seed whose breast-cancer model is not registered yet (training is deterministic: the app will train
    the same artifact). The policy's bounds were chosen so that seeds 0..29 pass."""
    registered = {m["artifact_sha256"] for m in authority.models("breast-cancer")}
    for seed in range(30):
        if train(breast_cancer(), seed=seed, out_dir=probe).card["artifact_sha256"] not in registered:
            return seed
    pytest.skip("every breast-cancer seed from 0 to 29 is registered on this ledger already")


def test_a_model_trained_in_the_researcher_app_is_approved_in_the_auditor_app(
    research_app: Any, auditor_app: Any, role_users: RoleUsers, authority: Session, tmp_path: Path
) -> None:
    seed = _new_public_seed(authority, tmp_path)
    ensure_policy(authority, "breast-cancer")
    researcher = Browser(research_app)
    assert researcher.login(role_users.researcher).status_code == 302
    started = time.perf_counter()
    path = _job_path(researcher.post("/train", {"dataset": "breast-cancer", "source": "public", "seed": str(seed)}))
    assert _wait_for_job(researcher, path)["state"] == "done"
    assert "Register on the ledger" in researcher.get(path).get_data(as_text=True)
    assert researcher.post(f"{path}/register").status_code == 302
    mine = researcher.get("/models").get_data(as_text=True)
    assert "waiting for an auditor" in mine
    version = re.search(r"Registered as version ([\d.]+)", researcher.get(path).get_data(as_text=True))
    assert version, "the job page names the registered version"
    model_path = f"/models/breast-cancer/{version.group(1)}"

    auditor = Browser(auditor_app)
    assert auditor.login(role_users.auditor, org="healthauthority").status_code == 302
    eventually(lambda: model_path in auditor.get("/").get_data(as_text=True), "the new version is listed for approval")
    card = auditor.get(model_path).get_data(as_text=True)
    for shown in ("radius-small", "radius-medium", "radius-large", "Verify and approve", "The artifact is in this app"):
        assert shown in card
    approved = auditor.post(f"{model_path}/approve")
    assert approved.status_code == 302, approved.get_data(as_text=True)[:2000]
    page = auditor.get(model_path).get_data(as_text=True)
    assert "approved under approval policy version" in page
    assert authority.model("breast-cancer", version.group(1))["status"] == "approved"
    eventually(
        lambda: "approved" in researcher.get("/models").get_data(as_text=True), "the researcher sees it approved"
    )
    print(f"\ntrain, register and approve through the apps: {time.perf_counter() - started:.1f} s")


def test_the_auditor_app_reads_checks_and_exports_the_trail(
    auditor_app: Any, role_users: RoleUsers, consented: Consented
) -> None:
    auditor = Browser(auditor_app)
    assert auditor.login(role_users.auditor, org="healthauthority").status_code == 302
    for path in ("/", "/trail", "/trail?emergency=yes", "/export", "/emergencies"):
        response = auditor.get(path)
        assert response.status_code == 200, path
    patient_id = consented.patient_id
    trail = auditor.post("/trail", {"kind": "patient", "member": patient_id})
    assert trail.status_code == 200
    assert "Accesses to this patient's records" in trail.get_data(as_text=True)
    exported = json.loads(auditor.get("/export/trail.json").get_data(as_text=True))
    assert exported["resourceType"] == "Bundle"
    assert exported["entry"]
    one = auditor.post("/export", {"patient": patient_id})
    assert one.status_code == 200
    assert any(e["resource"]["resourceType"] == "Consent" for e in json.loads(one.get_data(as_text=True))["entry"])
    started = time.perf_counter()
    path = _job_path(auditor.post("/trail/check"))
    assert _wait_for_job(auditor, path)["state"] == "done"
    assert "The trail holds" in auditor.get(path).get_data(as_text=True)
    print(f"\nwhole trail checked against the blocks from the auditor app: {time.perf_counter() - started:.1f} s")
