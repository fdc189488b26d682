"""The documents of the model registry and of watching models in use (issue 18): model versions, their training
runs and approval policies, inferences, their traces, reviews and outcomes, use logs and live performance.
careledger_protocol.documents re-exports every name here."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from ._core_documents import AuditEvent, Grant


class Model(TypedDict):
    """A model version in the registry, with what it was trained on and how well it does."""

    model_id: str
    version: str
    artifact_sha256: str
    format: str
    training_data_fingerprint: str
    feature_schema: list[dict[str, Any]]
    parameters: dict[str, Any]
    metrics: dict[str, float]
    subgroup_metrics: dict[str, dict[str, float]]
    code_ref: str
    libraries: dict[str, str]
    trained_at: str
    task: Literal["classification", "regression"]
    description: str
    status: Literal["registered", "approved", "suspended", "retired"]
    registered_by: str
    registered_org: str
    registered_at: str
    training: NotRequired[TrainingRun]  # models registered before training runs were recorded have none
    approved_by: NotRequired[str]
    approved_at: NotRequired[str]
    approval: NotRequired[Approval]
    retired_by: NotRequired[str]
    retired_at: NotRequired[str]
    retired_reason: NotRequired[str]
    suspended_at: NotRequired[str]  # the latest suspension by the outcome checks (kept after a re-approval)
    suspended_reason: NotRequired[str]  # in words: the metric, its live value, the monitoring bound it crossed


class Cohort(TypedDict):
    """The consented records a model was trained and evaluated on, as the ledger checked them at registration:
    the research access transactions that released them and the Merkle root over their versions."""

    access_tx_ids: list[str]
    records: int
    merkle_root: str


class SubgroupRule(TypedDict):
    """Who a subgroup is: those whose `feature` lies in [low, high) (an open end is left out)."""

    name: str
    feature: str
    low: NotRequired[float]
    high: NotRequired[float]


class TrainingRun(TypedDict):
    """How a model version was made, enough to trace and reproduce it."""

    seed: int
    evaluation_fingerprint: str  # the SHA-256 of the held-out evaluation rows and labels
    schema_sha256: str  # the feature schema's canonical JSON
    transform_sha256: str  # the feature pipeline's code (record -> feature row)
    data_source: str  # "ledger-cohort", or the public dataset it came from
    cohort: NotRequired[Cohort]
    subgroups: NotRequired[list[SubgroupRule]]  # who each subgroup of subgroup_metrics is


class ApprovalPolicy(TypedDict):
    """What a model's versions must show to be approved, and to stay approved in use; versioned."""

    model_id: str
    version: int
    min_metrics: dict[str, float]  # overall metric >= bound
    max_metrics: dict[str, float]  # overall metric <= bound
    required_subgroups: list[str]
    min_subgroup_n: int
    max_subgroup_gap: dict[str, float]  # for a metric, best subgroup minus worst <= bound
    monitoring: dict[str, Any]  # live bounds after approval: {"min_outcomes", "min_metrics", "max_metrics"}
    set_by: str
    set_at: str


class Reproduction(TypedDict):
    """ApproveModel's evidence: the metrics an auditor recomputed from the artifact on the evaluation data."""

    artifact_sha256: str
    evaluation_fingerprint: str
    metrics: dict[str, float]
    subgroup_metrics: dict[str, dict[str, float]]


class Approval(TypedDict):
    """Which policy version approved a model, and the metrics the approving auditor reproduced."""

    policy_version: int
    reproduced_sha256: str  # SHA-256 of the canonical JSON of the auditor's recomputed metrics
    evaluation_fingerprint: str


class Inference(TypedDict):
    """One model output on one record version, bound to the access that released the record."""

    record_id: str
    ciphertext_sha256: NotRequired[str]  # absent, with output_sha256, on inferences recorded before layout 2
    input_sha256: str
    explanation_sha256: str
    output_sha256: NotRequired[str]  # salted; the output itself is private data
    tx_id: str
    n: int
    time: str
    model_id: str
    version: str
    artifact_sha256: str
    access_tx_id: str
    requester: str
    requester_org: str
    patient_id: str
    custodian: str
    output: NotRequired[dict[str, Any] | None]  # in listings, for those who may read it and whose peer holds it
    explanation: NotRequired[dict[str, float] | None]  # per-feature contributions and "bias", kept like the output


class TraceLink(TypedDict):
    """One link of an inference's trail, as the ledger checked it."""

    link: Literal["inference", "model", "approval", "access", "consent", "training", "oversight"]
    ok: bool
    detail: str  # what was checked, or where the link fails, in words


