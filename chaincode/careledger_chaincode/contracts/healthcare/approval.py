"""Approving models against a policy kept on the ledger.

An approval policy, one for each model (a diagnostic: its versions share it) and versioned, is set by an
auditor of the health authority before any version can be approved: the overall metrics a model must reach
(minimums, and maximums for losses), the subgroups it must have been evaluated on with at least
`min_subgroup_n` rows each, the largest gap allowed between its best and worst subgroup for a metric, and the
bounds it must keep once in use (`monitoring`, read by the outcome checks).

ApproveModel approves a model version only when both hold:
- the approving auditor reproduced its registered metrics: the auditor's client ran the registered artifact
  on the evaluation data whose fingerprint the training run registered, and every recomputed metric, overall
  and per subgroup, equals the registered one (`careledger model verify` does this and sends the result);
- the registered metrics satisfy the model's current policy.
The model then names the policy version that approved it and a digest of what was reproduced. A suspended
model comes back into use the same way.
"""

from __future__ import annotations

from typing import Any

from careledger_protocol import (
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    METRIC_TOLERANCE,
    NOT_AUTHORIZED,
    NOT_FOUND,
    Event,
    documents,
    metric_mismatches,
    sha256_of_json,
)

from ...runtime import Context, transaction
from . import _schemas as schema
from ._arguments import Shape, json_object, object_id, sha256_hex
from ._caller import caller, require_authority_auditor
from ._refusals import denied, invalid, not_found, precondition
from ._state import event, get_json, put_json, summary
from ._time import now
from .models import METRICS, MODEL, MODEL_EVENT_FIELDS, SEMANTIC_VERSION, metrics_map, require_model

POLICY = "approval-policy"  # (model_id, version as 6 digits) -> the policy
LATEST_POLICY = "approval-policy-latest"  # (model_id,) -> {"version": n}
# The arguments' schemas (GetMetadata).
_COUNT = schema.integer_in(1, 1_000_000)
NEW_POLICY = schema.object_of(
    {"model_id": schema.ID},
    {
        "min_metrics": METRICS,
        "max_metrics": METRICS,
        "required_subgroups": schema.list_of(schema.ID, 100),
        "min_subgroup_n": _COUNT,
        "max_subgroup_gap": METRICS,
        "monitoring": schema.object_of({}, {"min_outcomes": _COUNT, "min_metrics": METRICS, "max_metrics": METRICS}),
    },
)
POLICY_VERSION = schema.string_of(r"^$|^[0-9]{1,6}$", "policy-version", "a policy version number; empty: the current")


