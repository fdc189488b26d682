"""Diagnostic models on the live network: registry, approval, the authorized runner, inference records."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from careledger import crypto
from careledger.services import Session
from careledger_models.datasets import breast_cancer
from careledger_models.policies import ensure_policy
from careledger_models.runner import ModelRefused, ModelRunner, register
from careledger_models.seed import SeedResult, seed
from careledger_models.train import TrainedModel, train
from careledger_models.verify import verify_and_approve
from careledger_network.network import Network

from tests.network.conftest import model_status_seen

pytestmark = pytest.mark.network


@pytest.fixture
def decrypted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The record ids that reach the decrypt path, in order (the instrumentation of the issue)."""
    seen: list[str] = []
    original = crypto.open_blob

    def counting_open(blob: bytes, key: bytes, record: crypto.RecordRef) -> bytes:
        seen.append(record.record_id)
        return original(blob, key, record)

    monkeypatch.setattr("careledger.crypto.open_blob", counting_open)
    return seen


@pytest.fixture(scope="module")
def seeded(network: Network) -> SeedResult:
    # 80 records over 10 patients: 3 of them consent to research, 24 records, enough to train on
    return seed("breast-cancer", records=80, patients=10, state=network.state)


@pytest.fixture(scope="module")
def approved(
    sessions: dict[str, Session], tmp_path_factory: pytest.TempPathFactory
) -> tuple[TrainedModel, dict[str, Any]]:
    trained = train(breast_cancer(), seed=21, out_dir=tmp_path_factory.mktemp("artifacts"))
    entry = register(sessions["researcher"], trained)
    ensure_policy(sessions["auditor"], entry["model_id"])
    if entry["status"] == "registered":
        # Registered through Hospital1's peer (ensure_policy may have written nothing through the authority's).
        model_status_seen(sessions["auditor"], entry["model_id"], entry["version"], "registered")
        entry = verify_and_approve(sessions["auditor"], entry["model_id"], entry["version"], trained.artifact)
    assert entry["status"] == "approved"
    # Approved through the authority's peer; the clinician runs it through Hospital1's, a block behind at times.
    model_status_seen(sessions["clinician"], entry["model_id"], entry["version"], "approved")
    return trained, entry


def test_only_authorized_records_are_decrypted_and_inferences_match_the_ledger(
    seeded: SeedResult,
    sessions: dict[str, Session],
    approved: tuple[TrainedModel, dict[str, Any]],
    decrypted: list[str],
) -> None:
    trained, entry = approved
    runner = ModelRunner(sessions["clinician"], trained.artifact, entry["model_id"], entry["version"], batch_size=10)
    report = runner.run(sorted(seeded.records))

    refused_patients = {p for p, branch in seeded.patients.items() if branch in ("refused", "revoked")}
    denied = {rid for rid, _ in report.denied}
    assert denied == {rid for rid, pid in seeded.records.items() if pid in refused_patients}
    assert denied  # the mix has refusals and revocations
    assert denied.isdisjoint(decrypted)  # never decrypted
    assert {i.record_id for i in report.inferences} == set(decrypted)
    assert len(report.inferences) + len(denied) == len(seeded.records)

    first = report.inferences[0]
    assert set(first.contributions) == {*runner.features, "bias"}
    ledger = sessions["clinician"].evaluate("ListInferencesByRecord", first.record_id, "10", "")["items"]
    mine = [e for e in ledger if e["tx_id"] in report.inference_tx_ids]
    assert len(mine) == 1
    assert mine[0]["output"] == first.output
    assert mine[0]["input_sha256"] == first.input_sha256
    assert mine[0]["explanation_sha256"] == first.explanation_sha256
    assert mine[0]["model_id"] == entry["model_id"]
    assert mine[0]["version"] == entry["version"]
    assert mine[0]["access_tx_id"] == first.access_tx_id


