"""Layout version 7: a model version's use log keeps one key per batch of inferences, with its count.

Inferences recorded by the chaincode of layout 6 (LAYOUT_6, from git: one use key per inference) on a ledger
set up by the current one are read by the current chaincode before and after its Migrate, which runs one key
a call so that it stops in the middle of a batch: the use log reads the same throughout, and the migrated
ledger holds one key per batch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from careledger_chaincode.contracts import all_contracts
from careledger_chaincode.contracts.healthcare.migration import CURRENT_VERSION
from careledger_chaincode.runtime import Router
from careledger_chaincode.runtime._interface import create_composite_key, split_composite_key
from careledger_chaincode.runtime.testing import MemoryLedger

from ..previous_chaincode import LAYOUT_6, OldActor, load_previous_chaincode
from .chaincode_helpers import H1, H2, Actor, World, approve, digest, inference_transient
from .test_contract_models import MODEL, OUTPUT, _batch, model_doc

DR_H2, ADMIN = ("h2-clinician-1", H2, "clinician"), ("h1-admin", H1, "admin")
BATCHES = (["rec-1", "rec-2"], ["rec-3"])


def _infer(actor: Any, records: list[str]) -> None:
    access = actor.ok("RequestAccess", {"record_ids": records, "purpose": "diagnosis-ai"})["tx_id"]
    batch = _batch(access)
    batch["inferences"] = [{**batch["inferences"][0], "record_id": r, "ciphertext_sha256": digest(r)} for r in records]
    actor.ok("RecordInferences", batch, transient=inference_transient({r: OUTPUT for r in records}))


def _use_keys(ledger: MemoryLedger) -> list[tuple[list[str], dict[str, Any]]]:
    prefix = create_composite_key("inference-model", [])
    return [(split_composite_key(k)[1], json.loads(v)) for k, v in sorted(ledger.state.items()) if k.startswith(prefix)]


def _copy(source: Any, into: Any) -> Any:
    into.state, into.history, into.clock = dict(source.state), dict(source.history), source.clock
    into.private = {c: dict(v) for c, v in source.private.items()}
    return into


@pytest.fixture(scope="module")
def layout_6(tmp_path_factory: pytest.TempPathFactory) -> MemoryLedger:
    w = World()  # members, records, consent and an approved model: written the same way by layouts 6 and 7
    for record in [r for batch in BATCHES for r in batch]:
        w.create(record)
    w.give(w.dr_h2.id, [r for batch in BATCHES for r in batch], purposes=["diagnosis-ai"])
    model = model_doc()
    w.researcher.ok("RegisterModel", model)
    approve(w, model)
    previous = load_previous_chaincode(tmp_path_factory.mktemp("layout6"), LAYOUT_6, "careledger_chaincode_layout6")
    old = _copy(w.ledger, previous.new_ledger())
    for records in BATCHES:  # the inferences, by the chaincode of layout 6
        _infer(OldActor(old, *DR_H2, previous.runtime), records)
    assert OldActor(old, *ADMIN, previous.runtime).ok("Migrate", "500", "")["version"] == 6  # as upgrades left it
    return _copy(old, MemoryLedger(Router(all_contracts())))


def test_the_use_log_reads_the_same_before_and_after_the_migration(layout_6: MemoryLedger) -> None:
    auditor, admin = Actor(layout_6, "ha-auditor-1", "HealthAuthorityMSP", "auditor"), Actor(layout_6, *ADMIN)
    assert [len(parts) for parts, _ in _use_keys(layout_6)] == [5, 5, 5]  # a key per inference
    before = auditor.ok("GetModelUse", MODEL, "1.0.0")
    assert before["inferences"] == 3
    assert before["users"] == [{"member_id": "h2-clinician-1@Hospital2MSP", "org": H2, "inferences": 3}]

    at_once = _copy(layout_6, MemoryLedger(Router(all_contracts())))
    assert Actor(at_once, *ADMIN).ok("Migrate", "500", "")["done"]  # a batch's later keys leave it to its first
    calls = 0
    while not (answer := admin.ok("Migrate", "1", ""))["done"]:  # one key a call: stops inside the first batch
        calls += 1
        assert calls < 50, answer
    assert answer["version"] == CURRENT_VERSION
    keys = _use_keys(layout_6)
    assert [(len(parts), value["inferences"]) for parts, value in keys] == [(4, 2), (4, 1)]
    assert _use_keys(at_once) == keys
    assert auditor.ok("GetModelUse", MODEL, "1.0.0") == before

    _infer(Actor(layout_6, *DR_H2), ["rec-1", "rec-3"])  # a batch by the current chaincode: one key
    assert [value["inferences"] for _, value in _use_keys(layout_6)] == [2, 1, 2]
    assert auditor.ok("GetModelUse", MODEL, "1.0.0")["inferences"] == 5
    assert admin.ok("Migrate", "500", "yes")["done"]  # a rescan changes nothing
    assert [value["inferences"] for _, value in _use_keys(layout_6)] == [2, 1, 2]
