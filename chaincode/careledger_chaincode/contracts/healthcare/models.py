"""The model registry: researchers register model versions with their training run (training.py),
health-authority auditors approve them against a policy (approval.py), suspend or retire them; inference
records (inferences.py) are allowed only for an approved model on records the caller may use for diagnosis-ai.

An inference record is bound to what it claims: the access transaction that released the record, the
exact ciphertext version that transaction decided on, the approved model's artifact hash, and digests
of the input and explanation. Its output is patient data: it travels as transient data and is kept as
private data (purged when the record is erased); the public entry holds its salted digest.
"""

from __future__ import annotations

import re
from typing import Any

from careledger_protocol import (
    CONFLICT,
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    Event,
    documents,
)

from ...runtime import ChaincodeError, Context, transaction
from . import _schemas as schema
from ._arguments import Shape, enum, json_object, object_id, sha256_hex, text
from ._caller import caller, require_authority_auditor
from ._paging import page_args
from ._refusals import invalid, not_found, precondition
from ._state import canonical, event, get_json, load, put_json, summary
from ._time import now, timestamp
from .members import registered_caller
from .training import training_run

MODEL = "model"
FORMATS = ("xgboost-json", "xgboost-ubj")
FEATURE_TYPES = ("float", "int", "bool", "category")
TASKS = ("classification", "regression")
_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+([-+][A-Za-z0-9.-]{1,40})?$")
SEMANTIC_VERSION = schema.string_of(_VERSION, "semver", "a model version: a semantic version such as 1.0.0")

# what its events tell subscribers (careledger_protocol.Event)
MODEL_EVENT_FIELDS = ("model_id", "version", "status", "artifact_sha256")

# The arguments' schemas (GetMetadata): a model version as RegisterModel takes it.
METRICS = {
    "type": "object",
    "additionalProperties": schema.number(),
    "maxProperties": 100,
    "description": "named numbers; a name is a letter, then up to 63 letters, digits, '_', '.', '-'",
}
FEATURE = schema.object_of(
    {"name": schema.text_of(100), "type": schema.one_of(FEATURE_TYPES)},
    {"unit": schema.text_of(40), "min": schema.number(), "max": schema.number(), "description": schema.text_of(200)},
)
NEW_MODEL = schema.object_of(
    {
        "model_id": schema.ID,
        "version": SEMANTIC_VERSION,
        "artifact_sha256": schema.SHA256,
        "format": schema.one_of(FORMATS),
        "training_data_fingerprint": schema.SHA256,
        "feature_schema": schema.list_of(FEATURE, 500, min_items=1),
        "parameters": {"type": "object", "description": "the training parameters, at most 16 KiB of JSON"},
        "metrics": METRICS,
        "code_ref": schema.text_of(200),
    },
    {
        "subgroup_metrics": {"type": "object", "additionalProperties": METRICS, "maxProperties": 100},
        "description": schema.text_of(500),
        "libraries": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 30},
        "trained_at": schema.TIME,
        "task": schema.one_of(TASKS),
        "training": documents.TrainingRun,
    },
)


