"""Reproducing a registered model's metrics, as an auditor does before approving it (`careledger model verify`).

The artifact must hash to the registered one; the evaluation rows are rebuilt from what the training run
registered (the data source, the seed and the held-out fraction) and must have the registered fingerprint;
the model is run on them and every metric, overall and per subgroup, is recomputed and compared. Only then
does `approve` send the reproduction to the ledger, which compares again and applies the approval policy.

A model trained on a cohort read from the ledger is evaluated on consented records: reproducing it needs
research access to those records, which auditors do not have. Such models are refused here, saying so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from careledger.errors import CareLedgerError
from careledger.services import Session
from careledger_protocol import Model, Reproduction, metric_mismatches, sha256_of_json

from .datasets import DATASETS, fingerprint
from .scoring import load_booster
from .train import evaluation_split, score


class NotReproducible(CareLedgerError):
    """The metrics cannot be recomputed here: the message says what is missing or differs."""


@dataclass(frozen=True)
class Verification:
    model: Model
    reproduction: Reproduction
    mismatches: list[str]  # empty: every registered metric was reproduced

    @property
    def reproduced(self) -> bool:
        return not self.mismatches


def reproduce(model: Model, artifact: Path) -> Reproduction:
    """The metrics of `model` recomputed from `artifact` on the evaluation rows its training run names."""
    training = model.get("training")
    if training is None:
        raise NotReproducible(
            f"{model['model_id']}@{model['version']} was registered without its training run: nothing says which "
            "data it was evaluated on"
        )
    artifact_sha256 = hashlib.sha256(artifact.read_bytes()).hexdigest()
    if artifact_sha256 != model["artifact_sha256"]:
        raise NotReproducible(
            f"{artifact} is not the registered artifact (SHA-256 {artifact_sha256[:16]}… instead of "
            f"{model['artifact_sha256'][:16]}…)"
        )
    source = training["data_source"]
    name = source.removeprefix("scikit-learn:")
    if name == source or name not in DATASETS:
        raise NotReproducible(
            f"{model['model_id']}@{model['version']} was evaluated on {source}: reproducing it needs research access "
            "to those records, which this verifier does not have"
        )
    dataset = DATASETS[name]()
    if sha256_of_json(dataset.schema) != training["schema_sha256"]:
        raise NotReproducible(f"the {name} data here has another feature schema than the model was trained with")
    x_test, y_test = evaluation_split(dataset, training["seed"], float(model["parameters"]["test_fraction"]))
    evaluation_fingerprint = fingerprint(x_test, y_test)
    if evaluation_fingerprint != training["evaluation_fingerprint"]:
        raise NotReproducible(
            "the evaluation rows rebuilt here differ from those the model was evaluated on (fingerprint "
            f"{evaluation_fingerprint[:16]}… instead of {training['evaluation_fingerprint'][:16]}…)"
        )
    scores = score(dataset, load_booster(artifact.read_bytes()), x_test, y_test.to_numpy())
    return {
        "artifact_sha256": artifact_sha256,
        "evaluation_fingerprint": evaluation_fingerprint,
        "metrics": scores.metrics,
        "subgroup_metrics": scores.subgroups,
    }


def verify(session: Session, model_id: str, version: str, artifact: Path) -> Verification:
    """Reproduce a registered model version's metrics and say which, if any, differ."""
    model = session.model(model_id, version)
    reproduction = reproduce(model, artifact)
    mismatches = metric_mismatches(
        model["metrics"],
        model.get("subgroup_metrics", {}),
        reproduction["metrics"],
        reproduction["subgroup_metrics"],
    )
    return Verification(model, reproduction, mismatches)


def approve_verified(session: Session, verification: Verification) -> Model:
    """Approve what reproduced, sending the reproduction (the ledger compares again and applies the policy)."""
    if not verification.reproduced:
        raise NotReproducible(f"the registered metrics do not reproduce: {'; '.join(verification.mismatches)}")
    model = verification.model
    return session.approve_model(model["model_id"], model["version"], verification.reproduction)


def verify_and_approve(session: Session, model_id: str, version: str, artifact: Path) -> Model:
    """What an approving auditor does: reproduce, and approve only what reproduced."""
    return approve_verified(session, verify(session, model_id, version, artifact))
