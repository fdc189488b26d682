"""The real data shipped with scikit-learn, with feature schemas, and how a row travels as FHIR.

A record's clinical content is a FHIR Observation whose components carry one feature each:
component.code.coding = {system: urn:careledger:feature, code: <feature name>}, valueQuantity.value.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

FEATURE_SYSTEM = "urn:careledger:feature"
OUTCOME_SYSTEM = "urn:careledger:outcome"  # the known outcome, for training; the runner never reads it


@dataclass(frozen=True)
class Subgroup:
    """People a model's performance is reported for: those whose `feature` lies in [low, high) (an open end
    is None). Registered with the model, so "people like you" means the same thing to everyone."""

    name: str
    feature: str
    low: float | None = None
    high: float | None = None

    def contains(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value < self.high)

    def mask(self, column: pd.Series) -> np.ndarray:
        inside = np.ones(len(column), dtype=bool)
        if self.low is not None:
            inside &= (column >= self.low).to_numpy()
        if self.high is not None:
            inside &= (column < self.high).to_numpy()
        return inside

    def rule(self) -> dict[str, Any]:
        bounds = {k: v for k, v in (("low", self.low), ("high", self.high)) if v is not None}
        return {"name": self.name, "feature": self.feature, **bounds}


@dataclass(frozen=True)
class Dataset:
    name: str
    task: str  # classification | regression
    frame: pd.DataFrame  # features only
    target: pd.Series
    schema: list[dict[str, Any]]
    category: str  # the records' category on the ledger
    loinc: tuple[str, str]  # the Observation's code
    subgroups: tuple[Subgroup, ...] = ()

    @property
    def features(self) -> list[str]:
        return [f["name"] for f in self.schema]


def _schema(frame: pd.DataFrame, units: dict[str, str], descriptions: dict[str, str]) -> list[dict[str, Any]]:
    """Valid ranges are the observed range widened by half of it on each side (plausibility, not a fit)."""
    schema = []
    for name in frame.columns:
        low, high = float(frame[name].min()), float(frame[name].max())
        margin = (high - low) / 2 or 1.0
        entry: dict[str, Any] = {
            "name": name,
            "type": "float",
            "min": round(low - margin, 6),
            "max": round(high + margin, 6),
        }
        if name in units:
            entry["unit"] = units[name]
        if name in descriptions:
            entry["description"] = descriptions[name]
        schema.append(entry)
    return schema


def breast_cancer() -> Dataset:
    """Wisconsin diagnostic breast cancer: 569 fine-needle aspirates, 30 nucleus features; target 1 = malignant."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.drop(columns=["target"]).astype(float)
    target = (data.frame["target"] == 0).astype(int).rename("malignant")  # scikit-learn codes malignant as 0
    units = {
        c: ("mm" if c.endswith(("radius", "perimeter")) else "mm2" if c.endswith("area") else "1")
        for c in frame.columns
    }
    # Tumour-size terciles of the whole dataset, rounded: fixed bounds, so one patient's group is known.
    low, high = (round(float(q), 2) for q in frame["mean radius"].quantile([1 / 3, 2 / 3]))
    sizes = (
        Subgroup("radius-small", "mean radius", high=low),
        Subgroup("radius-medium", "mean radius", low, high),
        Subgroup("radius-large", "mean radius", low=high),
    )
    return Dataset(
        "breast-cancer",
        "classification",
        frame,
        target,
        _schema(frame, units, {}),
        "pathology",
        ("22637-3", "Pathology report"),
        sizes,
    )


