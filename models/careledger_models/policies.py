"""The health authority's approval policies for the diagnostics CareLedger ships, as `make demo`, the bench
and the tests set them on the ledger (`careledger model policy set`). A policy is the authority's decision,
kept and versioned on the ledger; these are its starting values, chosen from the models' held-out
performance on the scikit-learn data over 30 seeds (breast cancer: AUC 0.974 to 0.999, accuracy 0.937 to 0.986,
Brier 0.013 to 0.053, accuracy gap between tumour-size terciles up to 0.128; diabetes: R2 0.173 to 0.545, RMSE
53.9 to 67.1, RMSE gap between sex and age groups up to 21.0), so that a model trained as ours are passes."""

from __future__ import annotations

import json

from careledger.errors import NotFound
from careledger.json_types import JsonArgument
from careledger.services import Session
from careledger_protocol import ApprovalPolicy

BREAST_CANCER: dict[str, JsonArgument] = {
    "model_id": "breast-cancer",
    "min_metrics": {"auc": 0.95, "accuracy": 0.9},
    "max_metrics": {"brier": 0.08},
    "required_subgroups": ["radius-small", "radius-medium", "radius-large"],
    "min_subgroup_n": 30,
    "max_subgroup_gap": {"accuracy": 0.15},
    "monitoring": {"min_outcomes": 20, "min_metrics": {"accuracy": 0.85}, "max_metrics": {"brier": 0.12}},
}

DIABETES_PROGRESSION: dict[str, JsonArgument] = {
    "model_id": "diabetes-progression",
    "min_metrics": {"r2": 0.15},
    "max_metrics": {"rmse": 70.0},
    "required_subgroups": ["sex-1", "sex-2", "age-under-50", "age-50-plus"],
    "min_subgroup_n": 30,
    "max_subgroup_gap": {"rmse": 25.0},
    "monitoring": {"min_outcomes": 20, "min_metrics": {}, "max_metrics": {"mae": 60.0}},
}

POLICIES = {str(p["model_id"]): p for p in (BREAST_CANCER, DIABETES_PROGRESSION)}


def ensure_policy(auditor: Session, model_id: str) -> ApprovalPolicy:
    """The model's current policy on the ledger, set from POLICIES first when there is none or it differs."""
    wanted = POLICIES[model_id]
    try:
        current = auditor.approval_policy(model_id)
    except NotFound:
        return auditor.set_approval_policy(wanted)
    # Every field is given above as the ledger keeps it, so equal JSON means the same policy.
    if json.dumps({name: current.get(name) for name in wanted}, sort_keys=True) != json.dumps(wanted, sort_keys=True):
        return auditor.set_approval_policy(wanted)
    return current
