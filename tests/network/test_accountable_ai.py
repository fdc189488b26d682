"""Accountable AI on the live network: approval is a policy the ledger enforces on reproduced metrics; an
inference is traced across both hospitals to its model, approval, access, consent and training run; a re-run
catches an output that differs from what the model gives; outcomes that contradict a model suspend it."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from careledger.cli import main
from careledger.errors import FailedPrecondition, InvalidArgument, NotAuthorized
from careledger.services import Session
from careledger_models.datasets import breast_cancer
from careledger_models.policies import BREAST_CANCER, ensure_policy
from careledger_models.runner import ModelRefused, ModelRunner, register
from careledger_models.seed import SeedResult, seed
from careledger_models.train import TrainedModel, train
from careledger_models.verify import reproduce, verify_and_approve
from careledger_network.network import Network
from careledger_protocol import sha256_of_json
from click.testing import CliRunner

from .conftest import inferences_seen, model_status_seen

pytestmark = pytest.mark.network
RUN = uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def scored(
    network: Network, sessions: dict[str, Session], tmp_path_factory: pytest.TempPathFactory
) -> tuple[SeedResult, TrainedModel, dict[str, Any], list[str]]:
    """Records of patients of both hospitals, a model approved under its policy, and its inferences' names."""
    seeded = seed("breast-cancer", records=20, patients=8, state=network.state, consent_mix=("granted",))
    trained = train(breast_cancer(), seed=43, out_dir=tmp_path_factory.mktemp("artifacts"))
    entry = register(sessions["researcher"], trained)
    ensure_policy(sessions["auditor"], entry["model_id"])
    if entry["status"] != "approved":
        # Registered through Hospital1's peer (ensure_policy may have written nothing through the authority's).
        model_status_seen(sessions["auditor"], entry["model_id"], entry["version"], entry["status"])
        entry = verify_and_approve(sessions["auditor"], entry["model_id"], entry["version"], trained.artifact)
    model_status_seen(sessions["clinician"], entry["model_id"], entry["version"], "approved")
    runner = ModelRunner(sessions["clinician"], trained.artifact, entry["model_id"], entry["version"])
    report = runner.run(sorted(seeded.records))
    names = [
        f"{item['tx_id']}:{item['n']}"
        for record in sorted(seeded.records)
        for item in sessions["clinician"].inferences_on(record)
        if item["tx_id"] in report.inference_tx_ids
    ]
    assert len(names) == len(seeded.records)
    return seeded, trained, entry, names


def _cli(network: Network, org: str, user: str, *args: str) -> tuple[int, Any]:
    started = time.perf_counter()
    result = CliRunner().invoke(
        main, ["--org", org, "--user", user, "--json", *args], env={"CARELEDGER_STATE": str(network.state)}
    )
    print(f"careledger {' '.join(args[:2])}: {time.perf_counter() - started:.2f} s")  # the figure reported
    output = result.output[result.output.index("{") :] if "{" in result.output else result.output
    return result.exit_code, json.loads(output) if output.startswith("{") else output


def test_a_trace_crosses_both_hospitals_and_every_link_holds(
    network: Network,
    sessions: dict[str, Session],
    scored: tuple[SeedResult, TrainedModel, dict[str, Any], list[str]],
) -> None:
    seeded, trained, entry, names = scored
    inferences_seen(sessions["auditor"], names)  # recorded through Hospital1's peer; traced through the authority's
    hospital2_patients = [p for p in seeded.patients if p.startswith("h2-")]
    assert hospital2_patients, "the seed spreads patients over both hospitals"
    name = next(n for n in names if _patient_of(network, n).startswith("h2-"))
    code, trace = _cli(
        network, "healthauthority", "ha-auditor-1", "model", "trace", name, "--artifact", str(trained.artifact)
    )
    assert code == 0, trace
    assert trace["holds"]
    links = {c["link"]: c for c in trace["checks"]}
    assert {"inference", "model", "approval", "access", "consent", "training", "artifact", "pipeline"} <= set(links)
    assert all(links[k]["ok"] for k in ("model", "approval", "access", "consent", "artifact", "pipeline"))
    assert f"policy v{entry['approval']['policy_version']}" in links["approval"]["detail"]
    assert trace["ledger"]["access"]["requester_org"] == "Hospital1MSP"
    assert trace["ledger"]["inference"]["patient_id"].endswith("@Hospital2MSP")


def _patient_of(network: Network, name: str) -> str:
    with Session.open(network.state / "profiles" / "healthauthority.json", "ha-auditor-1") as auditor:
        return auditor.trace_inference(name)["inference"]["patient_id"]


