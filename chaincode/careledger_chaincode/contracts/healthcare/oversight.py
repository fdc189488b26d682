"""Watching the models in use (issue 18; the EU AI Act's articles 12, 14 and 72 as the reference): people review
each result, the ledger logs each model version's use, and the ground truth recorded later keeps the model's
live performance, which suspends the model when it crosses its approval policy's `monitoring` bounds.

- Review (ReviewInference): a clinician who may see the record confirms or overrides an inference (named
  `<transaction id>:<n>`) with a reason; an override carries the clinician's own result. The reason and that
  result are patient data: they travel as transient data and are kept as private data; the public entry
  holds who, when, which decision, and their salted SHA-256 (and the reason's length). Reviewing again is
  allowed: every review stays, the latest decides.
  GetInferenceReviews answers those who may trace the inference (the patient, auditors of the health
  authority, those who may see the record); the reason and the override's result only to the patient, the
  auditors and the clinicians of the reviewer's organization: it is that organization's clinical note, and
  other organizations see that a result was confirmed or overridden, when and by whom, and ask it why.
- Use log (use_log.py: GetModelUse and ListModelVerifications), from two indexes written one key per
  inference (RecordInferences) and one per review, so that parallel batches never write a shared key.
- Outcomes (RecordOutcome): a clinician who may see the record records an inference's ground truth (the true
  class 0/1, or the true value) and the model's subgroups the patient belongs to (which the client computes
  from the record it decrypted), as transient data kept as private data, one outcome per inference. Each
  updates the model version's live performance (monitoring.py) and, while the model is approved, checks it
  against the policy version that approved it: a bound crossed suspends the model (RecordInferences refuses
  it until an auditor approves it again) and sets ModelSuspended, which then takes the place of
  OutcomeRecorded as the transaction's one event. The suspension says in words which metric, its live value
  over how many outcomes, and the bound: that one aggregate, over at least `min_outcomes` outcomes, becomes
  public.
- GetModelPerformance (and the use log) answer auditors of the health authority and the researcher who
  registered the model.

Retention: the ledger keeps the use log (inference entries and their indexes, reviews, outcome entries,
suspensions) for the life of the channel; public state cannot be purged. Outputs, reasons, override results
and outcomes are private data, purged from every peer when their record is erased (EraseRecord), which also
takes the outcomes out of the live performance; the public entries then keep who, when, which decision and
digests that nothing can be checked against any more.
"""

from __future__ import annotations

import math
from typing import Any

from careledger_protocol import (
    CONFLICT,
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    Event,
    documents,
)

from ...runtime import ChaincodeError, Context, transaction
from . import _schemas as schema
from ._arguments import Shape, enum, json_object, object_id, refuse_in_arguments
from ._caller import Caller, caller
from ._refusals import denied, invalid, not_found, precondition
from ._state import (
    PRIVATE,
    canonical,
    event,
    get_json,
    get_private,
    load,
    put_json,
    put_private,
    summary,
    transient_json,
)
from ._time import now
from .access import salted_sha256, transient_reason, transient_salt
from .approval import POLICY
from .members import registered_caller
from .models import MODEL, MODEL_EVENT_FIELDS, SEMANTIC_VERSION, require_model
from .monitoring import (
    OUTCOME,
    PERFORMANCE,
    REVIEW,
    REVIEW_BY_MODEL,
    contribution,
    count,
    live,
    performance,
    unmonitored,
    violations,
)
from .records import INFERENCE, RECORD, can_view_record, require_active
from .trace import INFERENCE_ID, inference_parts, may_trace

DECISIONS = ("confirm", "override")
REVIEW_REQUEST = schema.object_of({"inference_id": INFERENCE_ID, "decision": schema.one_of(DECISIONS)})
OUTCOME_REQUEST = schema.object_of({"inference_id": INFERENCE_ID})
# what their events tell subscribers (careledger_protocol.Event)
_ABOUT = ("inference_id", "record_id", "patient_id", "model_id", "version", "time")
REVIEW_EVENT_FIELDS = (*_ABOUT, "reviewer", "reviewer_org", "decision")
OUTCOME_EVENT_FIELDS = (*_ABOUT, "recorded_by", "recorded_org")


