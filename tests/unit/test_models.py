"""Models offline: fingerprints, training determinism, versions, schema checks, FHIR encoding."""

from __future__ import annotations

from pathlib import Path

import pytest
from careledger import fhir
from careledger_models.datasets import (
    breast_cancer,
    check_features,
    diabetes,
    fingerprint,
    from_observation,
    to_observation,
)
from careledger_models.train import next_version, train


@pytest.fixture(scope="module")
def bc():  # type: ignore[no-untyped-def]
    return breast_cancer()


def test_fingerprint_is_stable_and_order_independent(bc) -> None:  # type: ignore[no-untyped-def]
    first = fingerprint(bc.frame, bc.target)
    assert fingerprint(bc.frame, bc.target) == first
    shuffled = bc.frame.sample(frac=1.0, random_state=3)
    assert fingerprint(shuffled, bc.target.loc[shuffled.index]) == first


def test_fingerprint_changes_when_one_value_or_label_changes(bc) -> None:  # type: ignore[no-untyped-def]
    first = fingerprint(bc.frame, bc.target)
    changed = bc.frame.copy()
    changed.iloc[100, 4] += 1e-9
    assert fingerprint(changed, bc.target) != first
    labels = bc.target.copy()
    labels.iloc[7] = 1 - labels.iloc[7]
    assert fingerprint(bc.frame, labels) != first


def test_training_is_reproducible_and_a_new_seed_is_a_new_artifact(bc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = train(bc, seed=1, out_dir=tmp_path)
    b = train(bc, seed=1, out_dir=tmp_path)
    c = train(bc, seed=2, out_dir=tmp_path)
    assert a.card["artifact_sha256"] == b.card["artifact_sha256"]
    assert c.card["artifact_sha256"] != a.card["artifact_sha256"]
    assert a.card["metrics"]["auc"] > 0.95
    assert set(a.card["subgroup_metrics"]) == {"radius-small", "radius-medium", "radius-large"}
    assert {"xgboost", "pandas", "numpy", "scikit-learn", "python"} <= set(a.card["libraries"])
    assert a.card["parameters"]["seed"] == 1


def test_versions_never_overwrite(bc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert next_version([], "a" * 64) == ("1.0.0", False)
    registered = [{"version": "1.0.0", "artifact_sha256": "a" * 64}, {"version": "1.1.0", "artifact_sha256": "b" * 64}]
    assert next_version(registered, "b" * 64) == ("1.1.0", True)
    assert next_version(registered, "c" * 64) == ("1.2.0", False)


def test_regression_model_has_its_own_metrics_and_subgroups(tmp_path: Path) -> None:
    model = train(diabetes(), seed=1, out_dir=tmp_path)
    assert {"rmse", "mae", "r2"} <= set(model.card["metrics"])
    assert {"sex-1", "sex-2", "age-under-50", "age-50-plus"} <= set(model.card["subgroup_metrics"])


def test_rows_travel_as_valid_fhir(bc) -> None:  # type: ignore[no-untyped-def]
    features = dict(zip(bc.features, bc.frame.iloc[0].tolist(), strict=True))
    resource = fhir.validate(to_observation(bc, features))
    assert from_observation(resource) == features


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda f: f.pop("mean radius"), "mean radius: missing"),
        (lambda f: f.update({"mean radius": "big"}), "is not a number"),
        (lambda f: f.update({"mean radius": float("nan")}), "is not a number"),
        (lambda f: f.update({"mean radius": 1e6}), "is outside"),
    ],
)
def test_schema_problems_are_reported_not_imputed(bc, change, problem: str) -> None:  # type: ignore[no-untyped-def]
    features = dict(zip(bc.features, bc.frame.iloc[0].tolist(), strict=True))
    assert check_features(bc.schema, features) == []
    change(features)
    problems = check_features(bc.schema, features)
    assert len(problems) == 1
    assert problem in problems[0]
