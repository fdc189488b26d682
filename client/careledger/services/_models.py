"""The model registry and inference records: researchers register model versions, the health authority's
auditors approve and retire them, clinicians record inferences; patients see the inferences on their records."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from careledger_protocol import Inference, InferencesRecorded, Model

from ..json_types import JsonArgument
from ._core import SessionCore


class ModelFlows(SessionCore):
    def models(self, model_id: str = "") -> list[Model]:
        """Every version of one model, or of every model ("")."""
        return self._all_pages("ListModels", model_id)

    def model(self, model_id: str, version: str) -> Model:
        model: Model = self._evaluate("GetModel", model_id, version)
        return model

    def register_model(self, card: Mapping[str, JsonArgument]) -> Model:
        """Register a model version from its card (careledger_models writes one with every trained model)."""
        model: Model = self._submit("RegisterModel", dict(card))
        return model

    def approve_model(self, model_id: str, version: str) -> Model:
        model: Model = self._submit("ApproveModel", model_id, version)
        return model

    def retire_model(self, model_id: str, version: str, reason: str) -> Model:
        model: Model = self._submit("RetireModel", model_id, version, reason)
        return model

    def record_inferences(
        self, batch: Mapping[str, JsonArgument], outputs: Mapping[str, JsonArgument]
    ) -> InferencesRecorded:
        """Record a batch of inferences. The outputs are patient data: they go as transient data with a
        random salt, kept as private data that erasure purges; the block holds their salted digests."""
        transient: dict[str, JsonArgument] = {"outputs": outputs, "salt": secrets.token_hex(16)}
        recorded: InferencesRecorded = self._submit("RecordInferences", dict(batch), transient=transient)
        return recorded

    def inferences_of(self, patient_id: str | None = None) -> list[Inference]:
        """The inferences on a patient's records (this member's own, by default)."""
        patient = self.qualify(patient_id) if patient_id else self.member_id()
        return self._all_pages("ListInferencesByPatient", patient)

    def inferences_on(self, record_id: str) -> list[Inference]:
        return self._all_pages("ListInferencesByRecord", record_id)
