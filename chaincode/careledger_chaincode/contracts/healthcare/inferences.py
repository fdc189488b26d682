"""Inference records: allowed only for an approved model on record versions the caller was allowed for
diagnosis-ai, and bound to what they claim: the access transaction that released the record, the exact
ciphertext that transaction decided on, the approved model's artifact hash, and digests of the input and
explanation. The output is patient data: it travels as transient data and is kept as private data (purged
when the record is erased); the public entry holds its salted digest.
"""

from __future__ import annotations

from typing import Any

from careledger_protocol import (
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    Event,
    Purpose,
    documents,
    sha256_of_json,
)

from ...runtime import Context, transaction
from . import _schemas as schema
from ._arguments import MAX_BATCH, Shape, json_object, object_id, refuse_in_arguments, sha256_hex, text, tx_id
from ._caller import Caller, caller
from ._key_entries import wkey_key
from ._paging import page_args
from ._refusals import denied, invalid, not_found, precondition
from ._state import PRIVATE, canonical, event, get_json, get_many_json, key, load, put_json, put_private, transient_json
from ._time import now, within_window
from .access import ACCESS, salted_sha256, transient_salt
from .members import patient_or_auditor, registered_caller
from .models import SEMANTIC_VERSION, require_model, semantic_version
from .policy import entry_allows, terms_allow
from .records import GRANT, INFERENCE, INFERENCE_BY_TX, RECORD, can_view_record

# (model_id, version, time, tx_id) -> who ran it and how many inferences: a model version's use log (GetModelUse).
# One key per batch: the transaction id keeps parallel batches apart, and the log reads a key per batch, not per
# inference. Ledgers of layouts 5 and 6 had one key per inference, (..., tx_id, n as 4 digits), counting 1.
INFERENCE_BY_MODEL = "inference-model"
NEW_INFERENCE = schema.object_of(
    {
        "record_id": schema.ID,
        "ciphertext_sha256": schema.SHA256,
        "input_sha256": schema.SHA256,
        "explanation_sha256": schema.SHA256,
    }
)
INFERENCE_BATCH = schema.object_of(
    {
        "model_id": schema.ID,
        "version": SEMANTIC_VERSION,
        "artifact_sha256": schema.SHA256,
        "access_tx_id": schema.TX_ID,
        "inferences": schema.list_of(NEW_INFERENCE, MAX_BATCH, min_items=1),
    }
)


