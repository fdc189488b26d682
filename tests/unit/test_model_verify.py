"""`careledger model verify`, offline: the metrics registered with a trained model are recomputed from its
artifact and the evaluation rows its training run names, and anything that differs is said."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from careledger_models.datasets import DATASETS, breast_cancer, transform_sha256
from careledger_models.train import TrainedModel, train
from careledger_models.verify import NotReproducible, reproduce
from careledger_protocol import Model, metric_mismatches, sha256_of_json


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    return train(breast_cancer(), seed=11, out_dir=tmp_path_factory.mktemp("artifacts"))


def _registered(trained: TrainedModel, **changes: Any) -> Model:
    card = json.loads(json.dumps(trained.card))  # as the ledger returns it
    card.update(changes)
    return cast(Model, card)


def test_the_training_run_names_what_reproduces_the_model(trained: TrainedModel) -> None:
    run = trained.card["training"]
    assert run["seed"] == 11
    assert run["data_source"] == "scikit-learn:breast-cancer"
    assert run["schema_sha256"] == sha256_of_json(breast_cancer().schema)
    assert run["transform_sha256"] == transform_sha256()
    assert run["evaluation_fingerprint"] != trained.card["training_data_fingerprint"]


def test_every_registered_metric_reproduces_from_the_artifact(trained: TrainedModel) -> None:
    model = _registered(trained)
    reproduced = reproduce(model, trained.artifact)
    assert reproduced["artifact_sha256"] == model["artifact_sha256"]
    assert reproduced["evaluation_fingerprint"] == model["training"]["evaluation_fingerprint"]
    assert reproduced["metrics"] == model["metrics"]
    assert reproduced["subgroup_metrics"] == model["subgroup_metrics"]
    assert metric_mismatches(model["metrics"], model["subgroup_metrics"], reproduced["metrics"], {}) == [
        f"subgroup {g} {m} was not recomputed"
        for g in sorted(model["subgroup_metrics"])
        for m in sorted(model["subgroup_metrics"][g])
    ]


def test_inflated_metrics_are_caught(trained: TrainedModel) -> None:
    model = _registered(trained, metrics={**trained.card["metrics"], "auc": 0.999999})
    reproduced = reproduce(model, trained.artifact)
    mismatches = metric_mismatches(
        model["metrics"], model["subgroup_metrics"], reproduced["metrics"], reproduced["subgroup_metrics"]
    )
    assert mismatches == [f"auc: registered 0.999999, recomputed {trained.card['metrics']['auc']}"]


def test_another_artifact_other_rows_or_a_ledger_cohort_cannot_be_reproduced(
    trained: TrainedModel, tmp_path: Path
) -> None:
    tampered = tmp_path / "model.json"
    data = bytearray(trained.artifact.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(data)
    with pytest.raises(NotReproducible, match="not the registered artifact"):
        reproduce(_registered(trained), tampered)
    other_seed = {**trained.card["training"], "seed": 12}
    with pytest.raises(NotReproducible, match="evaluation rows rebuilt here differ"):
        reproduce(_registered(trained, training=other_seed), trained.artifact)
    cohort = {**trained.card["training"], "data_source": "ledger-cohort"}
    with pytest.raises(NotReproducible, match="research access"):
        reproduce(_registered(trained, training=cohort), trained.artifact)
    legacy = _registered(trained)
    del legacy["training"]
    with pytest.raises(NotReproducible, match="without its training run"):
        reproduce(legacy, trained.artifact)


def test_the_shipped_policies_accept_models_trained_as_ours_are() -> None:
    from careledger_models.policies import POLICIES

    assert set(POLICIES) == set(DATASETS)
    for policy in POLICIES.values():
        assert set(policy) == {
            "model_id", "min_metrics", "max_metrics", "required_subgroups", "min_subgroup_n", "max_subgroup_gap",
            "monitoring",
        }  # fmt: skip


def test_subgroups_are_fixed_rules_that_place_one_patient_as_they_place_the_evaluation_rows() -> None:
    for dataset in (factory() for factory in DATASETS.values()):
        assert dataset.subgroups
        for group in dataset.subgroups:
            column = dataset.frame[group.feature]
            assert group.mask(column).tolist() == [group.contains(float(v)) for v in column]
        # Every row is in exactly one group of each feature's partition.
        for feature in {g.feature for g in dataset.subgroups}:
            groups = [g for g in dataset.subgroups if g.feature == feature]
            assert (sum(g.mask(dataset.frame[feature]).astype(int) for g in groups) == 1).all()