def test_inference_verify_reproduces_a_true_result_and_catches_a_changed_output(
    network: Network,
    sessions: dict[str, Session],
    scored: tuple[SeedResult, TrainedModel, dict[str, Any], list[str]],
) -> None:
    seeded, trained, entry, names = scored
    code, same = _cli(
        network, "hospital1", "h1-clinician-1", "inference", "verify", names[0], "--artifact", str(trained.artifact)
    )
    assert code == 0, same
    assert same["matches"]
    # A clinician's client that records an output the model did not give, with the true digests: the chaincode
    # cannot know, a re-run does.
    record_id = sorted(seeded.records)[0]
    clinician = sessions["clinician"]
    access = clinician.request_access([record_id], purpose="diagnosis-ai")
    recorded = clinician.trace_inference(names[0])["inference"]
    flipped = {"label": "negative" if recorded["output"]["label"] == "positive" else "positive", "probability": 0.5}
    batch = {
        **{k: entry[k] for k in ("model_id", "version", "artifact_sha256")},
        "access_tx_id": access["tx_id"],
        "inferences": [
            {k: recorded[k] for k in ("record_id", "ciphertext_sha256", "input_sha256", "explanation_sha256")}
        ],
    }
    lied = clinician.record_inferences(batch, {record_id: flipped}, {record_id: recorded["explanation"]})
    code, caught = _cli(
        network,
        "hospital1",
        "h1-clinician-1",
        "inference",
        "verify",
        f"{lied['tx_id']}:0",
        "--artifact",
        str(trained.artifact),
    )
    assert code == 5, caught
    assert any("the output differs" in m for m in caught["mismatches"])


def test_the_ledger_refuses_unreproduced_metrics_a_tampered_artifact_and_a_policy_violation(
    sessions: dict[str, Session], tmp_path: Path
) -> None:
    researcher, auditor = sessions["researcher"], sessions["auditor"]
    trained = train(breast_cancer(), seed=44, out_dir=tmp_path)
    trained.card["model_id"] = f"strict-{RUN}"
    entry = register(researcher, trained)
    auditor.set_approval_policy({**BREAST_CANCER, "model_id": entry["model_id"], "min_metrics": {"auc": 0.9999}})
    honest = reproduce(entry, trained.artifact)
    with pytest.raises(FailedPrecondition, match="do not reproduce"):
        auditor.approve_model(
            entry["model_id"], entry["version"], {**honest, "metrics": {**honest["metrics"], "auc": 0.5}}
        )
    with pytest.raises(NotAuthorized, match="not the registered artifact"):
        auditor.approve_model(entry["model_id"], entry["version"], {**honest, "artifact_sha256": sha256_of_json("x")})
    with pytest.raises(FailedPrecondition, match=r"below the policy's minimum 0\.9999"):
        auditor.approve_model(entry["model_id"], entry["version"], honest)
    assert auditor.model(entry["model_id"], entry["version"])["status"] == "registered"


def test_an_unbound_inference_is_refused(
    sessions: dict[str, Session], scored: tuple[SeedResult, TrainedModel, dict[str, Any], list[str]]
) -> None:
    seeded, _, entry, names = scored
    clinician = sessions["clinician"]
    record_id = sorted(seeded.records)[1]
    access = clinician.request_access([record_id], purpose="diagnosis-ai")
    recorded = clinician.trace_inference(names[1])["inference"]
    batch = {
        **{k: entry[k] for k in ("model_id", "version", "artifact_sha256")},
        "access_tx_id": access["tx_id"],
        "inferences": [
            {k: recorded[k] for k in ("record_id", "ciphertext_sha256", "input_sha256", "explanation_sha256")}
        ],
    }
    invented = {**recorded["explanation"], "bias": 9.0}  # not the explanation its digest names
    with pytest.raises(InvalidArgument, match="not the explanation"):
        clinician.record_inferences(batch, {record_id: recorded["output"]}, {record_id: invented})


def test_outcomes_that_contradict_the_model_suspend_it_until_it_is_approved_again(
    network: Network, sessions: dict[str, Session], tmp_path: Path
) -> None:
    researcher, auditor, clinician = sessions["researcher"], sessions["auditor"], sessions["clinician"]
    seeded = seed("breast-cancer", records=6, patients=3, state=network.state, consent_mix=("granted",))
    trained = train(breast_cancer(), seed=45, out_dir=tmp_path)
    trained.card["model_id"] = f"watched-{RUN}"
    entry = register(researcher, trained)
    monitoring = {"min_outcomes": 3, "min_metrics": {"accuracy": 0.6}, "max_metrics": {}}
    auditor.set_approval_policy({**BREAST_CANCER, "model_id": entry["model_id"], "monitoring": monitoring})
    entry = verify_and_approve(auditor, entry["model_id"], entry["version"], trained.artifact)
    model_status_seen(clinician, entry["model_id"], entry["version"], "approved")
    runner = ModelRunner(clinician, trained.artifact, entry["model_id"], entry["version"])
    report = runner.run(sorted(seeded.records))
    statuses = []
    for inference in report.inferences[:3]:
        name = next(
            f"{i['tx_id']}:{i['n']}"
            for i in clinician.inferences_on(inference.record_id)
            if i["tx_id"] in report.inference_tx_ids
        )
        wrong = 0 if inference.output["label"] == "positive" else 1  # the truth is always the other class
        statuses.append(clinician.record_outcome(name, wrong)["model_status"])
    assert statuses == ["approved", "approved", "suspended"]
    # Suspended through Hospital1's peer; the auditor reads and re-approves through the authority's.
    model_status_seen(auditor, entry["model_id"], entry["version"], "suspended")
    assert "live accuracy" in auditor.model(entry["model_id"], entry["version"])["suspended_reason"]
    with pytest.raises(ModelRefused, match="suspended"):
        ModelRunner(clinician, trained.artifact, entry["model_id"], entry["version"])
    verify_and_approve(auditor, entry["model_id"], entry["version"], trained.artifact)
    model_status_seen(clinician, entry["model_id"], entry["version"], "approved")
    assert ModelRunner(clinician, trained.artifact, entry["model_id"], entry["version"]).entry["status"] == "approved"
