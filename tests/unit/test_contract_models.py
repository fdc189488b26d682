"""The healthcare contract on the in-memory ledger: the model registry, inference records and what binds them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from careledger_protocol import sha256_of_json

from .chaincode_helpers import (
    SALT,
    World,
    approve,
    digest,
    explanation,
    inference_transient,
    reproduction,
    training_run,
)

MODEL = "breast-cancer-xgb"
OUTPUT = {"label": "positive", "probability": 0.991}


@pytest.fixture
def w() -> World:
    return World()


def model_doc(version: str = "1.0.0") -> dict[str, Any]:
    return {
        "model_id": MODEL,
        "version": version,
        "artifact_sha256": digest("artifact" + version),
        "format": "xgboost-json",
        "training_data_fingerprint": digest("rows"),
        "feature_schema": [{"name": "mean radius", "type": "float", "unit": "mm", "min": 0, "max": 50}],
        "parameters": {"max_depth": 4, "seed": 7},
        "metrics": {"auc": 0.99, "accuracy": 0.96},
        "subgroup_metrics": {"large-tumours": {"auc": 0.97}},
        "code_ref": "git:abc123",
        "training": training_run([{"name": "mean radius", "type": "float", "unit": "mm", "min": 0, "max": 50}]),
    }


def test_model_lifecycle(w: World) -> None:
    w.dr_h1.refused("NOT_AUTHORIZED", "RegisterModel", model_doc())
    assert w.researcher.ok("RegisterModel", model_doc())["status"] == "registered"
    w.researcher.refused("CONFLICT", "RegisterModel", model_doc())
    w.h1_auditor.refused("NOT_AUTHORIZED", "ApproveModel", MODEL, "1.0.0", reproduction(model_doc()))
    w.researcher.refused("NOT_AUTHORIZED", "ApproveModel", MODEL, "1.0.0", reproduction(model_doc()))
    assert approve(w, model_doc())["status"] == "approved"
    w.auditor.refused("FAILED_PRECONDITION", "ApproveModel", MODEL, "1.0.0", reproduction(model_doc()))
    assert w.auditor.ok("RetireModel", MODEL, "1.0.0", "superseded")["status"] == "retired"
    w.auditor.refused("FAILED_PRECONDITION", "RetireModel", MODEL, "1.0.0", "again")
    w.researcher.ok("RegisterModel", model_doc("1.1.0"))
    assert [m["version"] for m in w.dr_h2.ok("ListModels", MODEL, "10", "")["items"]] == ["1.0.0", "1.1.0"]
    w.dr_h2.refused("NOT_FOUND", "GetModel", MODEL, "9.9.9")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m.update(version="v1"),
        lambda m: m.update(format="pickle"),
        lambda m: m.update(feature_schema=[]),
        lambda m: m.update(metrics={"auc": "high"}),
        lambda m: m.update(feature_schema=[{"name": "x", "type": "complex"}]),
        lambda m: m.update(parameters={"blob": "x" * 20000}),
    ],
)
def test_model_validation(w: World, mutate: Any) -> None:
    doc = model_doc()
    mutate(doc)
    w.researcher.refused("INVALID_ARGUMENT", "RegisterModel", doc)


def _setup(w: World, purposes: list[str]) -> tuple[str, str]:
    w.create()
    grant = w.give(w.dr_h2.id, ["rec-1"], purposes=purposes)
    w.researcher.ok("RegisterModel", model_doc())
    txid = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": purposes[0]})["tx_id"]
    return txid, grant["id"]


def _batch(txid: str, record: str = "rec-1", **changes: Any) -> dict[str, Any]:
    inference = {
        "record_id": record,
        "ciphertext_sha256": digest(record),
        "input_sha256": digest("in"),
        "explanation_sha256": sha256_of_json(explanation("mean radius")),
    }
    inference.update(changes.pop("inference", {}))
    return {
        "model_id": MODEL,
        "version": "1.0.0",
        "artifact_sha256": digest("artifact1.0.0"),
        "access_tx_id": txid,
        "inferences": [inference],
        **changes,
    }


def _outputs(record: str = "rec-1", output: Any = None) -> dict[str, Any]:
    return inference_transient({record: OUTPUT if output is None else output})


def test_inferences_need_an_approved_model(w: World) -> None:
    txid, _ = _setup(w, ["diagnosis-ai"])
    message = w.dr_h2.refused("FAILED_PRECONDITION", "RecordInferences", _batch(txid), transient=_outputs())
    assert "not approved" in message
    approve(w, model_doc())
    assert w.dr_h2.ok("RecordInferences", _batch(txid), transient=_outputs())["count"] == 1
    w.auditor.ok("RetireModel", MODEL, "1.0.0", "drift")
    w.dr_h2.refused("FAILED_PRECONDITION", "RecordInferences", _batch(txid), transient=_outputs())


def test_inferences_listed_per_record_and_patient_with_outputs_kept_private(w: World) -> None:
    txid, _ = _setup(w, ["diagnosis-ai"])
    approve(w, model_doc())
    w.dr_h2.ok("RecordInferences", _batch(txid), transient=_outputs())
    by_patient = w.alice.ok("ListInferencesByPatient", w.alice.id, "10", "")["items"]
    assert by_patient[0]["output"] == OUTPUT
    assert by_patient[0]["explanation"] == explanation("mean radius")
    assert by_patient[0]["access_tx_id"] == txid
    assert w.dr_h1.ok("ListInferencesByRecord", "rec-1", "10", "")["items"] == by_patient
    w.bob.refused("NOT_AUTHORIZED", "ListInferencesByPatient", w.alice.id, "10", "")
    assert not any(block.contains(b"0.991") for block in w.ledger.blocks)


@pytest.mark.parametrize(
    ("batch_changes", "transient", "code", "message"),
    [
        ({"inference": {"input_sha256": "0" * 64}}, None, "INVALID_ARGUMENT", "placeholder"),
        ({"inference": {"explanation_sha256": "0" * 64}}, None, "INVALID_ARGUMENT", "placeholder"),
        ({"inference": {"explanation_sha256": digest("in")}}, None, "INVALID_ARGUMENT", "the same"),
        ({"inference": {"ciphertext_sha256": digest("another version")}}, None, "NOT_AUTHORIZED", "version"),
        ({"artifact_sha256": digest("some other artifact")}, None, "NOT_AUTHORIZED", "approved artifact"),
        ({"outputs": {"rec-1": OUTPUT}}, None, "INVALID_ARGUMENT", "transient"),
        (
            {},
            {"outputs": {"rec-1": {"label": "positive", "probability": 7}}, "salt": SALT},
            "INVALID_ARGUMENT",
            "0 to 1",
        ),
        ({}, {"outputs": {"rec-1": {"anything": "goes"}}, "salt": SALT}, "INVALID_ARGUMENT", "missing"),
        ({}, {"outputs": {}, "salt": SALT}, "INVALID_ARGUMENT", "exactly"),
        ({}, {"outputs": {"rec-1": OUTPUT}}, "INVALID_ARGUMENT", "salt"),
        ({}, {"outputs": {"rec-1": OUTPUT}, "salt": SALT}, "INVALID_ARGUMENT", "'explanations'"),
        (
            {},
            {**_outputs(), "explanations": {"rec-1": {**explanation("mean radius"), "bias": 0.5}}},
            "INVALID_ARGUMENT",
            "not the explanation its explanation_sha256 names",
        ),
        (
            {},
            {**_outputs(), "explanations": {"rec-1": explanation("another feature")}},
            "INVALID_ARGUMENT",
            "each of the model's features",
        ),
    ],
)
def test_unbound_or_malformed_inferences_are_refused(
    w: World, batch_changes: dict[str, Any], transient: dict[str, Any] | None, code: str, message: str
) -> None:
    """Finding 9: an invented output with all-zero hashes was accepted."""
    txid, _ = _setup(w, ["diagnosis-ai"])
    approve(w, model_doc())
    refusal = w.dr_h2.refused(
        code, "RecordInferences", _batch(txid, **batch_changes), transient=transient or _outputs()
    )
    assert message in refusal


def test_an_erased_records_inference_outputs_are_shredded(w: World) -> None:
    txid, _ = _setup(w, ["diagnosis-ai"])
    approve(w, model_doc())
    w.dr_h2.ok("RecordInferences", _batch(txid), transient=_outputs())
    w.alice.ok("EraseRecord", "rec-1")
    items = w.alice.ok("ListInferencesByPatient", w.alice.id, "10", "")["items"]
    assert items[0]["output"] is None
    assert not any(json.dumps(OUTPUT).encode() in v for v in w.ledger.private.get("careledger-private", {}).values())


def test_inferences_need_a_diagnosis_ai_decision_by_the_caller(w: World) -> None:
    txid, _ = _setup(w, ["treatment"])
    approve(w, model_doc())
    assert "diagnosis-ai" in w.dr_h2.refused("NOT_AUTHORIZED", "RecordInferences", _batch(txid), transient=_outputs())
    w.dr_h1.refused("NOT_AUTHORIZED", "RecordInferences", _batch(txid), transient=_outputs())
    w.dr_h2.refused("NOT_FOUND", "RecordInferences", _batch("0" * 64), transient=_outputs())


@pytest.mark.parametrize(
    ("second_grant", "lapse", "recorded"),
    [
        (None, "revoke", False),
        ("to the clinician", "revoke", True),  # another current consent still covers the record
        ("to the organization", "revoke", True),
        ("for treatment only", "revoke", False),
    ],
)
def test_inferences_after_the_deciding_consent_lapsed(
    w: World, second_grant: str | None, lapse: str, recorded: bool
) -> None:
    txid, grant_id = _setup(w, ["diagnosis-ai"])
    approve(w, model_doc())
    if second_grant == "to the clinician":
        w.give(w.dr_h2.id, ["rec-1"], purposes=["diagnosis-ai", "treatment"])
    elif second_grant == "to the organization":
        w.give("org:Hospital2MSP", ["rec-1"], purposes=["diagnosis-ai"])
    elif second_grant == "for treatment only":
        w.give(w.dr_h2.id, ["rec-1"], purposes=["treatment"])
    w.alice.ok("RevokeConsent", grant_id)
    if recorded:
        assert w.dr_h2.ok("RecordInferences", _batch(txid), transient=_outputs())["count"] == 1
    else:
        refusal = w.dr_h2.refused("NOT_AUTHORIZED", "RecordInferences", _batch(txid), transient=_outputs())
        assert "no longer active" in refusal


def test_inferences_after_the_access_window_are_refused(w: World) -> None:
    txid, _ = _setup(w, ["diagnosis-ai"])
    approve(w, model_doc())
    w.ledger.advance(minutes=11)
    assert "ended" in w.dr_h2.refused("NOT_AUTHORIZED", "RecordInferences", _batch(txid), transient=_outputs())


def test_inferences_only_on_allowed_records(w: World) -> None:
    txid, _ = _setup(w, ["diagnosis-ai"])
    approve(w, model_doc())
    w.create("rec-2")
    w.dr_h2.refused("NOT_AUTHORIZED", "RecordInferences", _batch(txid, "rec-2"), transient=_outputs("rec-2"))