class InferencesMixin:
    @transaction(
        "RecordInferences",
        arguments={"batch_json": INFERENCE_BATCH},
        returns=documents.InferencesRecorded,
        events=(Event.INFERENCES_RECORDED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def record_inferences(self, ctx: Context, batch_json: str) -> dict[str, Any]:
        """Record inferences of an approved model on record versions the caller was allowed for diagnosis-ai.

        Outputs arrive as the transient field 'outputs' ({record_id: output}) with a transient 'salt', and the
        explanations (per-feature contributions) as 'explanations', each checked against its digest; both are
        kept as private data, readable by those who may see the record, and purged with it."""
        who = registered_caller(ctx, "clinician")
        doc = json_object(batch_json, "batch")
        refuse_in_arguments(doc, "outputs")
        shape = Shape(doc, "batch", *schema.fields(INFERENCE_BATCH))
        model = require_model(ctx, shape.string("model_id", object_id), shape.string("version", semantic_version))
        if model["status"] != "approved":
            raise precondition(f"model {model['model_id']} {model['version']} is {model['status']}, not approved")
        if shape.string("artifact_sha256", sha256_hex) != model["artifact_sha256"]:
            raise denied("batch.artifact_sha256 is not the approved artifact of this model version: run that artifact")
        access = get_json(ctx, ACCESS, shape.string("access_tx_id", tx_id))
        if access is None:
            raise not_found("no committed access transaction with that id")
        if access["requester"] != who.member_id:
            raise denied("that access transaction was made by someone else")
        if access["purpose"] != Purpose.DIAGNOSIS_AI or access["emergency"]:
            raise denied("inferences need an access decision for the purpose diagnosis-ai (not emergency access)")
        at, txid = now(ctx), ctx.stub.tx_id
        if not within_window(access["time"], at):
            raise denied("that access transaction has ended: request access again, then record the inferences")
        inferences = shape.items("inferences", _inference, MAX_BATCH, min_items=1)
        record_ids = [i["record_id"] for i in inferences]
        if len(set(record_ids)) != len(record_ids):
            raise invalid("batch.inferences names a record twice")
        decided = {d["record_id"]: d for d in access["decisions"] if d["decision"] == "allowed"}
        not_allowed = [r for r in record_ids if r not in decided]
        if not_allowed:
            raise denied(f"the access transaction did not allow: {', '.join(not_allowed[:10])}")
        unbound = [
            i["record_id"]
            for i in inferences
            if i["ciphertext_sha256"] != decided[i["record_id"]].get("ciphertext_sha256")
        ]
        if unbound:
            raise denied(f"not the record version the access decided on: {', '.join(unbound[:10])}")
        outputs, salt = _outputs(ctx, model, record_ids)
        explanations = _explanations(ctx, model, inferences)
        lapsed = self._lapsed_consents(ctx, who, access.get("consents", {}), record_ids, at)
        if lapsed:
            raise denied(f"consent for diagnosis-ai is no longer active for: {', '.join(lapsed[:10])}")
        stored = []
        for n, inference in enumerate(inferences):
            record = decided[inference["record_id"]]
            output = outputs[inference["record_id"]]
            entry = {
                **inference,
                "output_sha256": salted_sha256(salt, canonical(output).decode()),
                "tx_id": txid,
                "n": n,
                "time": at,
                "model_id": model["model_id"],
                "version": model["version"],
                "artifact_sha256": model["artifact_sha256"],
                "access_tx_id": access["tx_id"],
                "requester": who.member_id,
                "requester_org": who.msp_id,
                "patient_id": record["patient_id"],
                "custodian": record["custodian"],
            }
            parts = (record["patient_id"], inference["record_id"], at, txid, f"{n:04d}")
            put_json(ctx, entry, INFERENCE, *parts)
            private = {"output": output, "salt": salt, "explanation": explanations[inference["record_id"]]}
            put_private(ctx, private, INFERENCE, *parts)
            stored.append(entry)
        names = [[e["patient_id"], e["record_id"]] for e in stored]  # inference n is named <tx_id>:<n>
        put_json(ctx, {"time": at, "inferences": names}, INFERENCE_BY_TX, txid)
        ran = {"requester": who.member_id, "requester_org": who.msp_id, "inferences": len(stored)}
        put_json(ctx, ran, INFERENCE_BY_MODEL, model["model_id"], model["version"], at, txid)
        event(
            ctx,
            Event.INFERENCES_RECORDED,
            {
                "tx_id": txid,
                "model_id": model["model_id"],
                "version": model["version"],
                "requester": who.member_id,
                "records": [{"record_id": e["record_id"], "patient_id": e["patient_id"]} for e in stored],
            },
        )
        return {"tx_id": txid, "count": len(stored)}

    @staticmethod
    def _lapsed_consents(
        ctx: Context, who: Caller, consents: dict[str, str], record_ids: list[str], at: str
    ) -> list[str]:
        """Records no current consent lets the caller use for diagnosis-ai any more.

        The consent each decision rested on is read first (a few grants cover many records); only records
        whose consent lapsed are checked against every grant in their key entries, which may still cover them."""
        grants = get_many_json(ctx, GRANT, sorted({consents[r] for r in record_ids if r in consents}))

        def still_current(record_id: str) -> bool:
            grant = grants.get(consents.get(record_id, ""))
            return bool(grant and grant["status"] == "active" and terms_allow(grant, Purpose.DIAGNOSIS_AI, at))

        recheck = [r for r in record_ids if not still_current(r)]
        entries = ctx.stub.get_states(
            [k for r in recheck for k in (wkey_key(ctx, r, who.member_id), wkey_key(ctx, r, who.org_member))], PRIVATE
        )
        return [
            r
            for n, r in enumerate(recheck)
            if not any(
                entry_allows(load(e) if e else None, Purpose.DIAGNOSIS_AI, at) for e in entries[2 * n : 2 * n + 2]
            )
        ]

    @transaction(
        "ListInferencesByRecord",
        read_only=True,
        arguments={"record_id": schema.ID, **schema.PAGE},
        returns=documents.Page[documents.Inference],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def list_inferences_by_record(self, ctx: Context, record_id: str, page_size: str, bookmark: str) -> dict[str, Any]:
        """The inferences recorded on a record, paginated, for those who may see the record; the output of an erased
        record is gone."""
        who = caller(ctx)
        raw = ctx.stub.get_state(key(ctx, RECORD, object_id(record_id, "record_id")))
        if raw is None:
            raise not_found(f"record {record_id} does not exist")
        record = load(raw)
        if not can_view_record(ctx, who, record):
            raise denied(f"{who.member_id} may not see the inferences on record {record_id}")
        return _inference_page(ctx, [record["patient_id"], record_id], page_size, bookmark)

    @transaction(
        "ListInferencesByPatient",
        read_only=True,
        arguments={"patient_id": schema.MEMBER, **schema.PAGE},
        returns=documents.Page[documents.Inference],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def list_inferences_by_patient(
        self, ctx: Context, patient_id: str, page_size: str, bookmark: str
    ) -> dict[str, Any]:
        """A patient's recorded inferences, paginated: for the patient and auditors of the health authority."""
        patient_or_auditor(ctx, patient_id, "inferences")
        return _inference_page(ctx, [patient_id], page_size, bookmark)


def _inference_page(ctx: Context, parts: list[str], page_size: str, bookmark: str) -> dict[str, Any]:
    """A page of inference entries with their outputs; the output of an erased record is gone (None)."""
    size, mark = page_args(page_size, bookmark)
    rows, next_mark = ctx.stub.get_state_by_partial_composite_key_paginated(INFERENCE, parts, size, mark)
    outputs = ctx.stub.get_states([k for k, _ in rows], PRIVATE)
    items = []
    for (_, value), private in zip(rows, outputs, strict=True):
        item = load(value)
        kept = load(private) if private else {}
        item["output"], item["explanation"] = kept.get("output"), kept.get("explanation")
        items.append(item)
    return {"items": items, "bookmark": next_mark}


def _digest(value: Any, what: str) -> str:
    """A SHA-256 of something: a placeholder such as 64 zeros is refused."""
    digest = sha256_hex(value, what)
    if len(set(digest)) < 4:
        raise invalid(f"{what} is not the SHA-256 of anything (a placeholder?): send the real digest")
    return digest


def _inference(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{what} must be an object")
    shape = Shape(value, what, *schema.fields(NEW_INFERENCE))
    inference = {
        "record_id": shape.string("record_id", object_id),
        "ciphertext_sha256": shape.string("ciphertext_sha256", sha256_hex),
        "input_sha256": shape.string("input_sha256", _digest),
        "explanation_sha256": shape.string("explanation_sha256", _digest),
    }
    if inference["input_sha256"] == inference["explanation_sha256"]:
        raise invalid(f"{what}: the input and explanation digests are the same: send the digest of each")
    return inference


def _outputs(ctx: Context, model: dict[str, Any], record_ids: list[str]) -> tuple[dict[str, Any], str]:
    """The transient outputs, one per record, each of the shape the model's task produces, and the salt."""
    given = transient_json(ctx, "outputs", "the model's output per record")
    if not isinstance(given, dict) or sorted(given) != sorted(record_ids):
        raise invalid("send the transient field 'outputs' as {record_id: output} for exactly the inferences' records")
    salt = transient_salt(ctx)
    for record_id, output in given.items():
        _check_output(model.get("task", "classification"), output, f"outputs[{record_id}]")
    return given, salt


def _explanations(ctx: Context, model: dict[str, Any], inferences: list[dict[str, Any]]) -> dict[str, Any]:
    """The transient explanations (per-feature contributions, plus "bias"), one per record, each the one its
    explanation_sha256 is the SHA-256 of (canonical JSON): an explanation that does not match is refused."""
    given = transient_json(ctx, "explanations", "the model's per-feature contributions per record")
    wanted = sorted(i["record_id"] for i in inferences)
    if not isinstance(given, dict) or sorted(given) != wanted:
        shape = "{record_id: {feature: contribution}}"
        raise invalid(f"send the transient field 'explanations' as {shape} for exactly the inferences' records")
    names = {f["name"] for f in model["feature_schema"]} | {"bias"}
    for inference in inferences:
        explanation, what = given[inference["record_id"]], f"explanations[{inference['record_id']}]"
        numbers = isinstance(explanation, dict) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in explanation.values()
        )
        if not numbers or set(explanation) != names:
            raise invalid(f"{what} must give a number for each of the model's features and 'bias'")
        if sha256_of_json(explanation) != inference["explanation_sha256"]:
            raise invalid(f"{what} is not the explanation its explanation_sha256 names: send the one the model gave")
    return given


def _check_output(task: str, output: Any, what: str) -> None:
    if task == "classification":
        shape = Shape(output if isinstance(output, dict) else {}, what, ("label", "probability"))
        shape.string("label", text(40))
        probability = output["probability"]
        if isinstance(probability, bool) or not isinstance(probability, int | float) or not 0 <= probability <= 1:
            raise invalid(f"{what}.probability must be a number from 0 to 1")
    else:
        shape = Shape(output if isinstance(output, dict) else {}, what, ("prediction",))
        prediction = output["prediction"]
        if isinstance(prediction, bool) or not isinstance(prediction, int | float):
            raise invalid(f"{what}.prediction must be a number")
