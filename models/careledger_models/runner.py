"""Registering models, and running an approved one only on records the patient authorized.

The runner requests access in batches (purpose diagnosis-ai); only allowed records are fetched and
decrypted; each is checked against the feature schema (problems are reported per record, never
imputed); the model is loaded only if its artifact hashes to an approved, not retired, registry
entry; predictions come with XGBoost's own SHAP contributions; every inference is recorded on the
ledger (model version, record, input digest, output, explanation digest) in batches.

Opening and scoring (scoring.score_sealed) runs in this interpreter, batches taking turns, or with
`processes` in that many scoring processes (careledger_models.pool) that hold the keys and the model;
both give the same inferences. Batches overlap their ledger round trips either way.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Self

from careledger.errors import CareLedgerError, EndorseError
from careledger.json_types import JsonArgument
from careledger.services import OpenedRecord, Refused, SealedRecord, Session
from careledger_protocol import AccessResult, CohortLeaf, Grant, InferencesRecorded, Model, Purpose
from joserfc.jwk import ECKey

from .pool import ScoringPool, WorkerKeys
from .scoring import Inference, ModelSpec, Scored, load_booster, score_sealed
from .train import TrainedModel, next_version

__all__ = ["Inference", "ModelRefused", "ModelRunner", "RunReport", "RunnerSession", "register"]


class ModelRefused(CareLedgerError):
    """The model may not run: not registered, not approved, retired, or its artifact differs."""


def register(session: Session, trained: TrainedModel) -> Model:
    """Register a trained model (as a researcher); the same artifact keeps its version, another gets the next."""
    version, already = next_version(session.models(trained.model_id), trained.card["artifact_sha256"])
    card = {**trained.card, "version": version}
    trained.artifact.with_name("card.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    if already:
        return session.model(trained.model_id, version)
    cohort_file = trained.artifact.with_name("cohort.json")
    cohort = [CohortLeaf(*leaf) for leaf in json.loads(cohort_file.read_text())] if cohort_file.exists() else []
    return session.register_model(card, cohort)


class RunnerSession(Protocol):
    """What the runner asks of its session (a careledger Session; offline benchmarks and tests give theirs)."""

    org_key: ECKey | None

    def model(self, model_id: str, version: str) -> Model: ...
    def grants_to_me(self) -> list[Grant]: ...
    def request_access(self, record_ids: list[str], purpose: str) -> AccessResult: ...
    def fetch_allowed(self, result: AccessResult) -> list[SealedRecord | Refused]: ...
    def decrypt(self, sealed: SealedRecord) -> OpenedRecord: ...
    def encryption_key(self) -> ECKey: ...
    def record_inferences(
        self,
        batch: Mapping[str, JsonArgument],
        outputs: Mapping[str, JsonArgument],
        explanations: Mapping[str, JsonArgument],
    ) -> InferencesRecorded: ...


@dataclass
class RunReport:
    model_id: str
    version: str
    inferences: list[Inference] = field(default_factory=list)
    denied: list[tuple[str, str]] = field(default_factory=list)  # (record, reason): never decrypted
    invalid: list[tuple[str, list[str]]] = field(default_factory=list)  # (record, problems): not scored
    inference_tx_ids: list[str] = field(default_factory=list)


class ModelRunner:
    """`processes=0` opens and scores in this interpreter; `processes=N` starts N scoring processes now (they
    hold this session's private keys and the model; see careledger_models.pool), used until `close()`."""

    def __init__(
        self,
        session: RunnerSession,
        artifact: Path,
        model_id: str,
        version: str,
        batch_size: int = 250,
        processes: int = 0,
    ) -> None:
        self.session = session
        self.model_id, self.version = model_id, version
        self.batch_size = batch_size
        raw = artifact.read_bytes()  # read once: the bytes checked are the bytes loaded
        self.entry = self._approved_entry(artifact, raw)
        self.schema = self.entry["feature_schema"]
        self.features = [f["name"] for f in self.schema]
        self.spec = ModelSpec.of(self.entry)
        self.booster = load_booster(raw)
        self._cpu_turn = threading.Lock()
        self.pool = ScoringPool(WorkerKeys.of(session), raw, self.spec, processes) if processes > 0 else None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _approved_entry(self, artifact: Path, raw: bytes) -> Model:
        try:
            entry = self.session.model(self.model_id, self.version)
        except EndorseError as exc:
            raise ModelRefused(f"{self.model_id}@{self.version} is not in the registry: {exc}") from None
        if entry["status"] != "approved":
            raise ModelRefused(f"{self.model_id}@{self.version} is {entry['status']}, not approved: it may not run")
        actual = hashlib.sha256(raw).hexdigest()
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
        sealed: list[SealedRecord] = []
        for item in self.session.fetch_allowed(access):  # denied records are never fetched
            if isinstance(item, Refused):
                part.denied.append((item.record_id, item.reason))
            else:
                sealed.append(item)
        scored = self._score(sealed)
        part.inferences, part.invalid = scored.inferences, scored.invalid
        if not part.inferences:
            return part
        batch_doc: dict[str, JsonArgument] = {
            "model_id": self.model_id,
            "version": self.version,
            "artifact_sha256": self.entry["artifact_sha256"],
            "access_tx_id": part.inferences[0].access_tx_id,
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
        explanations = {i.record_id: i.contributions for i in part.inferences}
        part.inference_tx_ids.append(self.session.record_inferences(batch_doc, outputs, explanations)["tx_id"])
        return part

    def _score(self, sealed: list[SealedRecord]) -> Scored:
        if self.pool is not None:
            return self.pool.score(sealed)
        # Decryption and prediction hold the GIL; batches take turns so that one finishes early and
        # records its inferences on the ledger while the next decrypts, instead of all finishing together.
        with self._cpu_turn:
            return score_sealed(sealed, self.session.decrypt, self.booster, self.spec)
