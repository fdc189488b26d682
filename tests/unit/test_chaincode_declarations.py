"""Each function's declarations (arguments' and result's JSON Schemas, events, refusal codes; see
runtime.transaction) hold for what it does. Every scene of the contract tests runs on a CheckedLedger
(contract_declarations), which fails a call that strays from them; here a tour makes every function answer
at least once, a toy contract shows that each kind of straying is caught, and the source is read for every
refusal a function can reach, taken or not by a scene."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any, TypedDict

import pytest
from careledger_chaincode.contracts import healthcare
from careledger_chaincode.contracts.healthcare import _refusals
from careledger_chaincode.runtime import ChaincodeError, ClientIdentity, Context, Contract, Router, transaction
from careledger_protocol import CONFLICT, NOT_FOUND, sha256_of_json
from careledger_protocol import codes as codes_module

from .chaincode_helpers import (
    H1,
    H2,
    HA,
    JWK,
    SALT,
    Actor,
    World,
    approve,
    certificate_sha256,
    digest,
    enrollment_certificate,
    explanation,
    inference_transient,
    jwe,
    jwe_for,
    other_jwk,
    training_run,
)
from .contract_declarations import CheckedLedger, transactions

JUSTIFICATION = "Unconscious patient in the emergency department: allergy history needed"
# What the in-memory ledger cannot run (another chaincode, key-level endorsement) or fails by design.
NOT_TOURED = {"diag:Call", "diag:SetKeyEndorsers", "diag:Fail"}


def _tour_records(w: World) -> dict[str, Any]:
    w.alice.ok("WhoAmI")
    w.alice.ok("GetMember", w.dr_h1.id)
    w.alice.ok("UpdateMemberKey", JWK)
    w.h1_admin.ok("ResetMemberKey", w.bob.id, JWK)
    w.alice.ok("GetMemberHistory", w.alice.id)
    w.h1_admin.ok("ListMembers", H1, "clinician", "10", "")
    w.alice.ok("GetConsortium")
    w.h2_admin.ok("SetConsortium", {"authority_msp": HA})
    w.dr_h1.ok("GetNewRecordRecipients", w.alice.id, "laboratory")
    w.create("rec-1")
    w.create("rec-2", category="imaging")
    w.dr_h1.ok("GetRecipients", "rec-1")
    w.alice.ok("GetRecord", "rec-1")
    w.alice.ok("ListPatientRecords", w.alice.id, "10", "")
    version = {"ciphertext_sha256": digest("rec-2 v2"), "size": 99, "locator": f"sha256/{digest('rec-2 v2')}"}
    w.alice.ok("AddRecordVersion", "rec-2", version, transient={"wrapped_keys": w.record_keys()})
    w.alice.ok("GetRecordHistory", "rec-2")
    grant = w.give(w.dr_h2.id, ["rec-1"], purposes=["treatment", "diagnosis-ai"])
    w.alice.ok("GetGrant", grant["id"])
    w.alice.ok("ListGrantsByPatient", w.alice.id, "10", "")
    w.dr_h2.ok("ListGrantsByGrantee", w.dr_h2.id, "10", "")
    w.alice.ok("GetGrantHistory", grant["id"])
    return grant


def _tour_access(w: World) -> str:
    txid: str = w.dr_h2.ok("RequestAccess", {"record_ids": ["rec-1", "rec-9"], "purpose": "diagnosis-ai"})["tx_id"]
    w.dr_h2.ok("GetAccessKeys", txid)
    w.h1_admin.ok("VerifyAccess", txid, w.dr_h2.id, "rec-1")
    w.h1_admin.ok("VerifyAccessBatch", txid, w.dr_h2.id, json.dumps(["rec-1", "rec-2", "rec-9"]))
    transient = {"justification": JUSTIFICATION, "salt": SALT}
    emergency = w.dr_h1b.ok("EmergencyAccess", {"record_ids": ["rec-2"]}, transient=transient)
    w.alice.ok("GetJustification", emergency["tx_id"])
    w.alice.ok("ListAccessByPatient", w.alice.id, "10", "")
    w.dr_h2.ok("ListAccessByRequester", w.dr_h2.id, "10", "")
    w.auditor.ok("ListAllAccess", "1", "")
    return txid


def _tour_requests_and_emergencies(w: World) -> None:
    ask = {"patient_id": w.alice.id, "categories": ["laboratory"], "purposes": ["treatment"]}
    ask["valid_until"] = "2027-01-01T00:00:00Z"
    request = w.dr_h2.ok("RequestConsent", ask, transient={"message": "May I see your results?", "salt": SALT})
    w.alice.ok("GetConsentRequest", request["id"])
    w.alice.ok("ListConsentRequestsForPatient", w.alice.id, "10", "")
    w.dr_h2.ok("ListConsentRequestsByRequester", w.dr_h2.id, "10", "")
    grant = w.give(w.dr_h2.id, ["rec-1"])
    w.alice.ok("AnswerConsentRequest", {"request_id": request["id"], "decision": "approved", "grant_id": grant["id"]})
    transient = {"justification": JUSTIFICATION, "salt": SALT}
    txid = w.dr_h2.ok("EmergencyAccess", {"record_ids": ["rec-2"]}, transient=transient)["tx_id"]
    w.auditor.ok("ListEmergencies", "", "all", "10", "")
    key = w.h1_admin.ok("GetEmergencyKeysToRelease", txid)["keys"][0]
    released = {"wrapped_keys": {"rec-2": key["wrapped_key"]}}
    w.h1_admin.ok("ReleaseEmergencyKeys", {"access_tx_id": txid}, transient=released)
    w.dr_h2.ok("GetEmergencyKeys", txid)
    note = {"note": JUSTIFICATION, "salt": SALT}
    w.auditor.ok("ReviewEmergency", {"access_tx_id": txid, "verdict": "justified"}, transient=note)
    w.alice.ok("GetEmergencyReview", txid)
    w.dr_h2.ok("EmergencyAccessForPatient", {"patient_id": w.alice.id}, transient=transient)


def _tour_models(w: World, txid: str) -> None:
    features = [{"name": "mean radius", "type": "float", "unit": "mm", "min": 0, "max": 50}]
    model = {
        "model_id": "tour-model",
        "version": "1.0.0",
        "artifact_sha256": digest("artifact"),
        "format": "xgboost-json",
        "training_data_fingerprint": digest("rows"),
        "feature_schema": features,
        "parameters": {"max_depth": 4},
        "metrics": {"auc": 0.99},
        "subgroup_metrics": {"large-tumours": {"auc": 0.97}},
        "code_ref": "git:abc123",
        "libraries": {"xgboost": "2.1.0"},
        "trained_at": "2025-12-01T00:00:00Z",
        "task": "classification",
        "description": "a tour of the registry",
        "training": training_run(features),
    }
    registered = w.researcher.ok("RegisterModel", model)
    approve(w, registered)
    w.alice.ok("GetApprovalPolicy", "tour-model", "")
    w.alice.ok("GetModel", "tour-model", "1.0.0")
    w.alice.ok("ListModels", "", "10", "")
    inference = {
        "record_id": "rec-1",
        "ciphertext_sha256": digest("rec-1"),
        "input_sha256": digest("in"),
        "explanation_sha256": sha256_of_json(explanation("mean radius")),
    }
    batch = {**{k: model[k] for k in ("model_id", "version", "artifact_sha256")}, "access_tx_id": txid}
    outputs = inference_transient({"rec-1": {"label": "positive", "probability": 0.9}})
    recorded = w.dr_h2.ok("RecordInferences", {**batch, "inferences": [inference]}, transient=outputs)
    name = f"{recorded['tx_id']}:0"
    w.alice.ok("TraceInference", name)
    review = {"inference_id": name, "decision": "override"}
    w.dr_h2.ok("ReviewInference", review, transient={"reason": JUSTIFICATION, "override": 0, "salt": SALT})
    outcome = {"outcome": {"value": 1, "subgroups": ["large-tumours"]}, "salt": SALT}
    w.dr_h2.ok("RecordOutcome", {"inference_id": name}, transient=outcome)
    w.alice.ok("GetInferenceReviews", name)
    w.researcher.ok("GetModelUse", "tour-model", "1.0.0")
    w.auditor.ok("ListModelVerifications", "tour-model", "1.0.0", "10", "")
    w.auditor.ok("GetModelPerformance", "tour-model", "1.0.0")
    w.alice.ok("ListInferencesByRecord", "rec-1", "10", "")
    w.alice.ok("ListInferencesByPatient", w.alice.id, "10", "")
    w.auditor.ok("RetireModel", "tour-model", "1.0.0", "the tour is over")


def _tour_proxies(w: World) -> None:
    """Alice names a parent (enrolled at Hospital2 with role patient) who acts for her, then ends it."""
    parent = Actor(w.ledger, "h2-parent-1", H2, "patient")
    parent.ok("RegisterMember", JWK)
    doc = {"patient_id": w.alice.id, "proxy_id": parent.id, "rights": ["grant", "revoke", "view"]}
    keys = {"wrapped_keys": {"rec-1": jwe("proxy"), "rec-2": jwe("proxy")}}
    w.alice.ok("SetProxy", {**doc, "valid_until": "2026-12-31T00:00:00Z"}, transient=keys)
    w.alice.ok("ListProxiesOfPatient", w.alice.id, "10", "")
    parent.ok("ListPatientsIActFor", "10", "")
    parent.ok("RequestAccess", {"record_ids": ["rec-1"], "purpose": "treatment", "on_behalf_of": w.alice.id})
    grant = {**w.grant(w.dr_h1.id, ["rec-1"]), "on_behalf_of": w.alice.id}
    parent.ok("GrantConsent", grant, transient={"wrapped_keys": {"rec-1": jwe(w.dr_h1.id)}})
    w.alice.ok("RevokeProxy", w.alice.id, parent.id)


def _tour_key_recovery(w: World) -> None:
    """Alice lost her wallet: her hospital's admin recovers her key, Hospital1 re-wraps rec-1 for the new one;
    the researcher left, and their key is reported compromised."""
    new_alice = Actor(w.ledger, w.alice.local_id, H1, "patient", enrollment_certificate(w.alice.local_id))
    pin = certificate_sha256(new_alice.certificate_pem)
    w.h1_admin.ok("OpenKeyRecovery", {"member_id": w.alice.id, "proofing": "in-person", "certificate_sha256": pin})
    new_kid = new_alice.ok("RegisterRecoveredKey", other_jwk(1))["new_kid"]
    w.h1_admin.ok("ListKeyRecoveriesToRewrap", "10", "")
    w.h1_admin.ok("GetRecoveryKeysToRewrap", w.alice.id)
    rewrap = {"member_id": w.alice.id, "records": [{"record_id": "rec-1", "version": 1}]}
    w.h1_admin.ok("RewrapRecoveredKeys", rewrap, transient={"wrapped_keys": {"rec-1": jwe_for(new_kid)}})
    new_alice.ok("GetKeyRecovery", w.alice.id)
    w.h1_admin.ok("ReportKeyCompromised", {"member_id": w.researcher.id, "reason": "left-organization"})
    w.h1_admin.ok("ListCustodianRecords", "10", "")


def _tour_diagnostics(w: World) -> None:
    for function, *args in (
        ("Put", "k1", "v"),
        ("PutMany", "m", "2", "3"),
        ("Get", "k1"),
        ("GetMany", "k1,nothing"),
        ("PutSimple", "s1", "v"),
        ("RangeSimple",),
        ("GetKeyEndorsers", "s1"),
        ("Transient",),
        ("PrivateGet", "careledger-private", "k1"),
        ("WhoAmI",),
    ):
        outcome = w.h1_admin.call(f"diag:{function}", *args, transient={"x": "y"})
        assert outcome.status == 200, outcome.message


def test_every_function_answers_as_it_declares() -> None:
    w = World()
    grant = _tour_records(w)
    txid = _tour_access(w)
    _tour_requests_and_emergencies(w)
    _tour_models(w, txid)
    _tour_proxies(w)
    w.alice.ok("RevokeConsent", grant["id"])
    w.alice.ok("EraseRecord", "rec-2")
    _tour_key_recovery(w)
    w.h1_admin.ok("Migrate", "100", "")
    _tour_diagnostics(w)
    assert isinstance(w.ledger, CheckedLedger)
    names = {n for n in transactions(w.ledger.router.metadata) if not n.startswith("careledger:")}  # once each
    answered = {n for n, statuses in w.ledger.answered.items() if 200 in statuses}
    untoured = sorted(names - answered - NOT_TOURED)
    assert not untoured, f"add these functions to the tour, so that their declarations are checked: {untoured}"


# -- a contract that strays from its declarations ------------------------------------------------------------
class Pair(TypedDict):
    a: int
    b: str


COUNT = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"], "additionalProperties": False}


class Toy(Contract):
    """Does what its transient fields say: refuse with a code, set an event, answer a result."""

    name = "toy"

    @transaction("Write", arguments={"doc_json": COUNT}, returns=Pair, events=("Written",), refusals=(NOT_FOUND,))
    def write(self, ctx: Context, doc_json: str) -> Any:
        told = {k: json.loads(v) for k, v in ctx.stub.transient.items()}
        if "refuse" in told:
            raise ChaincodeError(told["refuse"], "as told")
        ctx.stub.set_event(told.get("event", "Written"), b"")
        return told.get("answer", {"a": 1, "b": "x"})


def _toy_call(doc: Any, **told: Any) -> None:
    ledger = CheckedLedger(Router([Toy()]))
    anyone = ClientIdentity("Org1MSP", b"", {})
    ledger.invoke(anyone, "Write", json.dumps(doc), transient={k: json.dumps(v).encode() for k, v in told.items()})


def test_a_call_within_its_declarations_passes() -> None:
    _toy_call({"n": 1})
    _toy_call({"n": 1}, refuse=NOT_FOUND)


@pytest.mark.parametrize(
    ("doc", "told", "complaint"),
    [
        ({"n": 1}, {"refuse": CONFLICT}, "refused with CONFLICT, which it does not declare"),
        ({"n": 1}, {"event": "Other"}, "set the event(s) ['Other'], which it does not declare"),
        ({"n": 1}, {"answer": {"a": "1", "b": "x"}}, "answered a result its declared schema does not describe"),
        ({"n": 1}, {"answer": {"a": 1, "b": "x", "c": 2}}, "answered a result its declared schema does not describe"),
        ({"n": 1, "m": 2}, {}, "accepted doc_json against its declared schema"),
        ({"n": "1"}, {}, "accepted doc_json against its declared schema"),
    ],
)
def test_a_call_that_strays_from_its_declarations_is_caught(doc: Any, told: dict[str, Any], complaint: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(complaint)):
        _toy_call(doc, **told)


# -- every refusal a function can reach is declared ----------------------------------------------------------
def _reachable_refusals() -> dict[str, set[str]]:
    """For each function of the healthcare contract, the codes of every refusal it can reach through the
    contract's own helpers, read from the source: an over-approximation (a name is taken for every function,
    method or property of that name in the package), so that paths no scene takes are held to account too."""
    package = Path(healthcare.__file__).parent
    defined: dict[str, list[ast.AST]] = {}
    transactions: dict[str, str] = {}
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                defined.setdefault(node.name, []).extend(n for n in node.body if getattr(n, "name", "") == "__init__")
            if isinstance(node, ast.FunctionDef):
                defined.setdefault(node.name, []).append(node)
                for decorator in node.decorator_list:
                    if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "transaction":
                        transactions[node.name] = ast.literal_eval(decorator.args[0])
    # the helpers of _refusals, by the code each refuses with
    leaves = {name: fn("").code for name, fn in vars(_refusals).items() if callable(fn) and name in defined}
    codes: dict[str, set[str]] = {name: set() for name in defined}  # what each name refuses with itself
    calls: dict[str, set[str]] = {name: set() for name in defined}  # the names it refers to
    for name, nodes in defined.items():
        for sub in (sub for node in nodes for sub in ast.walk(node)):
            if isinstance(sub, ast.Call) and getattr(sub.func, "id", "") == "ChaincodeError":
                first = sub.args[0]
                codes[name].add(first.value if isinstance(first, ast.Constant) else getattr(codes_module, first.id))
            ref = sub.id if isinstance(sub, ast.Name) else sub.attr if isinstance(sub, ast.Attribute) else None
            if ref in leaves:
                codes[name].add(leaves[ref])
            elif ref in defined:
                calls[name].add(ref)
    changed = True
    while changed:  # until what each name can reach stops growing
        changed = False
        for name in defined:
            grown = codes[name].union(*(codes[c] for c in calls[name]))
            changed = changed or grown != codes[name]
            codes[name] = grown
    return {tx: codes[function] for function, tx in transactions.items()}


def test_every_refusal_a_function_can_reach_is_declared() -> None:
    metadata = Router([healthcare.HealthcareContract()]).metadata
    declared = {t["name"]: set(t["refusals"]) for t in metadata["contracts"]["careledger"]["transactions"]}
    reachable = _reachable_refusals()
    assert set(reachable) == set(declared)
    undeclared = {tx: sorted(codes - declared[tx]) for tx, codes in reachable.items() if codes - declared[tx]}
    assert not undeclared, f"declare these refusals (the code can answer them): {undeclared}"