def test_every_record_i_may_use_is_found_from_the_grants(
    seeded: SeedResult, sessions: dict[str, Session], approved: tuple[TrainedModel, dict[str, Any]]
) -> None:
    trained, entry = approved
    runner = ModelRunner(sessions["clinician"], trained.artifact, entry["model_id"], entry["version"])
    usable = set(runner.authorized_records())
    granted = {rid for rid, pid in seeded.records.items() if seeded.patients[pid] == "granted"}
    assert granted <= usable
    revoked = {rid for rid, pid in seeded.records.items() if seeded.patients[pid] == "revoked"}
    assert usable.isdisjoint(revoked)


def test_unapproved_retired_and_tampered_models_are_refused(
    sessions: dict[str, Session], approved: tuple[TrainedModel, dict[str, Any]], tmp_path: Path
) -> None:
    trained, entry = approved
    tampered = tmp_path / "model.json"
    data = bytearray(trained.artifact.read_bytes())
    data[len(data) // 2] ^= 0x01  # one byte
    tampered.write_bytes(data)
    with pytest.raises(ModelRefused, match="does not match the approved"):
        ModelRunner(sessions["clinician"], tampered, entry["model_id"], entry["version"])

    retrained = train(breast_cancer(), seed=secrets.randbelow(10**6) + 100, out_dir=tmp_path)  # new each run
    newer = register(sessions["researcher"], retrained)
    assert newer["version"] != entry["version"]  # a new version, not an overwrite
    assert (
        sessions["clinician"].evaluate("GetModel", entry["model_id"], entry["version"])["artifact_sha256"]
        == trained.card["artifact_sha256"]
    )
    with pytest.raises(ModelRefused, match="not approved"):
        ModelRunner(sessions["clinician"], retrained.artifact, newer["model_id"], newer["version"])
    model_status_seen(sessions["auditor"], newer["model_id"], newer["version"], "registered")  # via Hospital1's peer
    verify_and_approve(sessions["auditor"], newer["model_id"], newer["version"], retrained.artifact)
    sessions["auditor"].submit("RetireModel", newer["model_id"], newer["version"], "superseded in test")
    # Retired through the auditor's peer; the clinician's may be a block behind.
    model_status_seen(sessions["clinician"], newer["model_id"], newer["version"], "retired")
    with pytest.raises(ModelRefused, match="retired"):
        ModelRunner(sessions["clinician"], retrained.artifact, newer["model_id"], newer["version"])
    with pytest.raises(ModelRefused, match="not in the registry"):
        ModelRunner(sessions["clinician"], trained.artifact, entry["model_id"], "9.9.9")


def test_training_on_the_ledger_cohort_uses_only_research_consents(
    seeded: SeedResult, sessions: dict[str, Session], decrypted: list[str], tmp_path: Path
) -> None:
    from careledger_models.datasets import fingerprint
    from careledger_models.train import train_on_cohort

    dataset = breast_cancer()
    trained, used = train_on_cohort(sessions["researcher"], dataset, seed=5, out_dir=tmp_path)
    mine = set(seeded.records)
    research_patients = {p for i, p in enumerate(seeded.patients) if i % 2 == 0 and seeded.patients[p] == "granted"}
    expected = {r for r, p in seeded.records.items() if p in research_patients}
    assert expected <= set(used["records"])  # every consented record of this seed is used
    assert set(used["records"]) & mine <= expected  # and no other of this seed
    assert set(decrypted) & mine <= expected  # records without a research consent are never decrypted
    assert len(used["records"]) == trained.card["parameters"]["cohort_records"]
    ours = [r for r in used["records"] if r in seeded.rows]
    for record_id in ours:  # what was decrypted is the dataset row the seed encrypted, outcome included
        row = used["records"].index(record_id)
        assert used["frame"].iloc[row].tolist() == dataset.frame.iloc[seeded.rows[record_id]].tolist()
        assert used["target"].iloc[row] == dataset.target.iloc[seeded.rows[record_id]]
    assert trained.card["parameters"]["cohort_fingerprint"] == fingerprint(used["frame"], used["target"])
