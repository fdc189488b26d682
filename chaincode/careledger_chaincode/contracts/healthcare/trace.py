"""Tracing an inference back through what it rests on, with every link the ledger can check checked.

TraceInference walks: the inference entry -> the model version it names (same artifact hash) -> the approval
that let it run (the policy version, and whether the model was approved before it ran) -> the access decision
that released the input record (same requester, purpose diagnosis-ai, allowed, the same ciphertext, within
the access window) -> the consent that decision rested on (covering diagnosis-ai and current at the access)
-> the training run (its data source; a cohort's root was checked against research access decisions when the
model was registered) -> human oversight after it ran (every review, and whether its outcome was recorded; the
public entries only: reasons and truths stay with GetInferenceReviews' readers). Each link says plainly
whether it holds and, if not, where it fails. Off-ledger checks (the artifact file, the cohort's leaves, the
stores, re-running the model) are the client's: `careledger model trace` and `careledger inference verify`.

An inference is named `<transaction id>:<n>` (its transaction and place in it); an index keeps that name.
"""

from __future__ import annotations

from typing import Any

from careledger_protocol import FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, Purpose, documents

from ...runtime import Context, transaction
from . import _schemas as schema
from ._caller import Caller, caller
from ._refusals import denied, invalid, not_found
from ._state import PRIVATE, get_json, key, load
from ._time import within_window
from .access import ACCESS, audit_event
from .approval import POLICY
from .models import MODEL
from .monitoring import OUTCOME, REVIEW
from .records import GRANT, INFERENCE, INFERENCE_BY_TX, RECORD, can_view_record

INFERENCE_ID = schema.string_of(
    r"^[0-9a-f]{64}:[0-9]{1,4}$", "inference-id", "an inference: its transaction id, ':', its place in it"
)


def inference_parts(ctx: Context, inference_id: str) -> list[str]:
    tx, _, n = inference_id.partition(":")
    if len(tx) != 64 or not n.isdigit() or any(c not in "0123456789abcdef" for c in tx):
        raise invalid("inference_id must be <transaction id>:<n>, e.g. as `careledger inference list` shows it")
    place = int(n)
    batch, single = ctx.stub.get_states([key(ctx, INFERENCE_BY_TX, tx), key(ctx, INFERENCE_BY_TX, tx, f"{place:04d}")])
    if batch is not None:
        named = load(batch)
        if place < len(named["inferences"]) and named["inferences"][place]:
            patient_id, record_id = named["inferences"][place]
            return [patient_id, record_id, named["time"], tx, f"{place:04d}"]
    if single is not None:  # named by a chaincode of layout 7 or earlier, not migrated yet
        return [str(p) for p in load(single)]
    raise not_found(f"no inference {inference_id} is on the ledger")


def may_trace(ctx: Context, who: Caller, inference: dict[str, Any]) -> bool:
    """The patient, auditors of the health authority and those who may see the record (its reviews too)."""
    if who.is_authority_auditor or (who.role == "patient" and who.member_id == inference["patient_id"]):
        return True
    record = get_json(ctx, RECORD, inference["record_id"])
    return record is not None and can_view_record(ctx, who, record)


