"""Train an XGBoost model and write its artifact (XGBoost JSON) with a model card.

The card is what goes on the ledger (RegisterModel): artifact SHA-256, training-data fingerprint,
feature schema, parameters (with the seed), held-out metrics and per-subgroup metrics, library
versions, code revision and time. A model is identified by (model_id, artifact hash); registering
a different artifact under a model id always takes the next version.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from careledger_protocol import CohortLeaf, Model, Purpose, merkle_root, sha256_of_json

from .datasets import Dataset, fingerprint, transform_sha256

LEDGER_COHORT = "ledger-cohort"  # a training run's data_source when it read consented records from the ledger
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DEFAULT_PARAMS: dict[str, Any] = {"max_depth": 3, "eta": 0.1, "subsample": 0.9, "colsample_bytree": 0.8, "nthread": 2}
ROUNDS = 200


@dataclass(frozen=True)
class Scores:
    metrics: dict[str, float]
    subgroups: dict[str, dict[str, float]]


@dataclass(frozen=True)
class TrainedModel:
    card: dict[str, Any]
    artifact: Path

    @property
    def model_id(self) -> str:
        return str(self.card["model_id"])


def _code_ref() -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "models"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"git:{rev}{'+dirty' if dirty.strip() else ''}"


def _libraries() -> dict[str, str]:
    import sklearn

    return {
        "python": platform.python_version(),
        "xgboost": xgb.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
    }


def _split(n: int, seed: int, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    cut = round(n * (1 - test_fraction))
    return order[:cut], order[cut:]


def _classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score

    metrics = {
        "accuracy": float(accuracy_score(y, p >= 0.5)),
        "brier": float(brier_score_loss(y, p)),
        "n": float(len(y)),
    }
    if len(set(y.tolist())) == 2:
        metrics["auc"] = float(roc_auc_score(y, p))
        metrics["log_loss"] = float(log_loss(y, p, labels=[0, 1]))
    bins = np.minimum((p * 10).astype(int), 9)  # expected calibration error over 10 equal-width bins
    metrics["ece"] = float(
        sum(abs(y[bins == b].mean() - p[bins == b].mean()) * (bins == b).mean() for b in range(10) if (bins == b).any())
    )
    return {k: round(v, 6) for k, v in metrics.items()}


def _regression_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, r2_score

    rmse = float(np.sqrt(np.mean((y - p) ** 2)))
    return {
        k: round(v, 6)
        for k, v in {
            "rmse": rmse,
            "mae": float(mean_absolute_error(y, p)),
            "r2": float(r2_score(y, p)),
            "n": float(len(y)),
        }.items()
    }


def _subgroups(dataset: Dataset, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each of the dataset's subgroups (sex and age bands for diabetes; tumour-size terciles for breast
    cancer) as a mask over the rows."""
    return {group.name: group.mask(frame[group.feature]) for group in dataset.subgroups}


def evaluation_split(dataset: Dataset, seed: int, test_fraction: float) -> tuple[pd.DataFrame, pd.Series]:
    """The held-out rows a model of this seed is evaluated on (a verifier rebuilds them the same way)."""
    _, test_idx = _split(len(dataset.frame), seed, test_fraction)
    return dataset.frame.iloc[test_idx], dataset.target.iloc[test_idx]


def score(dataset: Dataset, booster: xgb.Booster, x_test: pd.DataFrame, y_test: np.ndarray) -> Scores:
    """A model's metrics on evaluation rows, overall and for each subgroup of at least 10 rows."""
    predicted = booster.predict(xgb.DMatrix(x_test, feature_names=dataset.features))
    metric = _classification_metrics if dataset.task == "classification" else _regression_metrics
    subgroups = {
        name: metric(y_test[mask], predicted[mask])
        for name, mask in _subgroups(dataset, x_test).items()
        if mask.sum() >= 10
    }
    return Scores(metric(y_test, predicted), subgroups)


