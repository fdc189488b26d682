"""Layouts 7 and 8: a model version's use log, and the inferences' names, keep one key per batch of inferences.

Inferences recorded by the chaincode of layout 6 (LAYOUT_6: a use key and a name key per inference) and of
layout 7 (LAYOUT_7: a name key per inference), on a ledger set up by the current one, are read by the current
chaincode before and after its Migrate, run one key a call so that it stops inside a batch: the use log and
every inference's trace read the same throughout, and the migrated ledger holds one key per batch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from careledger_chaincode.contracts import all_contracts
from careledger_chaincode.contracts.healthcare.migration import CURRENT_VERSION
from careledger_chaincode.runtime import Router
from careledger_chaincode.runtime._interface import create_composite_key, split_composite_key
from careledger_chaincode.runtime.testing import MemoryLedger

from ..previous_chaincode import LAYOUT_6, LAYOUT_7, OldActor, load_previous_chaincode
from .chaincode_helpers import H1, H2, HA, Actor, World, approve, digest, inference_transient
from .test_contract_models import MODEL, OUTPUT, _batch, model_doc

DR_H2, ADMIN, AUDITOR = ("h2-clinician-1", H2, "clinician"), ("h1-admin", H1, "admin"), ("ha-auditor-1", HA, "auditor")
BATCHES = (["rec-1", "rec-2"], ["rec-3"])


def _infer(actor: Any, records: list[str]) -> list[str]:
    access = actor.ok("RequestAccess", {"record_ids": records, "purpose": "diagnosis-ai"})["tx_id"]
    batch = _batch(access)
    batch["inferences"] = [{**batch["inferences"][0], "record_id": r, "ciphertext_sha256": digest(r)} for r in records]
    tx = actor.ok("RecordInferences", batch, transient=inference_transient({r: OUTPUT for r in records}))["tx_id"]
    return [f"{tx}:{n}" for n in range(len(records))]


def _keys(ledger: MemoryLedger, kind: str) -> list[tuple[list[str], Any]]:
    prefix = create_composite_key(kind, [])
    return [(split_composite_key(k)[1], json.loads(v)) for k, v in sorted(ledger.state.items()) if k.startswith(prefix)]


def _copy(source: Any, into: Any) -> Any:
    into.state, into.history, into.clock = dict(source.state), dict(source.history), source.clock
    into.private = {c: dict(v) for c, v in source.private.items()}
    return into


def _reads(ledger: MemoryLedger, names: list[str]) -> tuple[Any, list[Any]]:
    """What the auditor reads: the use log, and each inference's trace."""
    auditor = Actor(ledger, *AUDITOR)
    return auditor.ok("GetModelUse", MODEL, "1.0.0"), [auditor.ok("TraceInference", n) for n in names]


@pytest.fixture(scope="module", params=[(LAYOUT_6, 6), (LAYOUT_7, 7)], ids=["layout6", "layout7"])
def written(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[MemoryLedger, list[str], int]:
    commit, version = request.param
    w = World()  # members, records, consent and an approved model: written the same way since layout 6
    for record in [r for batch in BATCHES for r in batch]:
        w.create(record)
    w.give(w.dr_h2.id, [r for batch in BATCHES for r in batch], purposes=["diagnosis-ai"])
    model = model_doc()
    w.researcher.ok("RegisterModel", model)
    approve(w, model)
    package = f"careledger_chaincode_layout{version}"
    previous = load_previous_chaincode(tmp_path_factory.mktemp(f"layout{version}"), commit, package)
    old = _copy(w.ledger, previous.new_ledger())
    names = [n for records in BATCHES for n in _infer(OldActor(old, *DR_H2, previous.runtime), records)]
    assert OldActor(old, *ADMIN, previous.runtime).ok("Migrate", "500", "")["version"] == version  # as upgrades left it
    return _copy(old, MemoryLedger(Router(all_contracts()))), names, version


def test_use_logs_and_traces_read_the_same_before_and_after_the_migration(
    written: tuple[MemoryLedger, list[str], int],
) -> None:
    ledger, names, version = written
    assert [len(parts) for parts, _ in _keys(ledger, "inference-tx")] == [2, 2, 2]  # a name key per inference
    assert [len(parts) for parts, _ in _keys(ledger, "inference-model")] == ([5, 5, 5] if version == 6 else [4, 4])
    use, traces = _reads(ledger, names)
    assert use["inferences"] == 3
    assert use["users"] == [{"member_id": "h2-clinician-1@Hospital2MSP", "org": H2, "inferences": 3}]
    assert [t["inference"]["record_id"] for t in traces] == ["rec-1", "rec-2", "rec-3"]

    at_once = _copy(ledger, MemoryLedger(Router(all_contracts())))
    assert Actor(at_once, *ADMIN).ok("Migrate", "500", "")["done"]  # a batch's later keys leave it to its first
    admin, calls = Actor(ledger, *ADMIN), 0
    while not (answer := admin.ok("Migrate", "1", ""))["done"]:  # one key a call: stops inside the first batch
        calls += 1
        assert calls < 50, answer
    assert answer["version"] == CURRENT_VERSION
    for kind in ("inference-model", "inference-tx"):
        assert _keys(at_once, kind) == _keys(ledger, kind)
    assert [(len(p), v["inferences"]) for p, v in _keys(ledger, "inference-model")] == [(4, 2), (4, 1)]
    assert sorted(len(v["inferences"]) for p, v in _keys(ledger, "inference-tx") if len(p) == 1) == [1, 2]
    assert all(len(p) == 1 for p, _ in _keys(ledger, "inference-tx"))
    assert _reads(ledger, names) == (use, traces)

    later = _infer(Actor(ledger, *DR_H2), ["rec-1", "rec-3"])  # a batch by the current chaincode: a key of each
    assert [v["inferences"] for _, v in _keys(ledger, "inference-model")] == [2, 1, 2]
    assert len(_keys(ledger, "inference-tx")) == 3
    assert Actor(ledger, *AUDITOR).ok("TraceInference", later[1])["inference"]["record_id"] == "rec-3"
    assert admin.ok("Migrate", "500", "yes")["done"]  # a rescan changes nothing
    assert [v["inferences"] for _, v in _keys(ledger, "inference-model")] == [2, 1, 2]
    assert all(len(p) == 1 for p, _ in _keys(ledger, "inference-tx"))
    assert _reads(ledger, names)[1] == traces
