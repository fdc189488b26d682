"""Registering models, and running an approved one only on records the patient authorized.

The runner requests access in batches (purpose diagnosis-ai); only allowed records are fetched and
decrypted; each is checked against the feature schema (problems are reported per record, never
imputed); the model is loaded only if its artifact hashes to an approved, not retired, registry
entry; predictions come with XGBoost's own SHAP contributions; every inference is recorded on the
ledger (model version, record, input digest, output, explanation digest) in batches.
"""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from careledger.errors import CareLedgerError, EndorseError
from careledger.json_types import JsonArgument
from careledger.services import OpenedRecord, Refused, Session
from careledger_protocol import Model, Purpose

from .datasets import canonical_row, check_features, from_observation
from .train import TrainedModel, next_version


class ModelRefused(CareLedgerError):
    """The model may not run: not registered, not approved, retired, or its artifact differs."""


def register(session: Session, trained: TrainedModel) -> Model:
    """Register a trained model (as a researcher); the same artifact keeps its version, another gets the next."""
    version, already = next_version(session.models(trained.model_id), trained.card["artifact_sha256"])
    card = {**trained.card, "version": version}
    trained.artifact.with_name("card.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    if already:
        return session.model(trained.model_id, version)
    return session.register_model(card)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


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
class RunReport:
    model_id: str
    version: str
    inferences: list[Inference] = field(default_factory=list)
    denied: list[tuple[str, str]] = field(default_factory=list)  # (record, reason): never decrypted
    invalid: list[tuple[str, list[str]]] = field(default_factory=list)  # (record, problems): not scored
    inference_tx_ids: list[str] = field(default_factory=list)


class ModelRunner:
    def __init__(self, session: Session, artifact: Path, model_id: str, version: str, batch_size: int = 250) -> None:
        self.session = session
        self.model_id, self.version = model_id, version
        self.batch_size = batch_size
        self.entry = self._approved_entry(artifact)
        self.schema = self.entry["feature_schema"]
        self.features = [f["name"] for f in self.schema]
        self.booster = xgb.Booster()
        self.booster.load_model(bytearray(artifact.read_bytes()))
        self._cpu_turn = threading.Lock()

    def _approved_entry(self, artifact: Path) -> Model:
        try:
            entry = self.session.model(self.model_id, self.version)
        except EndorseError as exc:
            raise ModelRefused(f"{self.model_id}@{self.version} is not in the registry: {exc}") from None
        if entry["status"] != "approved":
            raise ModelRefused(f"{self.model_id}@{self.version} is {entry['status']}, not approved: it may not run")
        actual = hashlib.sha256(artifact.read_bytes()).hexdigest()
        if actual != entry["artifact_sha256"]:
            raise ModelRefused(
                f"the artifact {artifact} does not match the approved {self.model_id}@{self.version} "
                f"(SHA-256 {actual[:16]}… instead of {entry['artifact_sha256'][:16]}…): refusing to run it"
            )
        return entry

    def authorized_records(self) -> list[str]:
        """Every record a current consent lets this caller (or its organization) use for diagnosis-ai."""
        grants = self.session.grants_to_me()
        records = {
            r
            for g in grants
            if g["status"] == "active" and Purpose.DIAGNOSIS_AI in g["purposes"]
            for r in g["keyed_records"]
        }
        return sorted(records)

    def run(self, record_ids: list[str] | None = None, workers: int = 8) -> RunReport:
        ids = record_ids if record_ids is not None else self.authorized_records()
        report = RunReport(self.model_id, self.version)
        batches = [ids[i : i + self.batch_size] for i in range(0, len(ids), self.batch_size)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for part in pool.map(self._run_batch, batches):
                report.inferences.extend(part.inferences)
                report.denied.extend(part.denied)
                report.invalid.extend(part.invalid)
                report.inference_tx_ids.extend(part.inference_tx_ids)
        return report

    def _run_batch(self, batch: list[str]) -> RunReport:
        part = RunReport(self.model_id, self.version)
        access = self.session.request_access(batch, purpose=Purpose.DIAGNOSIS_AI)
        fetched = self.session.fetch_allowed(access)  # denied records are never fetched
        # Decryption and prediction hold the GIL; batches take turns so that one finishes early and
        # records its inferences on the ledger while the next decrypts, instead of all finishing together.
        with self._cpu_turn:
            rows: list[list[float]] = []
            kept: list[OpenedRecord] = []
            ciphertexts: dict[str, str] = {}
            for item in fetched:
                if isinstance(item, Refused):
                    part.denied.append((item.record_id, item.reason))
                    continue
                opened = self.session.decrypt(item)
                features = from_observation(opened.resource)
                problems = check_features(self.schema, features)
                if problems:
                    part.invalid.append((item.record_id, problems))
                    continue
                rows.append([float(features[f]) for f in self.features])
                kept.append(opened)
                ciphertexts[item.record_id] = item.key_entry["ciphertext_sha256"]
            if not kept:
                return part
            matrix = xgb.DMatrix(pd.DataFrame(np.array(rows), columns=self.features), feature_names=self.features)
            predictions = self.booster.predict(matrix)
            contributions = self.booster.predict(matrix, pred_contribs=True)
        classification = self.entry.get("task", "classification") == "classification"
        for record, row, prediction, contrib in zip(kept, rows, predictions, contributions, strict=True):
            output: dict[str, Any] = (
                {"probability": round(float(prediction), 6), "label": "positive" if prediction >= 0.5 else "negative"}
                if classification
                else {"prediction": round(float(prediction), 4)}
            )
            explanation = {name: round(float(v), 6) for name, v in zip([*self.features, "bias"], contrib, strict=True)}
            part.inferences.append(
                Inference(
                    record_id=record.record_id,
                    patient_id=record.patient_id,
                    output=output,
                    contributions=explanation,
                    input_sha256=hashlib.sha256(canonical_row(dict(zip(self.features, row, strict=True)))).hexdigest(),
                    explanation_sha256=_digest(explanation),
                    access_tx_id=record.access_tx_id,
                    ciphertext_sha256=ciphertexts[record.record_id],
                )
            )
        batch_doc: dict[str, JsonArgument] = {
            "model_id": self.model_id,
            "version": self.version,
            "artifact_sha256": self.entry["artifact_sha256"],
            "access_tx_id": kept[0].access_tx_id,
            "inferences": [
                {
                    "record_id": i.record_id,
                    "ciphertext_sha256": i.ciphertext_sha256,
                    "input_sha256": i.input_sha256,
                    "explanation_sha256": i.explanation_sha256,
                }
                for i in part.inferences
            ],
        }
        # Outputs are patient data: transient, kept as private data that erasure purges; salted digests in public.
        outputs = {i.record_id: i.output for i in part.inferences}
        part.inference_tx_ids.append(self.session.record_inferences(batch_doc, outputs)["tx_id"])
        return part