def train(
    dataset: Dataset,
    seed: int = 7,
    test_fraction: float = 0.25,
    out_dir: Path | None = None,
    data_source: str = "",
) -> TrainedModel:
    frame, target = dataset.frame, dataset.target
    train_idx, test_idx = _split(len(frame), seed, test_fraction)
    x_train, y_train = frame.iloc[train_idx], target.iloc[train_idx]
    x_test, y_test = frame.iloc[test_idx], target.iloc[test_idx].to_numpy()
    objective = "binary:logistic" if dataset.task == "classification" else "reg:squarederror"
    params = {**DEFAULT_PARAMS, "objective": objective, "seed": seed}
    booster = xgb.train(
        params, xgb.DMatrix(x_train, label=y_train, feature_names=dataset.features), num_boost_round=ROUNDS
    )
    scores = score(dataset, booster, x_test, y_test)
    out_dir = out_dir or ARTIFACTS
    raw = bytes(booster.save_raw("json"))
    artifact_sha = hashlib.sha256(raw).hexdigest()
    folder = out_dir / f"{dataset.name}-{artifact_sha[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    artifact = folder / "model.json"
    artifact.write_bytes(raw)
    card = {
        "model_id": dataset.name,
        "version": "0.0.0",  # assigned at registration
        "task": dataset.task,
        "artifact_sha256": artifact_sha,
        "format": "xgboost-json",
        "training_data_fingerprint": fingerprint(x_train, y_train),
        "feature_schema": dataset.schema,
        "parameters": {
            **params,
            "num_boost_round": ROUNDS,
            "test_fraction": test_fraction,
            "train_rows": len(train_idx),
        },
        "metrics": scores.metrics,
        "subgroup_metrics": scores.subgroups,
        "training": {
            "seed": seed,
            "evaluation_fingerprint": fingerprint(x_test, target.iloc[test_idx]),
            "schema_sha256": sha256_of_json(dataset.schema),
            "transform_sha256": transform_sha256(),
            "data_source": data_source or f"scikit-learn:{dataset.name}",
            "subgroups": [group.rule() for group in dataset.subgroups],
        },
        "code_ref": _code_ref(),
        "libraries": _libraries(),
        "trained_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "description": f"XGBoost {dataset.task} on {dataset.name} ({len(frame)} rows shipped with scikit-learn)",
    }
    (folder / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    return TrainedModel(card, artifact)


class CohortTooSmall(ValueError):
    """Too few consented, usable records to train on (the message says how many of how many are needed)."""


MIN_COHORT = 20  # records a cohort needs: fewer leave too few held out to report metrics on

Progress = Callable[[str, int, int], None]  # (stage in words, done, total; total 0 when it cannot count)


def train_on_cohort(
    session: Any, dataset: Dataset, seed: int = 7, out_dir: Path | None = None, progress: Progress | None = None
) -> tuple[TrainedModel, dict[str, Any]]:
    """Train on the records whose patients granted this researcher (or its organization) the research purpose.

    Only those records are requested (purpose research), decrypted and used; the fingerprint in the card
    covers exactly them. Returns the trained model and what was used: {"records", "skipped", "frame",
    "target"}, the frame's rows in the order of "records". `progress` hears each stage (the web app shows it)."""
    from careledger.services import OpenedRecord

    from .datasets import check_features, from_observation, outcome_of

    grants = session.grants_to_me()
    wanted = {
        r for g in grants if g["status"] == "active" and Purpose.RESEARCH in g["purposes"] for r in g["keyed_records"]
    }
    candidates = sorted(wanted)
    rows, labels, used, skipped, leaves = [], [], [], [], []
    access_tx_ids: set[str] = set()
    report = progress or (lambda _stage, _done, _total: None)
    for i in range(0, len(candidates), 250):
        report("opening the consented records", i, len(candidates))
        for item in session.open_records(candidates[i : i + 250], purpose=Purpose.RESEARCH):
            if not isinstance(item, OpenedRecord):
                skipped.append((item.record_id, item.reason))
                continue
            features, outcome = from_observation(item.resource), outcome_of(item.resource)
            problems = check_features(dataset.schema, features)
            if problems or outcome is None:
                skipped.append((item.record_id, "; ".join(problems) or "no outcome"))
                continue
            rows.append([float(features[f]) for f in dataset.features])
            labels.append(outcome)
            used.append(item.record_id)
            leaves.append(CohortLeaf(item.record_id, item.version, item.ciphertext_sha256))
            access_tx_ids.add(item.access_tx_id)
    if len(used) < MIN_COHORT:
        raise CohortTooSmall(
            f"only {len(used)} usable records were granted for research; at least {MIN_COHORT} are needed"
        )
    report("training the model", len(candidates), len(candidates))
    frame = pd.DataFrame(rows, columns=dataset.features)
    target = pd.Series(labels, name=dataset.target.name)
    cohort = Dataset(
        dataset.name, dataset.task, frame, target, dataset.schema, dataset.category, dataset.loinc, dataset.subgroups
    )
    trained = train(cohort, seed=seed, out_dir=out_dir, data_source=LEDGER_COHORT)
    trained.card["parameters"].update(cohort_records=len(used), cohort_fingerprint=fingerprint(frame, target))
    trained.card["training"]["cohort"] = {
        "access_tx_ids": sorted(access_tx_ids),
        "records": len(leaves),
        "merkle_root": merkle_root(leaves),
    }
    # The leaves say which records were used: kept beside the artifact (for `model trace`), sent to the ledger
    # as transient data only.
    trained.artifact.with_name("cohort.json").write_text(json.dumps(sorted(leaves)) + "\n")
    trained.card["description"] = f"XGBoost {dataset.task} on {len(used)} consented records read from the ledger"
    return trained, {"records": used, "skipped": skipped, "frame": frame, "target": target}


def next_version(existing: list[Model], artifact_sha: str) -> tuple[str, bool]:
    """(version, already registered): the same artifact keeps its version; another one takes the next."""
    for model in existing:
        if model["artifact_sha256"] == artifact_sha:
            return str(model["version"]), True
    versions = [tuple(int(x) for x in str(m["version"]).split("-")[0].split(".")) for m in existing]
    major, minor, _patch = max(versions, default=(1, -1, 0))
    return f"{major}.{minor + 1}.0", False
