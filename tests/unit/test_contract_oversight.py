"""Oversight of the models in use (oversight.py, monitoring.py): clinicians review inferences, the ledger logs each
model version's use, outcomes keep its live performance and suspend it when it crosses its monitoring bounds;
who may do each, what stays out of the blocks, and what erasure takes back."""

from __future__ import annotations

from typing import Any

import pytest
from careledger_chaincode.runtime._interface import create_composite_key

from .chaincode_helpers import H2, JWK, SALT, Actor, World, approve, digest, inference_transient
from .test_contract_models import MODEL, OUTPUT, _batch, _outputs, model_doc

REASON = "Histology of the biopsy shows a benign fibroadenoma"
SUBGROUPS = {"large-tumours": {"auc": 0.97}, "small-tumours": {"auc": 0.95}}


@pytest.fixture
def w() -> World:
    return World()


def oversight_model(task: str = "classification") -> dict[str, Any]:
    doc = {**model_doc(), "subgroup_metrics": SUBGROUPS}
    if task == "regression":
        doc.update(task="regression", metrics={"mae": 40.0}, subgroup_metrics={g: {"mae": 41.0} for g in SUBGROUPS})
    return doc


def _infer(w: World, records: list[str], output: dict[str, Any] | None = None) -> list[str]:
    """Hospital2's clinician runs the model on the records (consented for diagnosis-ai): the inferences' names."""
    access = w.dr_h2.ok("RequestAccess", {"record_ids": records, "purpose": "diagnosis-ai"})["tx_id"]
    batch = _batch(access)
    batch["inferences"] = [{**batch["inferences"][0], "record_id": r, "ciphertext_sha256": digest(r)} for r in records]
    outputs = inference_transient({r: output or OUTPUT for r in records})
    tx = w.dr_h2.ok("RecordInferences", batch, transient=outputs)["tx_id"]
    return [f"{tx}:{n}" for n in range(len(records))]


def _scene(
    w: World,
    records: int = 1,
    monitoring: dict[str, Any] | None = None,
    task: str = "classification",
    output: dict[str, Any] | None = None,
) -> list[str]:
    """Alice's records, consented to Hospital2's clinician for diagnosis-ai; the model approved under a policy with
    these monitoring bounds; one inference on each record."""
    ids = [f"rec-{n}" for n in range(1, records + 1)]
    for record in ids:
        w.create(record)
    w.give(w.dr_h2.id, ids, purposes=["diagnosis-ai"])
    model = oversight_model(task)
    w.researcher.ok("RegisterModel", model)
    w.auditor.ok("SetApprovalPolicy", {"model_id": MODEL, **({"monitoring": monitoring} if monitoring else {})})
    approve(w, model)
    return _infer(w, ids, output)


def _review(actor: Actor, name: str, decision: str = "confirm", override: Any = None) -> dict[str, Any]:
    transient: dict[str, Any] = {"reason": REASON, "salt": SALT}
    if override is not None:
        transient["override"] = override
    return dict(actor.ok("ReviewInference", {"inference_id": name, "decision": decision}, transient=transient))


def _outcome_transient(value: Any, subgroups: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"outcome": {"value": value, "subgroups": list(subgroups)}, "salt": SALT}


def _outcome(actor: Actor, name: str, value: Any, *subgroups: str) -> dict[str, Any]:
    return dict(actor.ok("RecordOutcome", {"inference_id": name}, transient=_outcome_transient(value, subgroups)))


def _member(w: World, local_id: str, msp: str, role: str) -> Actor:
    actor = Actor(w.ledger, local_id, msp, role)
    actor.ok("RegisterMember", JWK)
    return actor


