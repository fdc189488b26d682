"""What a patient is shown about a model run on their record (the portal's model card).

Which model ran and whether it is still in use (suspended or retired, with the reason); who approved it,
when, and under which approval policy; how well it did in validation overall and for people like the patient
(the registered subgroups whose rule the patient's own record meets, read from the record only in the
patient's session); the result, its explanation as the features that moved it most, in plain words; and
every link of its trail as the ledger checked it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from careledger.errors import CareLedgerError
from careledger.services import OpenedRecord, Session
from careledger_protocol import InferenceReview, InferenceTrace, Purpose, SubgroupRule

from .datasets import Subgroup, from_observation

TOP = 5  # the features named in the sentence and drawn in the chart, by size of contribution


@dataclass(frozen=True)
class ModelCard:
    trace: InferenceTrace
    status: str  # "in use", or why not
    overall: dict[str, float]
    like_you: dict[str, dict[str, float]]  # subgroup -> its registered metrics
    contributions: list[tuple[str, float]] = field(default_factory=list)  # largest first, "bias" left out
    sentence: str = ""
    units: str = ""
    oversight: str = "not reviewed by a clinician yet"  # the latest review, in words

    @property
    def trail_holds(self) -> bool:
        return all(link["ok"] for link in self.trace["links"])


def model_card(session: Session, inference_id: str) -> ModelCard:
    trace = session.trace_inference(inference_id)
    inference, model = trace["inference"], trace["model"]
    if model["status"] == "approved":
        status = "in use"
    elif model["status"] == "retired":
        status = f"retired on {model.get('retired_at', '')[:10]}: {model.get('retired_reason', '')}"
    else:
        status = f"{model['status']}: {model.get('suspended_reason', 'not approved for use now')}"
    rules = model.get("training", {}).get("subgroups", [])
    groups = record_subgroups(session, inference["record_id"], inference["ciphertext_sha256"], rules) or []
    like_you = {g: model["subgroup_metrics"][g] for g in groups if g in model["subgroup_metrics"]}
    contributions = sorted(
        ((name, value) for name, value in (inference.get("explanation") or {}).items() if name != "bias"),
        key=lambda item: -abs(item[1]),
    )[:TOP]
    classification = model.get("task", "classification") == "classification"
    reviews = session.inference_reviews(inference_id)["reviews"]
    return ModelCard(
        trace,
        status,
        model["metrics"],
        like_you,
        contributions,
        _sentence(inference.get("output"), contributions, classification),
        "log-odds" if classification else "units of the predicted value",
        _oversight(reviews[-1]) if reviews else "not reviewed by a clinician yet",
    )


def _oversight(review: InferenceReview) -> str:
    verb = "confirmed" if review["decision"] == "confirm" else "overridden"
    said = f"{verb} by {review['reviewer']} on {review['time'][:10]}"
    if review["decision"] == "override" and review.get("override") is not None:
        said += f", whose own result is {review.get('override')}"
    if review.get("reason"):
        said += f": “{review.get('reason')}”"
    return said


def record_subgroups(
    session: Session, record_id: str, ciphertext_sha256: str, rules: list[SubgroupRule]
) -> list[str] | None:
    """The model's subgroups (its registered rules) the record's patient is in, from the record version the
    model saw, opened in this session (an access like any other, on the ledger); None when this session cannot
    open that version (refused, erased, or a newer version replaced it)."""
    if not rules:
        return []
    try:
        [opened] = session.open_records([record_id], Purpose.DIAGNOSIS_AI)
    except CareLedgerError:
        return None
    if not isinstance(opened, OpenedRecord) or opened.ciphertext_sha256 != ciphertext_sha256:
        return None
    features = from_observation(opened.resource)
    groups = [Subgroup(**rule) for rule in rules]
    return [g.name for g in groups if isinstance(value := features.get(g.feature), int | float) and g.contains(value)]


def _sentence(output: dict[str, object] | None, contributions: list[tuple[str, float]], classification: bool) -> str:
    if output is None:
        return "The result is no longer kept: the record was erased."
    if classification:
        probability = output.get("probability")
        share = f"{float(probability):.0%}" if isinstance(probability, int | float) else "an unknown"
        said = f"The model gave the result “{output.get('label')}”, with {share} probability."
    else:
        said = f"The model predicted {output.get('prediction')}."
    up = [n for n, v in contributions if v > 0][:2]
    down = [n for n, v in contributions if v < 0][:2]
    if up:
        said += f" What raised it most: {' and '.join(up)}."
    if down:
        said += f" What lowered it most: {' and '.join(down)}."
    return said