class InferenceTrace(TypedDict):
    """TraceInference: an inference and what it rests on (model, approval policy, the access decision that
    released its input, the consent that decision rested on, the training run), each link checked."""

    inference: Inference
    model: Model
    policy: NotRequired[ApprovalPolicy]
    access: NotRequired[AuditEvent]
    grant: NotRequired[Grant]
    reviews: NotRequired[list[InferenceReview]]  # public entries, oldest first (absent only when the model is missing)
    outcome: NotRequired[InferenceOutcome]
    links: list[TraceLink]


class InferencesRecorded(TypedDict):
    tx_id: str
    count: int


class InferenceReview(TypedDict):
    """A clinician's review of an inference (human oversight): the result confirmed or overridden, and why. The
    reason and an override's own result are private data; the public entry holds their salted SHA-256."""

    inference_id: str  # <transaction id>:<n>
    record_id: str
    patient_id: str
    model_id: str
    version: str
    reviewer: str
    reviewer_org: str
    decision: Literal["confirm", "override"]
    time: str
    tx_id: str
    reason_sha256: str  # SHA-256 of the salt, a newline and the reason
    reason_length: int
    override_sha256: NotRequired[str]  # an override: SHA-256 of the salt, a newline and its result as JSON
    # For the patient, auditors of the health authority and the reviewer's organization's clinicians; None when
    # the record was erased (purged) or this peer holds none:
    reason: NotRequired[str | None]
    override: NotRequired[float | None]  # an override: the reviewer's own result
    salt: NotRequired[str]


class InferenceOutcome(TypedDict):
    """That the ground truth of an inference was recorded, and by whom; the truth and the patient's subgroups
    are private data (they count in the model's live performance), the public entry holds their salted SHA-256."""

    inference_id: str
    record_id: str
    patient_id: str
    model_id: str
    version: str
    recorded_by: str
    recorded_org: str
    time: str
    tx_id: str
    outcome_sha256: str  # SHA-256 of the salt, a newline and {"subgroups", "value"} as canonical JSON


class InferenceReviews(TypedDict):
    """GetInferenceReviews: every review of an inference, oldest first; the latest decides."""

    inference_id: str
    status: Literal["unreviewed", "confirmed", "overridden"]  # the latest review's decision
    reviews: list[InferenceReview]
    outcome: NotRequired[InferenceOutcome]  # once its ground truth was recorded


class OutcomeRecorded(TypedDict):
    """RecordOutcome: the outcome's public entry, and the model's status after its monitoring check."""

    outcome: InferenceOutcome
    model_status: Literal["registered", "approved", "suspended", "retired"]
    suspended_reason: NotRequired[str]  # when this outcome suspended the model


class ModelUser(TypedDict):
    member_id: str
    org: str
    inferences: int


class Verification(TypedDict):
    """Who verified a result: one review of one inference."""

    inference_id: str
    reviewer: str
    reviewer_org: str
    decision: Literal["confirm", "override"]
    time: str


class ModelUse(TypedDict):
    """GetModelUse: a model version's use log (EU AI Act art. 12), computed from the ledger's indexes."""

    model_id: str
    version: str
    status: str
    inferences: int
    first_use: str  # the first and last inference's time; "" before any
    last_use: str
    reviewed: int  # inferences with at least one review
    confirmed: int  # by their latest review
    overridden: int
    users: list[ModelUser]  # who ran it, with how many inferences each (who verified what: ListModelVerifications)


class LiveMetrics(TypedDict):
    outcomes: int
    metrics: dict[str, float]  # classification: accuracy, brier; regression: mae, rmse (none before an outcome)


class LivePerformance(TypedDict):
    overall: LiveMetrics
    subgroups: dict[str, LiveMetrics]  # by the model's subgroup names, those with outcomes


class ModelPerformance(TypedDict):
    """GetModelPerformance: a model version's live performance from recorded outcomes, and its monitoring bounds."""

    model_id: str
    version: str
    task: Literal["classification", "regression"]
    status: Literal["registered", "approved", "suspended", "retired"]
    approved_at: str  # the latest approval ("" if none): since_approval counts the outcomes recorded after it
    policy_version: int  # the approval policy version that approved it (0: none, nothing is monitored)
    monitoring: dict[str, Any]  # that policy's {"min_outcomes", "min_metrics", "max_metrics"}
    unmonitored: list[str]  # bounds of it on metrics the ledger does not compute live
    since_approval: LivePerformance  # what the checks judge
    all_time: LivePerformance
    suspended_at: NotRequired[str]
    suspended_reason: NotRequired[str]