def _inference(ctx: Context, inference_id: str) -> tuple[list[str], dict[str, Any]]:
    """An inference's key parts and public entry, from its name."""
    parts = inference_parts(ctx, inference_id)
    inference = get_json(ctx, INFERENCE, *parts)
    if inference is None:
        raise not_found(f"no inference {inference_id} is on the ledger")
    return parts, inference


def _name(inference: dict[str, Any]) -> str:
    return f"{inference['tx_id']}:{inference['n']}"


def _about(inference: dict[str, Any], at: str, txid: str) -> dict[str, Any]:
    fields = ("record_id", "patient_id", "model_id", "version")
    return {"inference_id": _name(inference), **{k: inference[k] for k in fields}, "time": at, "tx_id": txid}


def _on_viewable_record(ctx: Context, who: Caller, inference: dict[str, Any], what: str) -> None:
    record = get_json(ctx, RECORD, inference["record_id"])
    if record is None or not can_view_record(ctx, who, record):
        raise denied(f"only clinicians who may see record {inference['record_id']} may {what} its inferences")
    require_active(record)


def _truth(task: str, value: Any, what: str) -> float:
    """A true class (0 or 1) or value, in the terms of the model's task."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid(f"{what} must be a number")
    if task == "classification":
        if value not in (0, 1):
            raise invalid(f"{what} must be the true class of a classification: 0 or 1")
        return int(value)
    return value


def _subgroups(model: dict[str, Any], value: Any) -> list[str]:
    known = model.get("subgroup_metrics", {})
    if not isinstance(value, list) or len(value) > len(known):
        raise invalid(f"outcome.subgroups must list the model's subgroups the patient belongs to: {sorted(known)}")
    names = [object_id(g, f"outcome.subgroups[{n}]") for n, g in enumerate(value)]
    unknown = [g for g in names if g not in known]
    if unknown or len(set(names)) != len(names):
        raise invalid(f"outcome.subgroups must name each at most once, of the model's subgroups {sorted(known)}")
    return sorted(names)


def _monitoring(ctx: Context, model: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The policy version that approved the model and its monitoring bounds; (0, {}) for none."""
    approval = model.get("approval")
    if not approval:
        return 0, {}
    policy = get_json(ctx, POLICY, model["model_id"], f"{approval['policy_version']:06d}")
    return approval["policy_version"], (policy or {}).get("monitoring", {})


def require_overseer(who: Caller, model: dict[str, Any], what: str) -> None:
    registrant = who.role == "researcher" and who.member_id == model["registered_by"]
    if not (registrant or who.is_authority_auditor):
        raise denied(f"only auditors of the health authority and the researcher who registered it may read {what}")