class TraceMixin:
    @transaction(
        "TraceInference",
        read_only=True,
        arguments={"inference_id": INFERENCE_ID},
        returns=documents.InferenceTrace,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def trace_inference(self, ctx: Context, inference_id: str) -> dict[str, Any]:
        """An inference and the model, approval policy, access decision, consent and training run it rests on,
        each link checked: for the patient, auditors of the health authority and those who may see the record."""
        who = caller(ctx)
        parts = inference_parts(ctx, inference_id)
        inference = get_json(ctx, INFERENCE, *parts)
        if inference is None:
            raise not_found(f"no inference {inference_id} is on the ledger")
        if not may_trace(ctx, who, inference):
            raise denied("only the patient, auditors and those who may see the record may trace its inferences")
        private = ctx.stub.get_state(key(ctx, INFERENCE, *parts), PRIVATE)
        kept = load(private) if private else {}
        inference["output"], inference["explanation"] = kept.get("output"), kept.get("explanation")
        trace: dict[str, Any] = {"inference": inference, "links": []}
        links: list[dict[str, Any]] = trace["links"]

        def link(name: str, ok: bool, detail: str) -> None:
            links.append({"link": name, "ok": ok, "detail": detail})

        link(
            "inference",
            True,
            f"recorded at {inference['time']} by {inference['requester']}; output "
            + ("kept as private data" if private else "gone (the record was erased, or this peer holds none)"),
        )
        model = get_json(ctx, MODEL, inference["model_id"], inference["version"])
        if model is None:
            link("model", False, f"model {inference['model_id']} {inference['version']} is not in the registry")
            return trace
        trace["model"] = model
        same = model["artifact_sha256"] == inference["artifact_sha256"]
        named = f"the inference names the registered artifact ({model['artifact_sha256'][:16]}…)"
        link(
            "model",
            same,
            f"{named}; the model is {model['status']} now" if same else "another artifact than registered",
        )
        self._approval(ctx, model, inference, trace, link)
        self._access(ctx, inference, trace, link)
        training = model.get("training")
        if training is None:
            link("training", False, "the model was registered without its training run")
        elif "cohort" in training:
            cohort = training["cohort"]
            released = f"{len(cohort['access_tx_ids'])} research access transaction(s) of {model['registered_by']}"
            checked = f"the ledger checked their Merkle root {cohort['merkle_root'][:16]}… at registration"
            link(
                "training", True, f"trained on {cohort['records']} consented records released by {released}; {checked}"
            )
        else:
            link("training", True, f"trained on {training['data_source']} with seed {training['seed']}")
        self._oversight(ctx, parts, trace, link)
        return trace

    @staticmethod
    def _oversight(ctx: Context, parts: list[str], trace: dict[str, Any], link: Any) -> None:
        """What people did with the result: its reviews (the latest decides) and its recorded outcome. Not
        being reviewed yet is a fact, not a broken link."""
        reviews = [load(v) for _, v in ctx.stub.get_state_by_partial_composite_key(REVIEW, parts)]
        outcome = get_json(ctx, OUTCOME, *parts)
        trace["reviews"] = reviews
        if outcome is not None:
            trace["outcome"] = outcome
        if reviews:
            latest = reviews[-1]
            said = {"confirm": "confirmed", "override": "overridden"}[latest["decision"]]
            reviewed = f"{said} by {latest['reviewer']} at {latest['time']} ({len(reviews)} review(s))"
        else:
            reviewed = "not reviewed by a clinician yet"
        recorded = f"; outcome recorded by {outcome['recorded_by']} at {outcome['time']}" if outcome else ""
        link("oversight", True, reviewed + recorded)

    @staticmethod
    def _approval(
        ctx: Context, model: dict[str, Any], inference: dict[str, Any], trace: dict[str, Any], link: Any
    ) -> None:
        approval = model.get("approval")
        approved_at = model.get("approved_at", "")
        if not approved_at or approved_at > inference["time"]:
            link("approval", False, "the model was not approved when it ran")
            return
        if approval is None:
            link("approval", True, f"approved by {model['approved_by']} at {approved_at}, before approval policies")
            return
        policy = get_json(ctx, POLICY, model["model_id"], f"{approval['policy_version']:06d}")
        if policy is not None:
            trace["policy"] = policy
        how = f"approved by {model['approved_by']} at {approved_at} under approval policy v{approval['policy_version']}"
        link("approval", policy is not None, f"{how}, its metrics reproduced on the registered evaluation data")

    @staticmethod
    def _access(ctx: Context, inference: dict[str, Any], trace: dict[str, Any], link: Any) -> None:
        access = get_json(ctx, ACCESS, inference["access_tx_id"])
        decisions = (access or {}).get("decisions", [])
        n = next((i for i, d in enumerate(decisions) if d["record_id"] == inference["record_id"]), None)
        if access is None or n is None:
            link("access", False, "no access decision on this record in the named access transaction")
            return
        decision = decisions[n]
        trace["access"] = audit_event(access, n, decision)
        checks = (
            (access["requester"] == inference["requester"], "another member asked"),
            (access["purpose"] == Purpose.DIAGNOSIS_AI, f"the purpose was {access['purpose']}"),
            (decision["decision"] == "allowed", "it was denied"),
            (decision.get("ciphertext_sha256") == inference["ciphertext_sha256"], "it released another ciphertext"),
            (within_window(access["time"], inference["time"]), "the inference came after the access window"),
        )
        problems = [failure for holds, failure in checks if not holds]
        released = f"allowed at {access['time']} for diagnosis-ai, version {decision.get('version')}"
        link("access", not problems, "; ".join(problems) or released)
        grant_id = access.get("consents", {}).get(inference["record_id"])
        grant = get_json(ctx, GRANT, grant_id) if grant_id else None
        if grant is None:
            link("consent", False, f"the decision rested on no consent on the ledger ({decision['reason']})")
            return
        trace["grant"] = grant
        at = access["time"]
        current = grant["valid_from"] <= at < grant["valid_until"] and grant.get("revoked_at", "9999") > at
        covers = Purpose.DIAGNOSIS_AI in grant["purposes"]
        verdict = "covered diagnosis-ai at the access" if current and covers else "did not cover diagnosis-ai then"
        since = f"; revoked since, at {grant['revoked_at']}" if grant.get("revoked_at") else ""
        link("consent", current and covers, f"consent {grant['id']} to {grant['grantee']} {verdict}{since}")