def diabetes() -> Dataset:
    """Diabetes progression (Efron et al.): 442 patients, 10 baseline variables; target = progression after a year."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True, scaled=False)
    frame = data.frame.drop(columns=["target"]).astype(float)
    units = {
        "age": "a",
        "bmi": "kg/m2",
        "bp": "mm[Hg]",
        "s1": "mg/dL",
        "s2": "mg/dL",
        "s3": "mg/dL",
        "s5": "log(mg/dL)",
        "s6": "mg/dL",
    }
    descriptions = {
        "sex": "1 or 2",
        "s1": "total serum cholesterol",
        "s2": "low-density lipoproteins",
        "s3": "high-density lipoproteins",
        "s4": "total / HDL cholesterol",
        "s5": "log of serum triglycerides",
        "s6": "blood sugar",
    }
    return Dataset(
        "diabetes-progression",
        "regression",
        frame,
        data.frame["target"].astype(float),
        _schema(frame, units, descriptions),
        "laboratory",
        ("33747-0", "General chemistry"),
        (
            Subgroup("sex-1", "sex", high=1.5),
            Subgroup("sex-2", "sex", low=1.5),
            Subgroup("age-under-50", "age", high=50.0),
            Subgroup("age-50-plus", "age", low=50.0),
        ),
    )


DATASETS = {"breast-cancer": breast_cancer, "diabetes-progression": diabetes}


# -- fingerprints ---------------------------------------------------------------------------------------------
def canonical_row(features: dict[str, float], label: float | int | None = None) -> bytes:
    """One row as canonical JSON: sorted names, floats as Python's shortest round-trip repr."""
    doc: dict[str, Any] = {"features": {k: float(v) for k, v in sorted(features.items())}}
    if label is not None:
        doc["label"] = float(label)
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def fingerprint(frame: pd.DataFrame, target: pd.Series) -> str:
    """SHA-256 over the sorted canonical rows: the same rows give the same fingerprint in any order,
    and changing one value of one row changes it."""
    rows = sorted(
        canonical_row(dict(zip(frame.columns, values, strict=True)), label)
        for values, label in zip(frame.itertuples(index=False, name=None), target, strict=True)
    )
    digest = hashlib.sha256()
    for row in rows:
        digest.update(hashlib.sha256(row).digest())
    return digest.hexdigest()


# -- rows as FHIR ---------------------------------------------------------------------------------------------
def to_observation(dataset: Dataset, features: dict[str, float], outcome: float | None = None) -> dict[str, Any]:
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": dataset.loinc[0], "display": dataset.loinc[1]}]},
        "component": [
            {
                "code": {"coding": [{"system": FEATURE_SYSTEM, "code": name}]},
                "valueQuantity": {
                    "value": float(features[name]),
                    **({"unit": unit} if (unit := _unit(dataset, name)) else {}),
                },
            }
            for name in dataset.features
        ],
    }
    if outcome is not None:
        resource["component"].append(  # type: ignore[attr-defined]
            {
                "code": {"coding": [{"system": OUTCOME_SYSTEM, "code": dataset.target.name}]},
                "valueQuantity": {"value": float(outcome)},
            }
        )
    return resource


def _unit(dataset: Dataset, name: str) -> str:
    return next((str(f.get("unit", "")) for f in dataset.schema if f["name"] == name), "")


def outcome_of(resource: dict[str, Any]) -> float | None:
    for component in resource.get("component", []):
        for coding in component.get("code", {}).get("coding", []):
            if coding.get("system") == OUTCOME_SYSTEM:
                value = component.get("valueQuantity", {}).get("value")
                return float(value) if isinstance(value, int | float) else None
    return None


def from_observation(resource: dict[str, Any]) -> dict[str, Any]:
    """The features a record carries (whatever they are: the runner checks them against a schema)."""
    found: dict[str, Any] = {}
    for component in resource.get("component", []):
        for coding in component.get("code", {}).get("coding", []):
            if coding.get("system") == FEATURE_SYSTEM:
                found[coding.get("code")] = component.get("valueQuantity", {}).get("value")
    return found


def check_features(schema: list[dict[str, Any]], features: dict[str, Any]) -> list[str]:
    """Problems of one record against a feature schema (empty when it can be scored). Nothing is imputed."""
    problems = []
    for spec in schema:
        name, value = spec["name"], features.get(spec["name"])
        if value is None:
            problems.append(f"{name}: missing")
        elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            problems.append(f"{name}: {value!r} is not a number")
        elif not spec.get("min", -math.inf) <= value <= spec.get("max", math.inf):
            problems.append(f"{name}: {value} is outside {spec.get('min')}..{spec.get('max')}")
    return problems


# -- the feature pipeline's identity -----------------------------------------------------------------------------
def transform_sha256() -> str:
    """The SHA-256 of the code that turns a record into a model's input row (read, check, canonical form):
    a training run names it, so a trace can tell whether the pipeline that scores a record is the one the
    model was trained and evaluated with."""
    import inspect

    source = "\n".join(inspect.getsource(f) for f in (from_observation, outcome_of, check_features, canonical_row))
    return hashlib.sha256(source.encode()).hexdigest()
