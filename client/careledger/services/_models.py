"""The model registry and inference records: researchers register model versions, the health authority's
auditors approve and retire them, clinicians record inferences; patients see the inferences on their records."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

from careledger_protocol import (
    ApprovalPolicy,
    CohortLeaf,
    Inference,
    InferenceReview,
    InferenceReviews,
    InferencesRecorded,
    InferenceTrace,
    Model,
    ModelPerformance,
    ModelUse,
    OutcomeRecorded,
    Reproduction,
    Verification,
)

from ..json_types import JsonArgument
from ._core import SessionCore


class ModelFlows(SessionCore):
    def models(self, model_id: str = "") -> list[Model]:
        """Every version of one model, or of every model ("")."""
        return self._all_pages("ListModels", model_id)

    def model(self, model_id: str, version: str) -> Model:
        model: Model = self._evaluate("GetModel", model_id, version)
        return model

    def register_model(self, card: Mapping[str, JsonArgument], cohort: Sequence[CohortLeaf] = ()) -> Model:
        """Register a model version from its card (careledger_models writes one with every trained model). A
        model trained on records read from the ledger sends its cohort's leaves, as transient data: the ledger
        checks them against its research access decisions and keeps only their Merkle root."""
        transient: dict[str, JsonArgument] = {"cohort": [list(leaf) for leaf in cohort]} if cohort else {}
        model: Model = self._submit("RegisterModel", dict(card), transient=transient or None)
        return model

    def approve_model(self, model_id: str, version: str, reproduced: Reproduction) -> Model:
        """Approve a model version (an auditor of the health authority), with the metrics this auditor reproduced
        (careledger_models.verify); the ledger refuses when they differ or the approval policy is not met."""
        evidence: dict[str, JsonArgument] = {
            "artifact_sha256": reproduced["artifact_sha256"],
            "evaluation_fingerprint": reproduced["evaluation_fingerprint"],
            "metrics": reproduced["metrics"],
            "subgroup_metrics": reproduced["subgroup_metrics"],
        }
        model: Model = self._submit("ApproveModel", model_id, version, evidence)
        return model

    def set_approval_policy(self, policy: Mapping[str, JsonArgument]) -> ApprovalPolicy:
        """Set the approval policy of a task as its next version (an auditor of the health authority)."""
        set_policy: ApprovalPolicy = self._submit("SetApprovalPolicy", dict(policy))
        return set_policy

    def approval_policy(self, model_id: str, version: int | None = None) -> ApprovalPolicy:
        """A model's current approval policy, or the given version of it."""
        policy: ApprovalPolicy = self._evaluate("GetApprovalPolicy", model_id, "" if version is None else str(version))
        return policy

    def retire_model(self, model_id: str, version: str, reason: str) -> Model:
        model: Model = self._submit("RetireModel", model_id, version, reason)
        return model

    def record_inferences(
        self,
        batch: Mapping[str, JsonArgument],
        outputs: Mapping[str, JsonArgument],
        explanations: Mapping[str, JsonArgument],
    ) -> InferencesRecorded:
        """Record a batch of inferences. The outputs and explanations (per-feature contributions) are patient
        data: they go as transient data with a random salt, kept as private data that erasure purges; the block
        holds the outputs' salted digests and the explanations' digests, which the ledger checks them against."""
        transient: dict[str, JsonArgument] = {
            "outputs": outputs,
            "explanations": explanations,
            "salt": secrets.token_hex(16),
        }
        recorded: InferencesRecorded = self._submit("RecordInferences", dict(batch), transient=transient)
        return recorded

    def inferences_of(self, patient_id: str | None = None) -> list[Inference]:
        """The inferences on a patient's records (this member's own, by default)."""
        patient = self.qualify(patient_id) if patient_id else self.member_id()
        return self._all_pages("ListInferencesByPatient", patient)

    def inferences_on(self, record_id: str) -> list[Inference]:
        return self._all_pages("ListInferencesByRecord", record_id)

    def trace_inference(self, inference_id: str) -> InferenceTrace:
        """An inference (named `<transaction id>:<n>`) and every link it rests on, as the ledger checked them."""
        trace: InferenceTrace = self._evaluate("TraceInference", inference_id)
        return trace

    # -- oversight: reviews, outcomes, use and live performance ------------------------------------------------
    def review_inference(self, inference_id: str, reason: str, override: float | None = None) -> InferenceReview:
        """Confirm an inference (a clinician who may see the record), or override it with your own result (the
        class 0 or 1, or the value), saying why. The reason and the result are patient data: they go as transient
        data with a random salt, kept as private data that erasure purges; the block holds their salted digests."""
        transient: dict[str, JsonArgument] = {"reason": reason, "salt": secrets.token_hex(16)}
        if override is not None:
            transient["override"] = override
        review = {"inference_id": inference_id, "decision": "confirm" if override is None else "override"}
        reviewed: InferenceReview = self._submit("ReviewInference", review, transient=transient)
        return reviewed

    def inference_reviews(self, inference_id: str) -> InferenceReviews:
        """Every review of an inference, and whether its outcome is recorded (reasons for those who may read them)."""
        reviews: InferenceReviews = self._evaluate("GetInferenceReviews", inference_id)
        return reviews

    def record_outcome(self, inference_id: str, value: float, subgroups: Sequence[str] = ()) -> OutcomeRecorded:
        """Record an inference's ground truth (the true class 0 or 1, or the true value) and the model's subgroups the
        patient belongs to, worked out from the record: patient data, sent as transient data with a random salt. The
        answer says whether the model was suspended by it."""
        outcome: dict[str, JsonArgument] = {"value": value, "subgroups": list(subgroups)}
        transient: dict[str, JsonArgument] = {"outcome": outcome, "salt": secrets.token_hex(16)}
        recorded: OutcomeRecorded = self._submit("RecordOutcome", {"inference_id": inference_id}, transient=transient)
        return recorded

    def model_use(self, model_id: str, version: str) -> ModelUse:
        """A model version's use log (auditors of the health authority, the researcher who registered it)."""
        use: ModelUse = self._evaluate("GetModelUse", model_id, version)
        return use

    def model_verifications(self, model_id: str, version: str) -> list[Verification]:
        """Who verified which result of a model version, oldest first (every page; auditors, its researcher)."""
        verifications: list[Verification] = self._all_pages("ListModelVerifications", model_id, version)
        return verifications

    def model_performance(self, model_id: str, version: str) -> ModelPerformance:
        """A model version's live performance and monitoring bounds (auditors, the registering researcher)."""
        performance: ModelPerformance = self._evaluate("GetModelPerformance", model_id, version)
        return performance