def semantic_version(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _VERSION.match(value):
        raise invalid(f"{what} must be a semantic version such as 1.0.0")
    return value


def metrics_map(value: Any, what: str) -> dict[str, float]:
    if not isinstance(value, dict) or len(value) > 100:
        raise invalid(f"{what} must be an object of at most 100 named numbers")
    for name, number in value.items():
        if not re.match(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$", name):
            raise invalid(f"{what}: {name!r} is not a metric name")
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise invalid(f"{what}.{name} must be a number")
    return value


def _libraries(value: dict[str, Any]) -> dict[str, str]:
    well_formed = all(isinstance(k, str) and isinstance(v, str) and len(k) + len(v) < 100 for k, v in value.items())
    if len(value) > 30 or not well_formed:
        raise invalid("model.libraries must map at most 30 library names to version strings")
    return value


def _feature(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{what} must be an object")
    shape = Shape(value, what, ("name", "type"), ("unit", "min", "max", "description"))
    feature: dict[str, Any] = {
        "name": shape.string("name", text(100)),
        "type": shape.string("type", enum(FEATURE_TYPES)),
    }
    if "unit" in value:
        feature["unit"] = shape.string("unit", text(40))
    if "description" in value:
        feature["description"] = shape.string("description", text(200))
    feature.update((bound, shape.number(bound)) for bound in ("min", "max") if bound in value)
    return feature


def require_model(ctx: Context, model_id: str, version: str) -> dict[str, Any]:
    model = get_json(ctx, MODEL, object_id(model_id, "model_id"), semantic_version(version, "version"))
    if model is None:
        raise not_found(f"model {model_id} version {version} is not registered")
    return model


class ModelsMixin:
    @transaction(
        "RegisterModel",
        arguments={"model_json": NEW_MODEL},
        returns=documents.Model,
        events=(Event.MODEL_REGISTERED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, CONFLICT, FAILED_PRECONDITION),
    )
    def register_model(self, ctx: Context, model_json: str) -> dict[str, Any]:
        """A registered researcher registers a model version (artifact hash, training data fingerprint, feature schema,
        parameters, metrics)."""
        who = registered_caller(ctx, "researcher")
        shape = Shape(
            json_object(model_json, "model", max_bytes=256 * 1024),
            "model",
            (
                "model_id",
                "version",
                "artifact_sha256",
                "format",
                "training_data_fingerprint",
                "feature_schema",
                "parameters",
                "metrics",
                "code_ref",
            ),
            ("subgroup_metrics", "description", "libraries", "trained_at", "task", "training"),
        )
        model_id = shape.string("model_id", object_id)
        version = shape.string("version", semantic_version)
        parameters = shape.object("parameters")
        if len(canonical(parameters)) > 16 * 1024:
            raise invalid("model.parameters must be at most 16 KiB of JSON")
        subgroups = shape.object("subgroup_metrics", default={})
        if len(subgroups) > 100:
            raise invalid("model.subgroup_metrics may name at most 100 subgroups")
        features: list[dict[str, Any]] = shape.items("feature_schema", _feature, 500, min_items=1)
        model = {
            "model_id": model_id,
            "version": version,
            "artifact_sha256": shape.string("artifact_sha256", sha256_hex),
            "format": shape.string("format", enum(FORMATS)),
            "training_data_fingerprint": shape.string("training_data_fingerprint", sha256_hex),
            "feature_schema": features,
            "parameters": parameters,
            "metrics": metrics_map(shape.object("metrics"), "model.metrics"),
            "subgroup_metrics": {
                object_id(name, "model.subgroup_metrics key"): metrics_map(m, f"model.subgroup_metrics.{name}")
                for name, m in subgroups.items()
            },
            "code_ref": shape.string("code_ref", text(200)),
            "libraries": _libraries(shape.object("libraries", default={})),
            "trained_at": shape.string("trained_at", timestamp) if "trained_at" in shape.doc else "",
            "task": shape.string("task", enum(TASKS)) if "task" in shape.doc else "classification",
            "description": shape.string("description", text(500), default="") if "description" in shape.doc else "",
            "status": "registered",
            "registered_by": who.member_id,
            "registered_org": who.msp_id,
            "registered_at": now(ctx),
        }
        if "training" in shape.doc:
            model["training"] = training_run(ctx, who, shape.doc["training"], features)
        if get_json(ctx, MODEL, model_id, version) is not None:
            raise ChaincodeError(CONFLICT, f"model {model_id} version {version} exists: register a new version")
        put_json(ctx, model, MODEL, model_id, version)
        event(ctx, Event.MODEL_REGISTERED, summary(model, MODEL_EVENT_FIELDS))
        return model

    @transaction(
        "RetireModel",
        arguments={"model_id": schema.ID, "version": SEMANTIC_VERSION, "reason": schema.text_of(500)},
        returns=documents.Model,
        events=(Event.MODEL_RETIRED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def retire_model(self, ctx: Context, model_id: str, version: str, reason: str) -> dict[str, Any]:
        """An auditor of the health authority retires a model version, with a reason: it no longer runs."""
        who = caller(ctx)
        require_authority_auditor(who)
        model = require_model(ctx, model_id, version)
        if model["status"] == "retired":
            raise precondition(f"model {model_id} {version} is already retired")
        model.update(
            status="retired",
            retired_by=who.member_id,
            retired_at=now(ctx),
            retired_reason=text(500)(reason, "reason"),
        )
        put_json(ctx, model, MODEL, model_id, version)
        event(ctx, Event.MODEL_RETIRED, summary(model, MODEL_EVENT_FIELDS))
        return model

    @transaction(
        "GetModel",
        read_only=True,
        arguments={"model_id": schema.ID, "version": SEMANTIC_VERSION},
        returns=documents.Model,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND),
    )
    def get_model(self, ctx: Context, model_id: str, version: str) -> dict[str, Any]:
        """A model version's registry entry (artifact hash, data fingerprint, schema, metrics, status); any member may
        read it."""
        caller(ctx)
        return require_model(ctx, model_id, version)

    @transaction(
        "ListModels",
        read_only=True,
        arguments={"model_id": schema.or_empty(schema.ID, "every model"), **schema.PAGE},
        returns=documents.Page[documents.Model],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED),
    )
    def list_models(self, ctx: Context, model_id: str, page_size: str, bookmark: str) -> dict[str, Any]:
        """Every model version, or the versions of one model (model_id "" for all), paginated."""
        caller(ctx)
        parts = [object_id(model_id, "model_id")] if model_id else []
        size, mark = page_args(page_size, bookmark)
        rows, next_mark = ctx.stub.get_state_by_partial_composite_key_paginated(MODEL, parts, size, mark)
        return {"items": [load(v) for _, v in rows], "bookmark": next_mark}

    # -- inference records ------------------------------------------------------------------------------------
