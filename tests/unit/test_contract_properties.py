"""Property tests: random argument lists never crash the contract and a refusal never writes."""

from __future__ import annotations

import json

from careledger_chaincode.contracts import all_contracts
from careledger_chaincode.runtime import Router
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .chaincode_helpers import World

FUNCTIONS = sorted(n for n in Router(all_contracts()).describe() if ":" not in n)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
RECORD_FIELDS = ("record_id", "patient_id", "category", "resource_type", "ciphertext_sha256", "size", "locator")
field_names = st.sampled_from(
    [
        *RECORD_FIELDS,
        "wrapped_keys",
        "grantee",
        "record_ids",
        "categories",
        "purposes",
        "valid_until",
        "valid_from",
        "purpose",
        "justification",
        "model_id",
        "version",
        "inferences",
        "access_tx_id",
        "kty",
        "crv",
        "x",
        "y",
    ]
)
plausible_objects = st.dictionaries(field_names, json_values, max_size=8).map(json.dumps)
arguments = st.one_of(
    st.text(max_size=40),
    plausible_objects,
    json_values.map(json.dumps),
    st.sampled_from(["rec-1", "h1-patient-1@Hospital1MSP", "org:Hospital1MSP", "10", ""]),
)


def _seeded() -> World:
    w = World()
    w.create()
    w.give(w.dr_h2.id, ["rec-1"])
    return w


WORLD = _seeded()
ACTORS = ["alice", "bob", "dr_h1", "dr_h2", "researcher", "auditor", "h1_admin"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(function=st.sampled_from(FUNCTIONS), actor=st.sampled_from(ACTORS), args=st.lists(arguments, max_size=5))
def test_random_calls_never_crash_and_refusals_write_nothing(function: str, actor: str, args: list[str]) -> None:
    before, private_before = dict(WORLD.ledger.state), repr(WORLD.ledger.private)
    outcome = getattr(WORLD, actor).ledger.invoke(getattr(WORLD, actor).identity, function, *args, commit=False)
    assert outcome.status in (200, 400), f"{function}{tuple(args)!r} -> {outcome.status} {outcome.message}"
    if outcome.status == 400:
        assert outcome.message.split(":")[0] in {
            "INVALID_ARGUMENT",
            "NOT_AUTHORIZED",
            "NOT_FOUND",
            "CONFLICT",
            "FAILED_PRECONDITION",
            "UNKNOWN_FUNCTION",
        }
    assert WORLD.ledger.state == before
    assert repr(WORLD.ledger.private) == private_before


@settings(max_examples=200, deadline=None)
@given(
    record=st.fixed_dictionaries(
        {},
        optional={k: json_values for k in RECORD_FIELDS},
    )
)
def test_create_record_with_random_fields_is_refused_cleanly(record: dict[str, object]) -> None:
    w = WORLD
    doc = {**w.record("rec-prop"), **record}
    transient = {"wrapped_keys": json.dumps(w.record_keys()).encode()}
    outcome = w.dr_h1.ledger.invoke(
        w.dr_h1.identity, "CreateRecord", json.dumps(doc), commit=False, transient=transient
    )
    assert outcome.status in (200, 400), outcome.message
