"""A model's training run, as RegisterModel checks it before the registry keeps it.

What the ledger can check, it does: the feature schema's digest is recomputed; a cohort read from the
ledger is named by the research access transactions that released it, all the registering researcher's,
and its Merkle root is recomputed from the leaves (record id, version, ciphertext SHA-256), each of which
must be a record version one of those transactions allowed. The leaves travel as transient data (they say
which records were used, which is nobody's business but the auditors'), so only the root reaches the block.
What it cannot check (the seed, the evaluation fingerprint, the transform code's digest) it keeps, for
`careledger model verify` and `careledger model trace` to check against the artifact and its data.
"""

from __future__ import annotations

from typing import Any

from careledger_protocol import CohortLeaf, Purpose, merkle_root, sha256_of_json

from ...runtime import Context
from ._arguments import Shape, object_id, sha256_hex, text, tx_id
from ._caller import Caller
from ._refusals import denied, invalid, not_found
from ._state import key, load, transient_json
from .access import ACCESS

LEDGER_COHORT = "ledger-cohort"
MAX_COHORT_TRANSACTIONS = 400
MAX_COHORT_RECORDS = 200_000
MAX_SUBGROUPS = 100


def training_run(ctx: Context, who: Caller, value: Any, feature_schema: list[dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid("model.training must be an object")
    required = ("seed", "evaluation_fingerprint", "schema_sha256", "transform_sha256", "data_source")
    shape = Shape(value, "model.training", required, ("cohort", "subgroups"))
    run: dict[str, Any] = {
        "seed": shape.integer("seed", 0, 2**32 - 1),
        "evaluation_fingerprint": shape.string("evaluation_fingerprint", sha256_hex),
        "schema_sha256": shape.string("schema_sha256", sha256_hex),
        "transform_sha256": shape.string("transform_sha256", sha256_hex),
        "data_source": shape.string("data_source", text(100)),
    }
    if run["schema_sha256"] != sha256_of_json(feature_schema):
        raise invalid("model.training.schema_sha256 is not the SHA-256 of model.feature_schema as canonical JSON")
    if (run["data_source"] == LEDGER_COHORT) != ("cohort" in value):
        raise invalid(f'model.training.cohort is given exactly when data_source is "{LEDGER_COHORT}"')
    if "cohort" in value:
        run["cohort"] = _cohort(ctx, who, value["cohort"])
    if "subgroups" in value:
        named = {f["name"] for f in feature_schema}
        run["subgroups"] = shape.items("subgroups", lambda v, what: _subgroup(v, what, named), MAX_SUBGROUPS)
    return run


def _subgroup(value: Any, what: str, features: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{what} must be an object")
    shape = Shape(value, what, ("name", "feature"), ("low", "high"))
    rule: dict[str, Any] = {"name": shape.string("name", object_id), "feature": shape.string("feature", text(100))}
    if rule["feature"] not in features:
        raise invalid(f"{what}.feature {rule['feature']!r} is not in model.feature_schema")
    rule.update((bound, shape.number(bound)) for bound in ("low", "high") if bound in value)
    return rule


def _cohort(ctx: Context, who: Caller, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid("model.training.cohort must be an object")
    shape = Shape(value, "model.training.cohort", ("access_tx_ids", "records", "merkle_root"))
    tx_ids = shape.items("access_tx_ids", tx_id, MAX_COHORT_TRANSACTIONS, min_items=1)
    count = shape.integer("records", 1, MAX_COHORT_RECORDS)
    root = shape.string("merkle_root", sha256_hex)
    leaves = _leaves(transient_json(ctx, "cohort", "the cohort's leaves"), count)
    released: dict[str, tuple[int, str]] = {}
    for tx, raw in zip(tx_ids, ctx.stub.get_states([key(ctx, ACCESS, t) for t in tx_ids]), strict=True):
        if raw is None:
            raise not_found(f"cohort access transaction {tx} is not on the ledger")
        access = load(raw)
        if access["requester"] != who.member_id or access["purpose"] != Purpose.RESEARCH or access["emergency"]:
            raise denied(f"cohort access transaction {tx} is not a research access of yours")
        for d in access["decisions"]:
            if d["decision"] == "allowed":
                released[d["record_id"]] = (d["version"], d["ciphertext_sha256"])
    unreleased = [leaf.record_id for leaf in leaves if released.get(leaf.record_id) != leaf[1:]]
    if unreleased:
        raise denied(
            f"the cohort names record versions those access transactions did not release to you: "
            f"{', '.join(unreleased[:10])}"
        )
    if merkle_root(leaves) != root:
        raise invalid("model.training.cohort.merkle_root is not the Merkle root of the transient cohort leaves")
    return {"access_tx_ids": tx_ids, "records": count, "merkle_root": root}


def _leaves(value: Any, count: int) -> list[CohortLeaf]:
    if not isinstance(value, list) or len(value) != count:
        raise invalid(
            "send the cohort as the transient field 'cohort': a list of [record_id, version, ciphertext_sha256], "
            "one for each of model.training.cohort.records"
        )
    leaves = []
    for n, item in enumerate(value):
        if not (
            isinstance(item, list) and len(item) == 3 and isinstance(item[1], int) and not isinstance(item[1], bool)
        ):
            raise invalid(f"cohort[{n}] must be [record_id, version, ciphertext_sha256]")
        leaves.append(
            CohortLeaf(object_id(item[0], f"cohort[{n}][0]"), item[1], sha256_hex(item[2], f"cohort[{n}][2]"))
        )
    if len({leaf.record_id for leaf in leaves}) != len(leaves):
        raise invalid("the cohort names a record twice")
    return leaves
