"""TraceInference: an inference traced to its model, approval policy, access decision, consent and training
run, each link checked by the ledger, for those entitled and nobody else."""

from __future__ import annotations

from typing import Any

import pytest

from .chaincode_helpers import SALT, World, approve, digest
from .test_contract_models import MODEL, _batch, _outputs, model_doc


def _inference(w: World) -> tuple[str, dict[str, Any]]:
    """An approved model's inference on Alice's rec-1 by Hospital2's clinician, under her consent."""
    w.create()
    grant = w.give(w.dr_h2.id, ["rec-1"], purposes=["diagnosis-ai"])
    w.researcher.ok("RegisterModel", model_doc())
    approve(w, model_doc())
    access = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "diagnosis-ai"})["tx_id"]
    recorded = w.dr_h2.ok("RecordInferences", _batch(access), transient=_outputs())
    return f"{recorded['tx_id']}:0", grant


@pytest.fixture
def w() -> World:
    return World()


def test_every_link_holds_for_an_inference_made_as_the_rules_say(w: World) -> None:
    name, grant = _inference(w)
    trace = w.alice.ok("TraceInference", name)
    assert [(link["link"], link["ok"]) for link in trace["links"]] == [
        ("inference", True), ("model", True), ("approval", True), ("access", True), ("consent", True),
        ("training", True), ("oversight", True),
    ]  # fmt: skip
    assert trace["inference"]["output"] == {"label": "positive", "probability": 0.991}
    assert trace["policy"]["model_id"] == MODEL
    assert trace["grant"]["id"] == grant["id"]
    assert trace["access"]["decision"] == "allowed"
    assert "policy v1" in trace["links"][2]["detail"]
    for entitled in (w.auditor, w.dr_h2, w.dr_h1):
        assert entitled.ok("TraceInference", name)["links"] == trace["links"]


def test_nobody_else_traces_and_a_bad_name_is_refused(w: World) -> None:
    name, _ = _inference(w)
    for outsider in (w.bob, w.researcher, w.dr_h1b, w.h1_auditor):
        outsider.refused("NOT_AUTHORIZED", "TraceInference", name)
    assert "<transaction id>:<n>" in w.alice.refused("INVALID_ARGUMENT", "TraceInference", "rec-1")
    w.alice.refused("NOT_FOUND", "TraceInference", name[:-1] + "7")


def test_links_say_where_they_changed_since(w: World) -> None:
    name, grant = _inference(w)
    w.alice.ok("RevokeConsent", grant["id"])
    w.auditor.ok("RetireModel", MODEL, "1.0.0", "recalled")
    trace = w.auditor.ok("TraceInference", name)
    consent = next(link for link in trace["links"] if link["link"] == "consent")
    assert consent["ok"]  # it covered the access when the access was decided
    assert "revoked since" in consent["detail"]
    model = next(link for link in trace["links"] if link["link"] == "model")
    assert "retired now" in model["detail"]


def test_an_erased_records_inference_stays_traceable_without_its_output(w: World) -> None:
    name, _ = _inference(w)
    w.alice.ok("EraseRecord", "rec-1")
    trace = w.alice.ok("TraceInference", name)
    assert trace["inference"]["output"] is None
    assert "gone" in trace["links"][0]["detail"]
    assert trace["inference"]["input_sha256"] == digest("in")


def test_the_trace_shows_who_verified_the_result_and_its_outcome_but_not_their_words(w: World) -> None:
    name, _ = _inference(w)
    assert w.alice.ok("TraceInference", name)["links"][-1]["detail"] == "not reviewed by a clinician yet"
    reason = "Biopsy confirms the finding"
    w.dr_h2.ok(
        "ReviewInference", {"inference_id": name, "decision": "confirm"}, transient={"reason": reason, "salt": SALT}
    )
    w.dr_h2.ok(
        "RecordOutcome",
        {"inference_id": name},
        transient={"outcome": {"value": 1, "subgroups": []}, "salt": SALT},
    )
    trace = w.auditor.ok("TraceInference", name)
    oversight = trace["links"][-1]
    assert (oversight["link"], oversight["ok"]) == ("oversight", True)
    assert f"confirmed by {w.dr_h2.id}" in oversight["detail"]
    assert "outcome recorded" in oversight["detail"]
    assert [r["decision"] for r in trace["reviews"]] == ["confirm"]
    assert trace["outcome"]["recorded_by"] == w.dr_h2.id
    assert reason not in repr(trace)  # the words and the truth stay private
    assert "value" not in trace["outcome"]
