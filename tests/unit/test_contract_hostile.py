"""Hostile arguments against every list and query function: bookmarks, ids and times that try to leave
the caller's own range. Finding 1: a bookmark such as "\\x00audit-patient\\x00" read other patients' data."""

from __future__ import annotations

import json

import pytest
from careledger_chaincode.contracts import all_contracts
from careledger_chaincode.runtime import Router
from careledger_protocol import sha256_of_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .chaincode_helpers import JWK, Actor, World, approve, digest, explanation, inference_transient, training_run

MODEL_M = {
    "model_id": "m",
    "version": "1.0.0",
    "artifact_sha256": digest("a"),
    "format": "xgboost-json",
    "training_data_fingerprint": digest("d"),
    "feature_schema": [{"name": "x", "type": "float"}],
    "parameters": {},
    "metrics": {"auc": 0.9},
    "code_ref": "c",
    "training": training_run([{"name": "x", "type": "float"}]),
}

ALICE = "h1-patient-1@Hospital1MSP"
BOB = "h1-patient-2@Hospital1MSP"
DR_H2 = "h2-clinician-1@Hospital2MSP"


def _world() -> World:
    """Alice and Bob each have records, grants, access events and inferences."""
    w = World()
    for record_id, patient in (("rec-a", w.alice), ("rec-b", w.bob)):
        doc = w.record(record_id, patient=patient)
        w.dr_h1.ok("CreateRecord", doc, transient={"wrapped_keys": w.record_keys(patient)})
        keys = {
            "wrapped_keys": {
                record_id: {"protected": "e", "encrypted_key": "k", "iv": "i", "ciphertext": "c", "tag": "t"}
            }
        }
        grant = w.grant(DR_H2, [record_id], purposes=["treatment", "diagnosis-ai"])
        patient.ok("GrantConsent", grant, transient=keys)
    w.researcher.ok(
        "RegisterModel",
        MODEL_M,
    )
    approve(w, MODEL_M)
    parent = Actor(w.ledger, "h2-parent-1", "Hospital2MSP", "patient")  # Bob's proxy: never in Alice's lists
    parent.ok("RegisterMember", JWK)
    proxy = {"patient_id": BOB, "proxy_id": parent.id, "rights": ["revoke"], "valid_until": "2026-12-31T00:00:00Z"}
    w.bob.ok("SetProxy", proxy)
    for record_id in ("rec-a", "rec-b"):
        txid = w.dr_h2.ok("RequestAccess", {"record_ids": [record_id], "purpose": "diagnosis-ai"})["tx_id"]
        batch = {
            "model_id": "m",
            "version": "1.0.0",
            "artifact_sha256": digest("a"),
            "access_tx_id": txid,
            "inferences": [
                {
                    "record_id": record_id,
                    "ciphertext_sha256": digest(record_id),
                    "input_sha256": digest("in"),
                    "explanation_sha256": sha256_of_json(explanation("x")),
                }
            ],
        }
        outputs = {record_id: {"label": "positive", "probability": 0.9}}
        w.dr_h2.ok("RecordInferences", batch, transient=inference_transient(outputs, ("x",)))
    return w


WORLD = _world()
# (function, arguments before page_size and bookmark): Alice asks for her own things.
ALICE_LISTS = [
    ("ListAccessByPatient", [ALICE]),
    ("ListGrantsByPatient", [ALICE]),
    ("ListInferencesByPatient", [ALICE]),
    ("ListInferencesByRecord", ["rec-a"]),
    ("ListPatientRecords", [ALICE]),
    ("ListModels", [""]),
    ("ListProxiesOfPatient", [ALICE]),
]
KINDS = ["audit-patient", "grant-p", "grant-g", "inference", "patient-record", "record", "member", "model", "wkey", ""]
crafted = st.one_of(
    st.sampled_from([f"\x00{k}\x00" for k in KINDS] + ["\x00", "\x01", "", " ", "\U0010ffff"]),
    st.builds(lambda k, s: f"\x00{k}\x00{s}", st.sampled_from(KINDS), st.text(max_size=30)),
    st.text(max_size=60),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)


def _leaks(payload: bytes) -> bool:
    return BOB.encode() in payload or b"rec-b" in payload


@pytest.mark.parametrize(("function", "args"), ALICE_LISTS)
def test_own_lists_hold_only_her_things(function: str, args: list[str]) -> None:
    outcome = WORLD.alice.call(function, *args, "100", "")
    assert outcome.status == 200, outcome.message
    assert not _leaks(outcome.payload)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(ALICE_LISTS) - 1), bookmark=crafted)
def test_no_bookmark_leaves_the_callers_range(index: int, bookmark: str) -> None:
    function, args = ALICE_LISTS[index]
    outcome = WORLD.alice.call(function, *args, "100", bookmark)
    assert outcome.status in (200, 400), outcome.message
    assert not _leaks(outcome.payload), f"{function} with bookmark {bookmark!r} leaked another patient's data"


