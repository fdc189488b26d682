"""The ledger's API is discoverable and documented from the code: GetMetadata answers the fabric-contract-api
metadata of every contract, and docs/chaincode-api.md is exactly what the contracts generate."""

from __future__ import annotations

import json
from pathlib import Path

from careledger_chaincode.api_doc import document
from careledger_chaincode.contracts import all_contracts
from careledger_chaincode.runtime import ClientIdentity, Router
from careledger_chaincode.runtime.testing import MemoryLedger

DOC = Path(__file__).resolve().parents[2] / "docs" / "chaincode-api.md"


def test_the_document_is_what_the_contracts_generate() -> None:
    assert DOC.read_text() == document(), "run: python -m careledger_chaincode.api_doc > docs/chaincode-api.md"


def test_every_function_is_described() -> None:
    assert "No description yet" not in document()


def test_get_metadata_answers_every_contract_in_the_contract_api_format() -> None:
    router = Router(all_contracts(), title="careledger", version="test")
    ledger = MemoryLedger(router)
    anyone = ClientIdentity("Hospital2MSP", b"", {"role": "patient", "member_id": "p", "hf.EnrollmentID": "p"})
    answer = ledger.invoke(anyone, "org.hyperledger.fabric:GetMetadata", commit=False)
    assert answer.status == 200, answer.message
    metadata = json.loads(answer.payload)
    assert metadata["$schema"].endswith("contract-schema.json")
    assert set(metadata["contracts"]) == {"careledger", "diag"}
    grant = next(t for t in metadata["contracts"]["careledger"]["transactions"] if t["name"] == "GrantConsent")
    assert grant["tag"] == ["SUBMIT", "submitTx"]
    assert [p["name"] for p in grant["parameters"]] == ["grant_json"]
    get_record = next(t for t in metadata["contracts"]["careledger"]["transactions"] if t["name"] == "GetRecord")
    assert get_record["tag"] == ["EVALUATE"]
    listed = {t["name"] for c in metadata["contracts"].values() for t in c["transactions"]}
    described = {name.split(":")[-1] for name in router.describe() if not name.startswith("org.hyperledger.fabric:")}
    assert listed == described  # every function the router dispatches is in the metadata
