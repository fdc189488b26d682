"""Approval is a policy, not a signature: the approving auditor reproduces the metrics, the ledger compares them
with the registered ones and applies the model's approval policy; a training run's cohort is checked against
the research access decisions that released it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from careledger_protocol import CohortLeaf, merkle_root

from .chaincode_helpers import World, approve, digest, reproduction, training_run
from .test_contract_models import MODEL, model_doc

POLICY = {
    "model_id": MODEL,
    "min_metrics": {"auc": 0.95},
    "max_metrics": {"brier": 0.1},
    "required_subgroups": ["small", "large"],
    "min_subgroup_n": 30,
    "max_subgroup_gap": {"accuracy": 0.1},
}


def good_model(version: str = "1.0.0") -> dict[str, Any]:
    doc = model_doc(version)
    doc["metrics"] = {"auc": 0.98, "brier": 0.04, "accuracy": 0.95, "n": 140.0}
    doc["subgroup_metrics"] = {
        "small": {"accuracy": 0.97, "n": 70.0},
        "large": {"accuracy": 0.92, "n": 70.0},
    }
    return doc


@pytest.fixture
def w() -> World:
    world = World()
    world.auditor.ok("SetApprovalPolicy", POLICY)
    return world


def test_policies_are_versioned_set_by_authority_auditors_and_readable_by_members(w: World) -> None:
    first = w.alice.ok("GetApprovalPolicy", MODEL, "")
    assert (first["version"], first["set_by"], first["min_subgroup_n"]) == (1, w.auditor.id, 30)
    assert first["monitoring"] == {"min_outcomes": 20, "min_metrics": {}, "max_metrics": {}}
    assert w.auditor.ok("SetApprovalPolicy", {**POLICY, "min_subgroup_n": 10})["version"] == 2
    assert w.dr_h2.ok("GetApprovalPolicy", MODEL, "1")["min_subgroup_n"] == 30
    assert w.dr_h2.ok("GetApprovalPolicy", MODEL, "")["min_subgroup_n"] == 10
    assert w.ledger.events[-1].name == "ApprovalPolicySet"
    for who in (w.h1_auditor, w.researcher, w.h1_admin):
        who.refused("NOT_AUTHORIZED", "SetApprovalPolicy", POLICY)
    w.alice.refused("NOT_FOUND", "GetApprovalPolicy", MODEL, "3")
    w.alice.refused("NOT_FOUND", "GetApprovalPolicy", "another-model", "")
    w.auditor.refused("INVALID_ARGUMENT", "SetApprovalPolicy", {**POLICY, "min_metrics": {"auc": "high"}})
    w.auditor.refused("INVALID_ARGUMENT", "SetApprovalPolicy", {**POLICY, "veto": True})


def test_a_model_that_reproduces_and_meets_the_policy_is_approved_and_names_the_policy(w: World) -> None:
    model = good_model()
    w.researcher.ok("RegisterModel", model)
    approved = w.auditor.ok("ApproveModel", MODEL, "1.0.0", reproduction(model))
    assert approved["status"] == "approved"
    assert approved["approval"]["policy_version"] == 1
    assert approved["approval"]["evaluation_fingerprint"] == model["training"]["evaluation_fingerprint"]
    assert w.dr_h2.ok("GetModel", MODEL, "1.0.0")["approval"] == approved["approval"]


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        (
            {"metrics": {"auc": 0.97, "brier": 0.04, "accuracy": 0.95, "n": 140.0}},
            "FAILED_PRECONDITION",
            "auc: registered 0.98, recomputed 0.97",
        ),
        (
            {"subgroup_metrics": {"small": {"accuracy": 0.97, "n": 70.0}}},
            "FAILED_PRECONDITION",
            "subgroup large accuracy was not recomputed",
        ),
        ({"artifact_sha256": digest("a tampered artifact")}, "NOT_AUTHORIZED", "not the registered artifact"),
        ({"evaluation_fingerprint": digest("other rows")}, "FAILED_PRECONDITION", "other data"),
        ({"metrics": "good"}, "INVALID_ARGUMENT", "reproduced.metrics"),
    ],
)
def test_approval_is_refused_when_the_metrics_do_not_reproduce(
    w: World, change: dict[str, Any], code: str, words: str
) -> None:
    model = good_model()
    w.researcher.ok("RegisterModel", model)
    assert words in w.auditor.refused(code, "ApproveModel", MODEL, "1.0.0", reproduction(model, **change))
    assert w.auditor.ok("GetModel", MODEL, "1.0.0")["status"] == "registered"


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda m: m["metrics"].update(auc=0.9), "auc 0.9 is below the policy's minimum 0.95"),
        (lambda m: m["metrics"].update(brier=0.2), "brier 0.2 is above the policy's maximum 0.1"),
        (lambda m: m["metrics"].pop("brier"), "brier was not registered"),
        (lambda m: m["subgroup_metrics"].pop("small"), "subgroup small was evaluated on 0 rows"),
        (lambda m: m["subgroup_metrics"]["large"].update(n=12.0), "subgroup large was evaluated on 12 rows"),
        (lambda m: m["subgroup_metrics"]["large"].update(accuracy=0.8), "accuracy differs by 0.17 between subgroups"),
    ],
)
def test_approval_is_refused_when_the_policy_is_not_met(w: World, mutate: Any, words: str) -> None:
    model = good_model()
    mutate(model)
    w.researcher.ok("RegisterModel", model)
    refusal = w.auditor.refused("FAILED_PRECONDITION", "ApproveModel", MODEL, "1.0.0", reproduction(model))
    assert "approval policy v1" in refusal
    assert words in refusal


def test_no_policy_or_no_training_run_no_approval() -> None:
    w = World()
    model = good_model()
    w.researcher.ok("RegisterModel", model)
    assert "no approval policy" in w.auditor.refused(
        "FAILED_PRECONDITION", "ApproveModel", MODEL, "1.0.0", reproduction(model)
    )
    legacy = good_model("1.1.0")
    del legacy["training"]
    w.researcher.ok("RegisterModel", legacy)
    w.auditor.ok("SetApprovalPolicy", {"model_id": MODEL})
    assert "without its training run" in w.auditor.refused(
        "FAILED_PRECONDITION", "ApproveModel", MODEL, "1.1.0", reproduction(model)
    )


def test_a_suspended_model_is_approved_again_only_the_same_way(w: World) -> None:
    model = good_model()
    w.researcher.ok("RegisterModel", model)
    approve(w, model)
    # A suspension (the outcome checks do it) leaves the model suspended until an auditor approves it again.
    key = next(k for k in w.ledger.state if k.startswith("\x00model\x00"))
    w.ledger.state[key] = w.ledger.state[key].replace(b'"status":"approved"', b'"status":"suspended"')
    w.auditor.refused("FAILED_PRECONDITION", "ApproveModel", MODEL, "1.0.0", reproduction(model, metrics={"auc": 0.5}))
    assert w.auditor.ok("ApproveModel", MODEL, "1.0.0", reproduction(model))["status"] == "approved"


# -- training runs -----------------------------------------------------------------------------------------------
def _research_cohort(w: World, records: list[str]) -> tuple[str, list[CohortLeaf]]:
    for record in records:
        w.create(record)
    w.give(w.researcher.id, records, purposes=["research"])
    access = w.researcher.ok("RequestAccess", {"record_ids": records, "purpose": "research"})
    return access["tx_id"], [CohortLeaf(r, 1, digest(r)) for r in records]


def _cohort_model(tx: str, leaves: list[CohortLeaf], **cohort: Any) -> dict[str, Any]:
    doc = good_model()
    run = training_run(doc["feature_schema"], data_source="ledger-cohort")
    run["cohort"] = {"access_tx_ids": [tx], "records": len(leaves), "merkle_root": merkle_root(leaves), **cohort}
    return {**doc, "training": run}


def test_a_cohort_is_registered_as_the_root_of_record_versions_research_access_released(w: World) -> None:
    tx, leaves = _research_cohort(w, ["rec-1", "rec-2", "rec-3"])
    transient = {"cohort": [list(leaf) for leaf in leaves]}
    registered = w.researcher.ok("RegisterModel", _cohort_model(tx, leaves), transient=transient)
    assert registered["training"]["cohort"] == {"access_tx_ids": [tx], "records": 3, "merkle_root": merkle_root(leaves)}
    # Which records were used stays out of the block: only the root is there.
    assert not w.ledger.blocks[-1].contains(digest("rec-2").encode())
    assert w.ledger.blocks[-1].contains(merkle_root(leaves).encode())


@pytest.mark.parametrize(
    ("case", "code", "words"),
    [
        ("a record never released", "NOT_AUTHORIZED", "did not release"),
        ("another version", "NOT_AUTHORIZED", "did not release"),
        ("a wrong root", "INVALID_ARGUMENT", "not the Merkle root"),
        ("no leaves", "INVALID_ARGUMENT", "transient field 'cohort'"),
        ("someone else's access", "NOT_AUTHORIZED", "not a research access of yours"),
        ("an unknown access", "NOT_FOUND", "not on the ledger"),
        ("a cohort without ledger-cohort", "INVALID_ARGUMENT", "exactly when data_source"),
        ("a schema digest that differs", "INVALID_ARGUMENT", "schema_sha256"),
    ],
)
def test_a_cohort_that_the_ledger_did_not_release_is_refused(w: World, case: str, code: str, words: str) -> None:
    tx, leaves = _research_cohort(w, ["rec-1", "rec-2"])
    doc, sent = _cohort_model(tx, leaves), [list(leaf) for leaf in leaves]
    if case == "a record never released":
        w.create("rec-9")
        sent.append(["rec-9", 1, digest("rec-9")])
        doc = _cohort_model(tx, [*leaves, CohortLeaf("rec-9", 1, digest("rec-9"))])
    elif case == "another version":
        sent[0][1] = 2
        doc = _cohort_model(tx, [CohortLeaf("rec-1", 2, digest("rec-1")), leaves[1]])
    elif case == "a wrong root":
        doc = _cohort_model(tx, leaves, merkle_root=digest("root"))
    elif case == "no leaves":
        sent = []
    elif case == "someone else's access":
        treatment = w.dr_h1.ok("RequestAccess", {"record_ids": ["rec-1", "rec-2"], "purpose": "treatment"})["tx_id"]
        doc = _cohort_model(treatment, leaves)
    elif case == "an unknown access":
        doc = _cohort_model(digest("no such transaction"), leaves)
    elif case == "a cohort without ledger-cohort":
        doc["training"]["data_source"] = "scikit-learn:breast-cancer"
    elif case == "a schema digest that differs":
        doc = copy.deepcopy(doc)
        doc["training"]["schema_sha256"] = digest("another schema")
    transient = {"cohort": sent} if sent else None
    assert words in w.researcher.refused(code, "RegisterModel", doc, transient=transient)


def test_subgroup_rules_are_registered_with_the_training_run_and_checked(w: World) -> None:
    model = good_model()
    rules = [
        {"name": "small", "feature": "mean radius", "high": 12.0},
        {"name": "large", "feature": "mean radius", "low": 12.0},
    ]
    model["training"]["subgroups"] = rules
    assert w.researcher.ok("RegisterModel", model)["training"]["subgroups"] == rules
    bad = good_model("1.1.0")
    bad["training"]["subgroups"] = [{"name": "old", "feature": "age", "low": 65}]
    assert "not in model.feature_schema" in w.researcher.refused("INVALID_ARGUMENT", "RegisterModel", bad)
