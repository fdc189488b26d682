"""Layout version 4: every inference has a name, `<transaction id>:<n>`, that TraceInference finds it by.

A ledger written by the chaincode of layout 3 (LAYOUT_3, from git), with an inference recorded, is migrated
by the current chaincode's Migrate; the old inference is then found and traced by its name."""

from __future__ import annotations

from typing import Any

import pytest
from careledger_chaincode.contracts import all_contracts
from careledger_chaincode.contracts.healthcare.migration import CURRENT_VERSION
from careledger_chaincode.runtime import Router
from careledger_chaincode.runtime.testing import MemoryLedger

from ..previous_chaincode import LAYOUT_3, OldActor, load_previous_chaincode
from .chaincode_helpers import H1, H2, HA, JWK, SALT, Actor, World, digest, jwe


@pytest.fixture(scope="module")
def layout_3(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, str]:
    previous = load_previous_chaincode(tmp_path_factory.mktemp("layout3"), LAYOUT_3, "careledger_chaincode_layout3")
    old = previous.new_ledger()

    def call(who: tuple[str, str, str], function: str, *args: Any, transient: dict[str, Any] | None = None) -> Any:
        return OldActor(old, *who, previous.runtime).ok(function, *args, transient=transient)

    alice, dr_h1 = ("h1-patient-1", H1, "patient"), ("h1-clinician-1", H1, "clinician")
    dr_h2, researcher = ("h2-clinician-1", H2, "clinician"), ("h1-researcher-1", H1, "researcher")
    auditor, admin = ("ha-auditor-1", HA, "auditor"), ("h1-admin", H1, "admin")
    for member in (alice, dr_h1, dr_h2, researcher, auditor):
        call(member, "RegisterMember", JWK)
    call(admin, "SetConsortium", {"authority_msp": HA})
    call(admin, "RegisterOrganizationKey", JWK)
    record = {
        "record_id": "rec-1", "patient_id": "h1-patient-1@Hospital1MSP", "category": "laboratory",
        "resource_type": "Observation", "ciphertext_sha256": digest("rec-1"), "size": 10, "locator": "sha256/x",
    }  # fmt: skip
    keys = {"h1-patient-1@Hospital1MSP": jwe("p"), "org:Hospital1MSP": jwe("c")}
    call(dr_h1, "CreateRecord", record, transient={"wrapped_keys": keys})
    grant = {"grantee": "h2-clinician-1@Hospital2MSP", "record_ids": ["rec-1"], "purposes": ["diagnosis-ai"],
             "valid_until": "2099-01-01T00:00:00Z"}  # fmt: skip
    call(alice, "GrantConsent", grant, transient={"wrapped_keys": {"rec-1": jwe("g")}})
    model = {
        "model_id": "m", "version": "1.0.0", "artifact_sha256": digest("a"), "format": "xgboost-json",
        "training_data_fingerprint": digest("d"), "feature_schema": [{"name": "x", "type": "float"}],
        "parameters": {}, "metrics": {"auc": 0.9}, "code_ref": "c",
    }  # fmt: skip
    call(researcher, "RegisterModel", model)
    call(auditor, "ApproveModel", "m", "1.0.0")  # layout 3 approved without a policy
    access = call(dr_h2, "RequestAccess", {"record_ids": ["rec-1"], "purpose": "diagnosis-ai"})["tx_id"]
    batch = {
        "model_id": "m", "version": "1.0.0", "artifact_sha256": digest("a"), "access_tx_id": access,
        "inferences": [{"record_id": "rec-1", "ciphertext_sha256": digest("rec-1"), "input_sha256": digest("in"),
                        "explanation_sha256": digest("ex")}],
    }  # fmt: skip
    outputs = {"outputs": {"rec-1": {"label": "positive", "probability": 0.9}}, "salt": SALT}
    recorded = call(dr_h2, "RecordInferences", batch, transient=outputs)
    assert call(admin, "Migrate", "500", "")["version"] == 3  # how upgrades left it

    w = World.__new__(World)  # the current chaincode on that ledger
    w.ledger = MemoryLedger(Router(all_contracts()))
    w.ledger.state, w.ledger.history, w.ledger.clock = dict(old.state), dict(old.history), old.clock
    w.ledger.private = {c: dict(v) for c, v in old.private.items()}
    w.h1_admin, w.alice = Actor(w.ledger, *admin), Actor(w.ledger, *alice)
    w.auditor = Actor(w.ledger, *auditor)
    return w, f"{recorded['tx_id']}:0"


def test_an_old_inference_is_found_by_its_name_once_migrated(layout_3: tuple[World, str]) -> None:
    w, name = layout_3
    assert "no inference" in w.alice.refused("NOT_FOUND", "TraceInference", name)
    assert w.h1_admin.ok("Migrate", "500", "")["version"] == CURRENT_VERSION
    trace = w.alice.ok("TraceInference", name)
    assert trace["inference"]["output"] == {"label": "positive", "probability": 0.9}
    links = {link["link"]: link for link in trace["links"]}
    assert links["approval"]["ok"]  # approved before approval policies: said so
    assert "before approval policies" in links["approval"]["detail"]
    assert not links["training"]["ok"]  # and it has no training run: said so too
    assert links["access"]["ok"]
    assert links["consent"]["ok"]