class OversightMixin:
    @transaction(
        "ReviewInference",
        arguments={"review_json": REVIEW_REQUEST},
        returns=documents.InferenceReview,
        events=(Event.INFERENCE_REVIEWED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def review_inference(self, ctx: Context, review_json: str) -> dict[str, Any]:
        """A clinician who may see the record confirms or overrides an inference, with a reason: the transient
        field 'reason' (at least 20 letters) and, for an override, 'override' (the clinician's own result: the
        class 0 or 1, or the value), with a random 'salt'. Both are kept as private data; the public entry holds
        their salted SHA-256. Reviewing again is allowed: the latest review decides."""
        who = registered_caller(ctx, "clinician")
        doc = json_object(review_json, "review")
        refuse_in_arguments(doc, "reason", "override")
        shape = Shape(doc, "review", *schema.fields(REVIEW_REQUEST))
        decision = shape.string("decision", enum(DECISIONS))
        parts, inference = _inference(ctx, shape.string("inference_id"))
        _on_viewable_record(ctx, who, inference, "review")
        task = require_model(ctx, inference["model_id"], inference["version"]).get("task", "classification")
        reason, salt = transient_reason(ctx, "reason"), transient_salt(ctx)
        override: float | None = None
        if decision == "override":
            override = _truth(task, transient_json(ctx, "override", "your own result", required=True), "override")
        elif "override" in ctx.stub.transient:
            raise invalid("a confirmation has no result of its own: send 'override' only with decision override")
        at, txid = now(ctx), ctx.stub.tx_id
        entry = {
            **_about(inference, at, txid),
            "reviewer": who.member_id,
            "reviewer_org": who.msp_id,
            "decision": decision,
            "reason_sha256": salted_sha256(salt, reason),
            "reason_length": len(reason),
        }
        private: dict[str, Any] = {"reason": reason, "salt": salt}
        if override is not None:
            entry["override_sha256"] = salted_sha256(salt, canonical(override).decode())
            private["override"] = override
        put_json(ctx, entry, REVIEW, *parts, at, txid)
        put_private(ctx, private, REVIEW, *parts, at, txid)
        verification = {k: entry[k] for k in ("inference_id", "reviewer", "reviewer_org", "decision", "time")}
        put_json(ctx, verification, REVIEW_BY_MODEL, inference["model_id"], inference["version"], at, txid)
        event(ctx, Event.INFERENCE_REVIEWED, summary(entry, REVIEW_EVENT_FIELDS))
        return entry

    @transaction(
        "GetInferenceReviews",
        read_only=True,
        arguments={"inference_id": INFERENCE_ID},
        returns=documents.InferenceReviews,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_inference_reviews(self, ctx: Context, inference_id: str) -> dict[str, Any]:
        """Every review of an inference, oldest first, and whether its outcome was recorded: for the patient,
        auditors of the health authority and those who may see the record. The reasons and overridden results
        only for the patient, the auditors and clinicians of the reviewer's organization (None once erased)."""
        who = caller(ctx)
        parts, inference = _inference(ctx, inference_id)
        if not may_trace(ctx, who, inference):
            raise denied("only the patient, auditors and those who may see the record may read its reviews")
        rows = list(ctx.stub.get_state_by_partial_composite_key(REVIEW, parts))
        reviews = [load(v) for _, v in rows]
        trusted = who.is_authority_auditor or (who.role == "patient" and who.member_id == inference["patient_id"])
        colleague = who.msp_id if who.role == "clinician" else None
        shown = [n for n, r in enumerate(reviews) if trusted or r["reviewer_org"] == colleague]
        for n, raw in zip(shown, ctx.stub.get_states([rows[n][0] for n in shown], PRIVATE), strict=True):
            private = load(raw) if raw else {}
            reviews[n]["reason"] = private.get("reason")
            if reviews[n]["decision"] == "override":
                reviews[n]["override"] = private.get("override")
            if private:
                reviews[n]["salt"] = private["salt"]
        latest = reviews[-1]["decision"] if reviews else ""
        status = {"": "unreviewed", "confirm": "confirmed", "override": "overridden"}[latest]
        answer: dict[str, Any] = {"inference_id": _name(inference), "status": status, "reviews": reviews}
        outcome = get_json(ctx, OUTCOME, *parts)
        if outcome is not None:
            answer["outcome"] = outcome
        return answer

    @transaction(
        "RecordOutcome",
        arguments={"outcome_json": OUTCOME_REQUEST},
        returns=documents.OutcomeRecorded,
        events=(Event.OUTCOME_RECORDED, Event.MODEL_SUSPENDED),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, CONFLICT, FAILED_PRECONDITION),
    )
    def record_outcome(self, ctx: Context, outcome_json: str) -> dict[str, Any]:
        """A clinician who may see the record records an inference's ground truth, once: the transient field
        'outcome' ({"value": the true class 0 or 1, or the true value; "subgroups": the model's subgroups the
        patient belongs to}) with a random 'salt', kept as private data. It counts in the model's live
        performance; a monitoring bound of the approving policy crossed suspends the model (ModelSuspended)."""
        who = registered_caller(ctx, "clinician")
        doc = json_object(outcome_json, "outcome")
        refuse_in_arguments(doc, "outcome", "value", "subgroups")
        shape = Shape(doc, "outcome", *schema.fields(OUTCOME_REQUEST))
        parts, inference = _inference(ctx, shape.string("inference_id"))
        _on_viewable_record(ctx, who, inference, "record outcomes of")
        if get_json(ctx, OUTCOME, *parts) is not None:
            raise ChaincodeError(CONFLICT, f"the outcome of inference {_name(inference)} is recorded already")
        model = require_model(ctx, inference["model_id"], inference["version"])
        task = model.get("task", "classification")
        given = transient_json(ctx, "outcome", '{"value": ..., "subgroups": [...]}', required=True)
        Shape(given if isinstance(given, dict) else {}, "outcome", ("value", "subgroups"))
        truth, subgroups = _truth(task, given["value"], "outcome.value"), _subgroups(model, given["subgroups"])
        salt = transient_salt(ctx)
        output = get_private(ctx, INFERENCE, *parts)
        if output is None:
            raise precondition("this peer holds no output of that inference to compare the outcome with")
        part = contribution(task, output["output"], truth)
        at, txid = now(ctx), ctx.stub.tx_id
        entry = {
            **_about(inference, at, txid),
            "recorded_by": who.member_id,
            "recorded_org": who.msp_id,
            "outcome_sha256": salted_sha256(salt, canonical({"subgroups": subgroups, "value": truth}).decode()),
        }
        approved = model.get("approved_at", "")  # the approval whose window it counts in, kept for erasure
        private = {"value": truth, "subgroups": subgroups, "salt": salt, "contribution": part, "approved_at": approved}
        put_json(ctx, entry, OUTCOME, *parts)
        put_private(ctx, private, OUTCOME, *parts)
        live_entry = performance(ctx, model)
        count(live_entry, part, subgroups, approved, 1)
        put_private(ctx, live_entry, PERFORMANCE, model["model_id"], model["version"])
        answer: dict[str, Any] = {"outcome": entry, "model_status": model["status"]}
        policy_version, monitoring = _monitoring(ctx, model)
        crossed = violations(task, live_entry["since_approval"], monitoring) if model["status"] == "approved" else []
        if not crossed:
            event(ctx, Event.OUTCOME_RECORDED, summary(entry, OUTCOME_EVENT_FIELDS))
            return answer
        reason = f"approval policy v{policy_version} monitoring: {'; '.join(crossed)}"
        model.update(status="suspended", suspended_at=at, suspended_reason=reason)
        put_json(ctx, model, MODEL, model["model_id"], model["version"])
        event(ctx, Event.MODEL_SUSPENDED, {**summary(model, MODEL_EVENT_FIELDS), "suspended_at": at, "reason": reason})
        return {**answer, "model_status": "suspended", "suspended_reason": reason}

    @transaction(
        "GetModelPerformance",
        read_only=True,
        arguments={"model_id": schema.ID, "version": SEMANTIC_VERSION},
        returns=documents.ModelPerformance,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_model_performance(self, ctx: Context, model_id: str, version: str) -> dict[str, Any]:
        """A model version's live performance from the recorded outcomes, overall and per subgroup with their
        counts (since its latest approval, which the monitoring judges, and over all time), its monitoring bounds
        and status; for auditors of the health authority and the researcher who registered it."""
        who = caller(ctx)
        model = require_model(ctx, model_id, version)
        require_overseer(who, model, "a model's live performance")
        task = model.get("task", "classification")
        policy_version, monitoring = _monitoring(ctx, model)
        entry = performance(ctx, model)
        answer = {
            "model_id": model_id,
            "version": version,
            "task": task,
            "status": model["status"],
            "approved_at": model.get("approved_at", ""),
            "policy_version": policy_version,
            "monitoring": monitoring,
            "unmonitored": unmonitored(task, monitoring),
            "since_approval": live(task, entry["since_approval"]),
            "all_time": live(task, entry["all_time"]),
        }
        answer.update((k, model[k]) for k in ("suspended_at", "suspended_reason") if k in model)
        return answer
