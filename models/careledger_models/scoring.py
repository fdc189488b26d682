"""Scoring opened records: the per-record work of the runner, done in its own interpreter (the serial path)
or in its scoring processes (careledger_models.pool), by the same function either way.

Each sealed record is opened (the wrapped key's binding to record, patient and version and the ciphertext's
integrity are checked on the way), its features are read and checked against the model's feature schema
(problems are reported per record, nothing is imputed), and the rows that pass are predicted with XGBoost's
own SHAP contributions. An inference carries the digests the ledger records: of the canonical input row and
of the explanation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgboost as xgb
from careledger.services import OpenedRecord, SealedRecord
from careledger_protocol import Model, sha256_of_json

from .datasets import canonical_row, check_features, from_observation

# XGBoost's own threads: one. Its OpenMP threads spin-wait after each call, and at a few hundred rows a call
# that spinning cost three times the prediction's CPU (measured: 20 ms against 5 ms per 64 rows); the
# batches and the scoring processes are the parallelism. The values predicted do not depend on it.
XGB_THREADS = 1


def load_booster(artifact: bytes) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray(artifact))
    booster.set_param({"nthread": XGB_THREADS})
    return booster


@dataclass(frozen=True)
class ModelSpec:
    """What scoring needs to know of an approved model besides its booster (picklable, for the processes)."""

    features: tuple[str, ...]
    schema: list[dict[str, Any]]
    classification: bool
    artifact_sha256: str

    @classmethod
    def of(cls, model: Model) -> ModelSpec:
        """A registry entry's spec; an entry without a task is a classifier, as the registry defaults it."""
        schema = model["feature_schema"]
        classification = model.get("task", "classification") == "classification"
        return cls(tuple(f["name"] for f in schema), schema, classification, model["artifact_sha256"])


@dataclass
class Inference:
    record_id: str
    patient_id: str
    output: dict[str, Any]
    contributions: dict[str, float]  # per feature, plus "bias"
    input_sha256: str
    explanation_sha256: str
    access_tx_id: str
    ciphertext_sha256: str  # the record version the access decided on, which the model saw


@dataclass
class Scored:
    inferences: list[Inference] = field(default_factory=list)
    invalid: list[tuple[str, list[str]]] = field(default_factory=list)  # (record, problems): not scored

    def extend(self, other: Scored) -> None:
        self.inferences.extend(other.inferences)
        self.invalid.extend(other.invalid)


def score_sealed(
    items: Sequence[SealedRecord],
    open_record: Callable[[SealedRecord], OpenedRecord],
    booster: xgb.Booster,
    spec: ModelSpec,
) -> Scored:
    """Open, check and score records in their order (`booster` from load_booster). An integrity failure
    raises (IntegrityError) as the session's decrypt does; schema problems are returned per record."""
    scored = Scored()
    rows: list[list[float]] = []
    kept: list[SealedRecord] = []
    for item in items:
        opened = open_record(item)
        features = from_observation(opened.resource)
        problems = check_features(spec.schema, features)
        if problems:
            scored.invalid.append((item.record_id, problems))
            continue
        rows.append([float(features[f]) for f in spec.features])
        kept.append(item)
    if not kept:
        return scored
    names = list(spec.features)
    matrix = xgb.DMatrix(np.array(rows), feature_names=names, nthread=XGB_THREADS)
    predictions = booster.predict(matrix).tolist()
    contributions = booster.predict(matrix, pred_contribs=True).tolist()
    explained = [*names, "bias"]
    for item, row, prediction, contrib in zip(kept, rows, predictions, contributions, strict=True):
        output: dict[str, Any] = (
            {"probability": round(prediction, 6), "label": "positive" if prediction >= 0.5 else "negative"}
            if spec.classification
            else {"prediction": round(prediction, 4)}
        )
        explanation = {name: round(v, 6) for name, v in zip(explained, contrib, strict=True)}
        scored.inferences.append(
            Inference(
                record_id=item.record_id,
                patient_id=item.patient_id,
                output=output,
                contributions=explanation,
                input_sha256=hashlib.sha256(canonical_row(dict(zip(names, row, strict=True)))).hexdigest(),
                explanation_sha256=sha256_of_json(explanation),
                access_tx_id=item.access_tx_id,
                ciphertext_sha256=item.key_entry["ciphertext_sha256"],
            )
        )
    return scored