def _monitoring(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid("policy.monitoring must be an object")
    shape = Shape(value, "policy.monitoring", (), ("min_outcomes", "min_metrics", "max_metrics"))
    return {
        "min_outcomes": shape.integer("min_outcomes", 1, 1_000_000, default=20),
        "min_metrics": metrics_map(shape.object("min_metrics", default={}), "policy.monitoring.min_metrics"),
        "max_metrics": metrics_map(shape.object("max_metrics", default={}), "policy.monitoring.max_metrics"),
    }


def policy_violations(model: dict[str, Any], policy: dict[str, Any]) -> list[str]:
    """What in a model's registered metrics the policy does not accept, in words; empty when it does."""
    found: list[str] = []
    metrics, groups = model["metrics"], model.get("subgroup_metrics", {})
    for name, bound in sorted(policy["min_metrics"].items()):
        if name not in metrics:
            found.append(f"{name} was not registered (the policy needs at least {bound})")
        elif metrics[name] < bound:
            found.append(f"{name} {metrics[name]} is below the policy's minimum {bound}")
    for name, bound in sorted(policy["max_metrics"].items()):
        if name not in metrics:
            found.append(f"{name} was not registered (the policy allows at most {bound})")
        elif metrics[name] > bound:
            found.append(f"{name} {metrics[name]} is above the policy's maximum {bound}")
    for group in policy["required_subgroups"]:
        rows = groups.get(group, {}).get("n", 0)
        if rows < policy["min_subgroup_n"]:
            found.append(
                f"subgroup {group} was evaluated on {int(rows)} rows; the policy needs {policy['min_subgroup_n']}"
            )
    for name, bound in sorted(policy["max_subgroup_gap"].items()):
        values = [g[name] for g in groups.values() if name in g]
        if len(values) >= 2 and max(values) - min(values) > bound + METRIC_TOLERANCE:
            gap = round(max(values) - min(values), 6)
            found.append(f"{name} differs by {gap} between subgroups; the policy allows {bound}")
    return found


class ApprovalMixin:
    @transaction(
        "SetApprovalPolicy",
        arguments={"policy_json": NEW_POLICY},
        returns=documents.ApprovalPolicy,
        events=(Event.APPROVAL_POLICY_SET,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def set_approval_policy(self, ctx: Context, policy_json: str) -> dict[str, Any]:
        """An auditor of the health authority sets the approval policy of a model, as its next version; versions
        approved before keep the policy version that approved them."""
        who = caller(ctx)
        require_authority_auditor(who)
        optional = ("min_metrics", "max_metrics", "required_subgroups", "min_subgroup_n", "max_subgroup_gap")
        shape = Shape(json_object(policy_json, "policy"), "policy", ("model_id",), (*optional, "monitoring"))
        model_id = shape.string("model_id", object_id)
        latest = get_json(ctx, LATEST_POLICY, model_id)
        version = (latest["version"] if latest else 0) + 1
        policy = {
            "model_id": model_id,
            "version": version,
            "min_metrics": metrics_map(shape.object("min_metrics", default={}), "policy.min_metrics"),
            "max_metrics": metrics_map(shape.object("max_metrics", default={}), "policy.max_metrics"),
            "required_subgroups": shape.items("required_subgroups", object_id, 100),
            "min_subgroup_n": shape.integer("min_subgroup_n", 1, 1_000_000, default=10),
            "max_subgroup_gap": metrics_map(shape.object("max_subgroup_gap", default={}), "policy.max_subgroup_gap"),
            "monitoring": _monitoring(shape.doc.get("monitoring", {})),
            "set_by": who.member_id,
            "set_at": now(ctx),
        }
        put_json(ctx, policy, POLICY, model_id, f"{version:06d}")
        put_json(ctx, {"version": version}, LATEST_POLICY, model_id)
        event(ctx, Event.APPROVAL_POLICY_SET, {"model_id": model_id, "version": version, "set_by": who.member_id})
        return policy

    @transaction(
        "GetApprovalPolicy",
        read_only=True,
        arguments={"model_id": schema.ID, "version": POLICY_VERSION},
        returns=documents.ApprovalPolicy,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND),
    )
    def get_approval_policy(self, ctx: Context, model_id: str, version: str) -> dict[str, Any]:
        """A model's approval policy: the current one (version ""), or the version that approved a model version;
        any member may read it."""
        caller(ctx)
        return require_policy(ctx, object_id(model_id, "model_id"), version)

    @transaction(
        "ApproveModel",
        arguments={"model_id": schema.ID, "version": SEMANTIC_VERSION, "reproduced_json": documents.Reproduction},
        returns=documents.Model,
        events=(Event.MODEL_APPROVED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def approve_model(self, ctx: Context, model_id: str, version: str, reproduced_json: str) -> dict[str, Any]:
        """An auditor of the health authority approves a registered (or suspended) model version for inference on
        patients' records, sending the metrics it reproduced from the artifact and the evaluation data; refused
        when they differ from the registered ones or when the model's current policy is not met."""
        who = caller(ctx)
        require_authority_auditor(who)
        model = require_model(ctx, model_id, version)
        if model["status"] not in ("registered", "suspended"):
            raise precondition(
                f"model {model_id} {version} is {model['status']}; only a registered or suspended model can be approved"
            )
        training = model.get("training")
        if not training:
            raise precondition(
                f"model {model_id} {version} was registered without its training run, so its metrics cannot be "
                "reproduced: register a new version with its training run"
            )
        fields = ("artifact_sha256", "evaluation_fingerprint", "metrics", "subgroup_metrics")
        shape = Shape(json_object(reproduced_json, "reproduced"), "reproduced", fields)
        if shape.string("artifact_sha256", sha256_hex) != model["artifact_sha256"]:
            raise denied("reproduced.artifact_sha256 is not the registered artifact: reproduce with that artifact")
        if shape.string("evaluation_fingerprint", sha256_hex) != training["evaluation_fingerprint"]:
            raise precondition(
                "the metrics were recomputed on other data than the model was evaluated on "
                "(reproduced.evaluation_fingerprint differs from the training run's): use the registered data"
            )
        metrics = metrics_map(shape.object("metrics"), "reproduced.metrics")
        subgroups = {
            object_id(g, "reproduced.subgroup_metrics key"): metrics_map(m, f"reproduced.subgroup_metrics.{g}")
            for g, m in shape.object("subgroup_metrics").items()
        }
        reproduced = {"metrics": metrics, "subgroup_metrics": subgroups}
        mismatches = metric_mismatches(model["metrics"], model.get("subgroup_metrics", {}), metrics, subgroups)
        if mismatches:
            raise precondition(f"the registered metrics do not reproduce: {'; '.join(mismatches[:10])}")
        if get_json(ctx, LATEST_POLICY, model_id) is None:
            raise precondition(f"no approval policy is set for {model_id}: set one (SetApprovalPolicy) first")
        policy = require_policy(ctx, model_id, "")
        violations = policy_violations(model, policy)
        if violations:
            raise precondition(
                f"approval policy v{policy['version']} of {model_id} does not accept this version: "
                f"{'; '.join(violations[:10])}"
            )
        model.update(
            status="approved",
            approved_by=who.member_id,
            approved_at=now(ctx),
            approval={
                "policy_version": policy["version"],
                "reproduced_sha256": sha256_of_json(reproduced),
                "evaluation_fingerprint": training["evaluation_fingerprint"],
            },
        )
        put_json(ctx, model, MODEL, model_id, version)
        event(ctx, Event.MODEL_APPROVED, summary(model, MODEL_EVENT_FIELDS))
        return model


def require_policy(ctx: Context, model_id: str, version: str) -> dict[str, Any]:
    """A model's policy, the current one when version is ""."""
    if version == "":
        latest = get_json(ctx, LATEST_POLICY, model_id)
        if latest is None:
            raise not_found(f"no approval policy is set for {model_id}: an auditor sets one with SetApprovalPolicy")
        number = latest["version"]
    elif version.isdigit() and 0 < int(version) < 1_000_000:
        number = int(version)
    else:
        raise invalid('version must be a policy version number, or "" for the current one')
    policy = get_json(ctx, POLICY, model_id, f"{number:06d}")
    if policy is None:
        raise not_found(f"the approval policy of {model_id} has no version {number}")
    return policy