# -- reviews (human oversight) ------------------------------------------------------------------------------------
def test_clinicians_who_see_the_record_review_and_the_latest_review_decides(w: World) -> None:
    [name] = _scene(w)
    confirmed = _review(w.dr_h2, name)
    assert (confirmed["decision"], confirmed["reviewer"], confirmed["reviewer_org"]) == ("confirm", w.dr_h2.id, H2)
    assert confirmed["reason_length"] == len(REASON)
    assert confirmed["reason_sha256"] != digest(REASON)  # salted
    assert w.ledger.events[-1].name == "InferenceReviewed"
    _review(w.dr_h1, name, "override", override=0)  # the record's creator at the custodian
    reviews = w.alice.ok("GetInferenceReviews", name)
    assert reviews["status"] == "overridden"
    assert [(r["reviewer"], r["decision"]) for r in reviews["reviews"]] == [
        (w.dr_h2.id, "confirm"),
        (w.dr_h1.id, "override"),
    ]
    assert reviews["reviews"][1]["override"] == 0
    _review(w.dr_h2, name)
    assert w.alice.ok("GetInferenceReviews", name)["status"] == "confirmed"
    for outsider in (w.dr_h1b, w.alice, w.auditor, w.researcher, w.h1_admin):
        transient = {"reason": REASON, "salt": SALT}
        outsider.refused(
            "NOT_AUTHORIZED", "ReviewInference", {"inference_id": name, "decision": "confirm"}, transient=transient
        )


def test_the_reason_and_override_are_read_by_the_patient_auditors_and_the_reviewers_organization(w: World) -> None:
    [name] = _scene(w)
    colleague = _member(w, "h2-clinician-2", H2, "clinician")
    w.give(f"org:{H2}", ["rec-1"], purposes=["treatment"])  # Hospital2 may see rec-1
    _review(w.dr_h2, name, "override", override=0)
    for reader in (w.alice, w.auditor, w.dr_h2, colleague):
        [review] = reader.ok("GetInferenceReviews", name)["reviews"]
        assert (review["reason"], review["override"], review["salt"]) == (REASON, 0, SALT), reader.id
    [review] = w.dr_h1.ok("GetInferenceReviews", name)["reviews"]  # sees the record, another organization
    assert review["decision"] == "override"
    assert not {"reason", "override", "salt"} & set(review)
    for outsider in (w.bob, w.researcher, w.dr_h1b, w.h1_auditor):
        outsider.refused("NOT_AUTHORIZED", "GetInferenceReviews", name)


@pytest.mark.parametrize(
    ("decision", "transient", "says"),
    [
        ("override", {"reason": REASON, "salt": SALT}, "'override'"),
        ("confirm", {"reason": REASON, "salt": SALT, "override": 1}, "only with decision override"),
        ("override", {"reason": REASON, "salt": SALT, "override": 0.5}, "0 or 1"),
        ("override", {"reason": REASON, "salt": SALT, "override": '"benign"'}, "a number"),
        ("confirm", {"reason": "looks fine", "salt": SALT}, "20 letters"),
        ("confirm", {"salt": SALT}, "'reason'"),
        ("confirm", {"reason": REASON}, "salt"),
        ("maybe", {"reason": REASON, "salt": SALT}, "decision"),
    ],
)
def test_a_review_says_why_and_overrides_with_a_result_of_the_models_kind(
    w: World, decision: str, transient: dict[str, Any], says: str
) -> None:
    [name] = _scene(w)
    message = w.dr_h2.refused(
        "INVALID_ARGUMENT", "ReviewInference", {"inference_id": name, "decision": decision}, transient=transient
    )
    assert says in message


def test_a_review_names_an_inference_and_keeps_its_reason_out_of_the_arguments(w: World) -> None:
    [name] = _scene(w)
    transient = {"reason": REASON, "salt": SALT}
    review = {"inference_id": name, "decision": "confirm"}
    w.dr_h2.refused("INVALID_ARGUMENT", "ReviewInference", {**review, "reason": REASON}, transient=transient)
    w.dr_h2.refused("NOT_FOUND", "ReviewInference", {**review, "inference_id": name[:-1] + "7"}, transient=transient)
    w.dr_h2.refused("INVALID_ARGUMENT", "ReviewInference", {**review, "inference_id": "rec-1"}, transient=transient)
    w.alice.refused("NOT_FOUND", "GetInferenceReviews", name[:-1] + "7")
    assert w.alice.ok("GetInferenceReviews", name) == {"inference_id": name, "status": "unreviewed", "reviews": []}