@pytest.mark.parametrize(("function", "args"), ALICE_LISTS[:5])
def test_the_reported_injection_is_refused(function: str, args: list[str]) -> None:
    message = WORLD.alice.refused("INVALID_ARGUMENT", function, *args, "100", "\x00audit-patient\x00")
    assert "bookmark" in message


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    function=st.sampled_from(
        ["ListAccessByPatient", "ListGrantsByPatient", "ListInferencesByPatient", "ListPatientRecords"]
    ),
    patient=st.one_of(
        st.just(BOB), st.just("h1-patient-2"), st.just("h1-patient-2@Hospital2MSP"), st.text(max_size=40)
    ),
)
def test_no_id_opens_another_patients_list(function: str, patient: str) -> None:
    outcome = WORLD.alice.call(function, patient, "100", "")
    assert outcome.status in (200, 400)
    assert not _leaks(outcome.payload)


@settings(max_examples=200, deadline=None)
@given(valid_until=st.one_of(st.text(max_size=40), st.datetimes().map(lambda d: d.isoformat() + "Z")))
def test_hostile_times_never_crash_and_never_outlive_the_year_range(valid_until: str) -> None:
    outcome = WORLD.alice.call(
        "GrantConsent",
        {"grantee": DR_H2, "purposes": ["treatment"], "valid_until": valid_until, "categories": ["imaging"]},
        transient={"wrapped_keys": {}},
    )
    assert outcome.status in (200, 400), outcome.message
    if outcome.status == 200:
        assert "2026" <= json.loads(outcome.payload)["valid_until"][:4] <= "2199"


def test_diag_is_for_admins_only() -> None:
    w = World()
    for actor in (w.alice, w.dr_h1, w.auditor, w.researcher):
        actor.refused("NOT_AUTHORIZED", "diag:Put", "k", "v")
        actor.refused("NOT_AUTHORIZED", "diag:Get", "k")
    assert w.h1_admin.call("diag:Put", "k", "v").status == 200


@pytest.mark.parametrize(("count", "size"), [("x", "3"), ("2", "-1"), ("", "3"), ("1e3", "3"), ("0", "3")])
def test_diag_put_many_refuses_what_is_not_a_count_as_the_callers_error(count: str, size: str) -> None:
    assert "whole number" in World().h1_admin.refused("INVALID_ARGUMENT", "diag:PutMany", "m", count, size)


def test_refusals_are_logged_with_their_reason(caplog: pytest.LogCaptureFixture) -> None:
    w = World()
    with caplog.at_level("INFO", logger="careledger.chaincode"):
        w.alice.refused("INVALID_ARGUMENT", "ListAccessByPatient", ALICE, "10", "\x00audit-patient\x00")
    assert any("refused ListAccessByPatient" in r.getMessage() and "bookmark" in r.getMessage() for r in caplog.records)


def test_unknown_function_and_wrong_arity() -> None:
    w = World()
    assert "known:" in w.alice.refused("UNKNOWN_FUNCTION", "DropAllTables")
    assert "takes 1 arguments" in w.alice.refused("INVALID_ARGUMENT", "GetRecord")


def test_a_refused_transaction_writes_nothing() -> None:
    w = World()
    w.create()
    before, private_before = dict(w.ledger.state), json.dumps(w.ledger.private, default=str)
    w.alice.refused("FAILED_PRECONDITION", "GrantConsent", w.grant(DR_H2, ["rec-1"]), transient={"wrapped_keys": {}})
    assert w.ledger.state == before
    assert json.dumps(w.ledger.private, default=str) == private_before


def test_state_is_deterministic_json() -> None:
    w = World()
    w.create()
    for value in [*w.ledger.state.values(), *w.ledger.private.get("careledger-private", {}).values()]:
        if value != b"\x00":
            assert (
                value
                == json.dumps(json.loads(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            )


def test_read_only_functions_are_marked() -> None:
    described = Router(all_contracts()).describe()
    reads = {n for n, d in described.items() if d["read_only"] and ":" not in n}
    assert reads == {
        "WhoAmI",
        "GetMember",
        "GetMemberHistory",
        "ListMembers",
        "GetRecord",
        "ListPatientRecords",
        "GetGrant",
        "ListGrantsByPatient",
        "ListGrantsByGrantee",
        "GetGrantHistory",
        "VerifyAccess",
        "VerifyAccessBatch",
        "GetJustification",
        "GetConsentRequest",
        "ListConsentRequestsForPatient",
        "ListConsentRequestsByRequester",
        "ListEmergencies",
        "GetEmergencyKeysToRelease",
        "GetEmergencyKeys",
        "GetEmergencyReview",
        "ListAccessByPatient",
        "ListAccessByRequester",
        "ListAllAccess",
        "GetRecordHistory",
        "GetModel",
        "ListModels",
        "ListInferencesByRecord",
        "ListInferencesByPatient",
        "GetAccessKeys",
        "GetNewRecordRecipients",
        "GetRecipients",
        "GetConsortium",
        "GetApprovalPolicy",
        "TraceInference",
        "GetInferenceReviews",
        "GetModelUse",
        "ListModelVerifications",
        "GetModelPerformance",
        "ListProxiesOfPatient",
        "ListPatientsIActFor",
        "GetKeyRecovery",
        "GetRecoveryKeysToRewrap",
        "ListKeyRecoveriesToRewrap",
        "ListCustodianRecords",
    }


def test_an_unregistered_actor_reads_nothing() -> None:
    stranger = Actor(WORLD.ledger, "h2-patient-7", "Hospital2MSP", "patient")
    for function, args in ALICE_LISTS[:5]:
        outcome = stranger.call(function, *args, "100", "")
        assert outcome.status == 400 or not _leaks(outcome.payload)