# -- outcomes and live performance --------------------------------------------------------------------------------
def test_a_model_is_suspended_once_its_live_accuracy_falls_below_the_bound_and_back_when_approved(w: World) -> None:
    names = _scene(w, records=5, monitoring={"min_outcomes": 3, "min_metrics": {"accuracy": 0.6}})
    assert _outcome(w.dr_h2, names[0], 0, "large-tumours")["model_status"] == "approved"  # the model said 1
    assert _outcome(w.dr_h2, names[1], 0, "small-tumours")["model_status"] == "approved"  # 2 < min_outcomes
    assert w.ledger.events[-1].name == "OutcomeRecorded"
    live = w.auditor.ok("GetModelPerformance", MODEL, "1.0.0")
    assert live["since_approval"]["overall"] == {"outcomes": 2, "metrics": {"accuracy": 0.0, "brier": 0.982081}}
    assert live["status"] == "approved"
    suspending = _outcome(w.dr_h1, names[2], 0)  # the custodian's creator may record outcomes too
    assert suspending["model_status"] == "suspended"
    assert "live accuracy 0.0 over 3 outcomes is below the minimum 0.6" in suspending["suspended_reason"]
    assert w.ledger.events[-1].name == "ModelSuspended"
    model = w.alice.ok("GetModel", MODEL, "1.0.0")
    assert (model["status"], model["suspended_reason"]) == ("suspended", suspending["suspended_reason"])
    access = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-5"], "purpose": "diagnosis-ai"})["tx_id"]
    refusal = w.dr_h2.refused(
        "FAILED_PRECONDITION", "RecordInferences", _batch(access, "rec-5"), transient=_outputs("rec-5")
    )
    assert "suspended" in refusal
    assert _outcome(w.dr_h2, names[3], 1)["model_status"] == "suspended"  # still counted, not suspended again
    assert w.ledger.events[-1].name == "OutcomeRecorded"
    w.dr_h2.refused(
        "CONFLICT", "RecordOutcome", {"inference_id": names[0]}, transient=_outcome_transient(1, ("large-tumours",))
    )
    assert approve(w, oversight_model())["status"] == "approved"
    live = w.researcher.ok("GetModelPerformance", MODEL, "1.0.0")
    assert live["since_approval"]["overall"] == {"outcomes": 0, "metrics": {}}  # judged afresh
    assert live["all_time"]["overall"]["outcomes"] == 4
    assert live["all_time"]["overall"]["metrics"]["accuracy"] == 0.25
    assert live["all_time"]["subgroups"] == {
        "large-tumours": {"outcomes": 1, "metrics": {"accuracy": 0.0, "brier": 0.982081}},
        "small-tumours": {"outcomes": 1, "metrics": {"accuracy": 0.0, "brier": 0.982081}},
    }
    assert _infer(w, ["rec-5"])
    recorded = [b for b in w.ledger.blocks if b.args[0] == b"RecordOutcome"]
    assert len(recorded) == 4
    assert not any(b.contains(b'"subgroups"') or b.contains(b'"value"') for b in recorded)


def test_a_subgroup_below_its_bound_suspends_the_model_when_the_whole_does_not(w: World) -> None:
    names = _scene(w, records=4, monitoring={"min_outcomes": 2, "min_metrics": {"accuracy": 0.4}})
    _outcome(w.dr_h2, names[0], 1, "large-tumours")
    _outcome(w.dr_h2, names[1], 1, "large-tumours")
    assert _outcome(w.dr_h2, names[2], 0, "small-tumours")["model_status"] == "approved"  # 1 < min_outcomes
    suspending = _outcome(w.dr_h2, names[3], 0, "small-tumours")
    assert suspending["model_status"] == "suspended"  # overall 0.5 passes; small tumours 0.0 does not
    assert suspending["suspended_reason"] == (
        "approval policy v1 monitoring: live accuracy of subgroup small-tumours 0.0 over 2 outcomes is below the "
        "minimum 0.4"
    )


def test_regression_outcomes_give_mae_and_rmse_and_stay_out_of_blocks(w: World) -> None:
    names = _scene(w, 3, {"min_outcomes": 2, "max_metrics": {"mae": 12.0}}, "regression", {"prediction": 150.0})
    message = w.dr_h2.refused(
        "INVALID_ARGUMENT", "RecordOutcome", {"inference_id": names[0]}, transient=_outcome_transient("high")
    )
    assert "outcome.value must be a number" in message
    assert _outcome(w.dr_h2, names[0], 140.0)["model_status"] == "approved"
    _review(w.dr_h2, names[2], "override", override=187.25)
    assert _outcome(w.dr_h2, names[1], 163.75, "small-tumours")["model_status"] == "approved"
    suspending = _outcome(w.dr_h2, names[2], 170.0)
    assert "live mae 14.583333 over 3 outcomes is above the maximum 12.0" in suspending["suspended_reason"]
    live = w.auditor.ok("GetModelPerformance", MODEL, "1.0.0")
    assert live["all_time"]["overall"]["metrics"] == {"mae": 14.583333, "rmse": 15.155445}
    assert live["all_time"]["subgroups"]["small-tumours"] == {"outcomes": 1, "metrics": {"mae": 13.75, "rmse": 13.75}}
    for secret in (b"187.25", b"163.75", b"140.0", REASON.encode()):
        assert not any(b.contains(secret) for b in w.ledger.blocks), secret
        assert not any(secret in v for v in w.ledger.state.values()), secret


@pytest.mark.parametrize(
    ("outcome", "says"),
    [
        ({"value": 2, "subgroups": []}, "0 or 1"),
        ({"value": 1, "subgroups": ["tall-people"]}, "the model's subgroups"),
        ({"value": 1, "subgroups": ["large-tumours", "large-tumours"]}, "at most once"),
        ({"value": 1}, "missing subgroups"),
        (None, "'outcome'"),
    ],
)
def test_an_outcome_is_the_true_class_and_the_models_own_subgroups(w: World, outcome: Any, says: str) -> None:
    [name] = _scene(w)
    transient = {"salt": SALT} if outcome is None else {"outcome": outcome, "salt": SALT}
    assert says in w.dr_h2.refused("INVALID_ARGUMENT", "RecordOutcome", {"inference_id": name}, transient=transient)
    w.dr_h2.refused("INVALID_ARGUMENT", "RecordOutcome", {"inference_id": name, "value": 1}, transient=transient)


def test_only_clinicians_who_see_the_record_record_outcomes(w: World) -> None:
    [name] = _scene(w)
    for outsider in (w.dr_h1b, w.alice, w.auditor, w.researcher):
        outsider.refused("NOT_AUTHORIZED", "RecordOutcome", {"inference_id": name}, transient=_outcome_transient(1))
    _outcome(w.dr_h2, name, 1)
    assert w.alice.ok("GetInferenceReviews", name)["outcome"]["recorded_by"] == w.dr_h2.id


def test_a_policy_without_bounds_on_live_metrics_never_suspends(w: World) -> None:
    names = _scene(w, records=2, monitoring={"min_outcomes": 1, "min_metrics": {"auc": 0.9}})
    assert _outcome(w.dr_h2, names[0], 0)["model_status"] == "approved"
    live = w.auditor.ok("GetModelPerformance", MODEL, "1.0.0")
    assert (live["unmonitored"], live["policy_version"]) == (["auc"], 1)


# -- the use log, and who reads it --------------------------------------------------------------------------------
def test_the_use_log_counts_inferences_reviews_and_who_verified_each(w: World) -> None:
    names = _scene(w, records=3)
    _review(w.dr_h2, names[0])
    _review(w.dr_h1, names[0], "override", override=0)
    _review(w.dr_h2, names[1])
    use = w.auditor.ok("GetModelUse", MODEL, "1.0.0")
    assert (use["inferences"], use["reviewed"], use["confirmed"], use["overridden"]) == (3, 2, 1, 1)
    assert use["first_use"] == use["last_use"] != ""
    assert use["users"] == [{"member_id": w.dr_h2.id, "org": H2, "inferences": 3}]
    first = w.auditor.ok("ListModelVerifications", MODEL, "1.0.0", "2", "")
    rest = w.researcher.ok("ListModelVerifications", MODEL, "1.0.0", "2", first["bookmark"])
    assert [(v["inference_id"], v["reviewer"], v["decision"]) for v in first["items"] + rest["items"]] == [
        (names[0], w.dr_h2.id, "confirm"),
        (names[0], w.dr_h1.id, "override"),
        (names[1], w.dr_h2.id, "confirm"),
    ]
    assert len(first["items"]) == 2
    assert rest["bookmark"] == ""
    _infer(w, ["rec-1"])
    later = w.researcher.ok("GetModelUse", MODEL, "1.0.0")
    assert later["inferences"] == 4
    assert later["last_use"] > later["first_use"] == use["first_use"]


def test_only_auditors_and_the_registering_researcher_read_use_and_performance(w: World) -> None:
    _scene(w)
    other_researcher = _member(w, "h2-researcher-1", H2, "researcher")
    for function, paged in (("GetModelUse", ()), ("GetModelPerformance", ()), ("ListModelVerifications", ("10", ""))):
        for reader in (w.auditor, w.researcher):
            reader.ok(function, MODEL, "1.0.0", *paged)
        for outsider in (w.h1_auditor, w.dr_h2, w.alice, other_researcher, w.h1_admin):
            outsider.refused("NOT_AUTHORIZED", function, MODEL, "1.0.0", *paged)
        w.auditor.refused("NOT_FOUND", function, MODEL, "9.9.9", *paged)


def test_the_use_log_of_inferences_recorded_before_it_is_filled_by_migrate(w: World) -> None:
    _scene(w, records=2)
    for index in [k for k in w.ledger.state if k.startswith(create_composite_key("inference-model", []))]:
        del w.ledger.state[index]  # as a ledger of layout 4 has them
    assert w.auditor.ok("GetModelUse", MODEL, "1.0.0")["inferences"] == 0
    w.ledger.state[create_composite_key("layout", [])] = b'{"after":"","kind":0,"version":4}'
    assert w.h1_admin.ok("Migrate", "500", "")["done"]
    assert w.auditor.ok("GetModelUse", MODEL, "1.0.0")["inferences"] == 2


# -- erasure ------------------------------------------------------------------------------------------------------
def test_erasing_a_record_purges_its_reviews_and_outcomes_and_takes_them_out_of_the_performance(w: World) -> None:
    names = _scene(w, records=2)
    _review(w.dr_h2, names[0], "override", override=0)
    _outcome(w.dr_h2, names[0], 0, "large-tumours")
    _outcome(w.dr_h2, names[1], 1, "small-tumours")
    assert w.auditor.ok("GetModelPerformance", MODEL, "1.0.0")["all_time"]["overall"]["outcomes"] == 2
    w.alice.ok("EraseRecord", "rec-1")
    reviews = w.alice.ok("GetInferenceReviews", names[0])
    assert (reviews["reviews"][0]["reason"], reviews["reviews"][0]["override"]) == (None, None)
    assert reviews["outcome"]["recorded_by"] == w.dr_h2.id  # who and when stay, for the channel's life
    private = w.ledger.private.get("careledger-private", {})
    assert not any(REASON.encode() in v or b"large-tumours" in v for v in private.values())
    live = w.auditor.ok("GetModelPerformance", MODEL, "1.0.0")
    for window in ("all_time", "since_approval"):
        assert live[window]["overall"] == {"outcomes": 1, "metrics": {"accuracy": 1.0, "brier": 8.1e-05}}
        assert list(live[window]["subgroups"]) == ["small-tumours"]
    transient = {"reason": REASON, "salt": SALT}
    review = {"inference_id": names[0], "decision": "confirm"}
    assert "erased" in w.dr_h1.refused("FAILED_PRECONDITION", "ReviewInference", review, transient=transient)
    w.dr_h2.refused("NOT_AUTHORIZED", "ReviewInference", review, transient=transient)  # its consent's key is gone
