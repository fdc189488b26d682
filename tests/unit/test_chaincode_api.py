"""The ledger's API is discoverable and documented from the code: GetMetadata answers the fabric-contract-api
metadata of every contract (with each argument's and result's JSON Schema, the events and the refusal codes of
each function), and docs/chaincode-api.md is exactly what the contracts generate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from careledger_chaincode.api_doc import document
from careledger_chaincode.contracts import all_contracts
from careledger_chaincode.runtime import ClientIdentity, Router
from careledger_chaincode.runtime.testing import MemoryLedger
from careledger_protocol import EVENT_NAMES, NOT_AUTHORIZED, REFUSAL_CODES
from jsonschema import Draft4Validator

from .contract_declarations import declares_nothing

DOC = Path(__file__).resolve().parents[2] / "docs" / "chaincode-api.md"
# The keywords the fabric-contract-api metadata schema (draft 4) allows in a schema; components add `$id`.
ALLOWED_KEYWORDS = {
    "$ref", "format", "title", "description", "default", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxProperties",
    "minProperties", "required", "enum", "additionalProperties", "type", "items", "allOf", "properties",
    "discriminator", "readOnly", "example",
}  # fmt: skip
METADATA = Router(all_contracts(), title="careledger", version="test").metadata


def _transactions() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, contract in METADATA["contracts"].items():
        for tx in contract["transactions"]:
            yield f"{name}:{tx['name']}", tx


def _schemas() -> Iterator[tuple[str, dict[str, Any]]]:
    for where, tx in _transactions():
        for parameter in tx["parameters"]:
            yield f"{where}({parameter['name']})", parameter["schema"]
        if "returns" in tx:
            yield f"{where} returns", tx["returns"]
    for name, component in METADATA["components"]["schemas"].items():
        yield f"components.schemas.{name}", {k: v for k, v in component.items() if k != "$id"}


def _within(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The schema and every schema in it."""
    yield schema
    for sub in [*schema.get("properties", {}).values(), *schema.get("allOf", [])]:
        yield from _within(sub)
    for keyword in ("items", "additionalProperties"):
        if isinstance(schema.get(keyword), dict):
            yield from _within(schema[keyword])


def test_the_document_is_what_the_contracts_generate() -> None:
    assert DOC.read_text() == document(), "run: python -m careledger_chaincode.api_doc > docs/chaincode-api.md"


def test_every_function_is_described() -> None:
    assert "No description yet" not in document()


def test_every_function_declares_what_it_does() -> None:
    """Its arguments' and result's schemas, its events and its refusals (see runtime.transaction)."""
    for where, tx in _transactions():
        assert not declares_nothing(tx), f"{where}: declare arguments, returns, events and refusals in @transaction"
        assert NOT_AUTHORIZED in tx["refusals"], f"{where}: every function checks its caller"
        assert set(tx["refusals"]) <= set(REFUSAL_CODES), f"{where}: refusals must be protocol codes"
        if not where.startswith("careledger:"):
            continue
        bare = [p["name"] for p in tx["parameters"] if p["schema"] == {"type": "string"}]
        assert not bare, f"{where}: say what {bare} hold (a pattern, an enum, a length or a JSON Schema)"
        assert tx.get("returns", {}).get("type") != "string", f"{where}: declare the document it answers"
        assert set(tx["events"]) <= EVENT_NAMES, f"{where}: its events must be careledger_protocol.Event"
        assert tx["events"] or "EVALUATE" in tx["tag"] or tx["name"] == "Migrate", f"{where}: a write sets an event"


def test_every_schema_is_what_the_contract_metadata_format_allows() -> None:
    components = METADATA["components"]["schemas"]
    for name, component in components.items():
        assert component["$id"] == name
    for where, schema in _schemas():
        Draft4Validator.check_schema(schema)
        for sub in _within(schema):
            assert set(sub) <= ALLOWED_KEYWORDS, f"{where}: {sorted(set(sub) - ALLOWED_KEYWORDS)}"
            if "$ref" in sub:
                assert sub["$ref"].removeprefix("#/components/schemas/") in components, f"{where}: {sub['$ref']}"


def test_get_metadata_answers_every_contract_in_the_contract_api_format() -> None:
    router = Router(all_contracts(), title="careledger", version="test")
    ledger = MemoryLedger(router)
    anyone = ClientIdentity("Hospital2MSP", b"", {"role": "patient", "member_id": "p", "hf.EnrollmentID": "p"})
    answer = ledger.invoke(anyone, "org.hyperledger.fabric:GetMetadata", commit=False)
    assert answer.status == 200, answer.message
    metadata = json.loads(answer.payload)
    assert metadata == json.loads(json.dumps(router.metadata))
    assert metadata["$schema"].endswith("contract-schema.json")
    assert set(metadata["contracts"]) == {"careledger", "diag"}
    transactions = {t["name"]: t for t in metadata["contracts"]["careledger"]["transactions"]}
    grant = transactions["GrantConsent"]
    assert grant["tag"] == ["SUBMIT", "submitTx"]
    assert [p["name"] for p in grant["parameters"]] == ["grant_json"]
    grant_json = grant["parameters"][0]["schema"]
    assert grant_json["type"] == "object"
    assert grant_json["required"] == ["grantee", "purposes", "valid_until"]
    assert grant_json["properties"]["valid_until"]["title"] == "time"
    assert grant["returns"] == {"$ref": "#/components/schemas/Grant"}
    assert grant["events"] == ["ConsentGranted"]
    assert grant["refusals"] == ["INVALID_ARGUMENT", "NOT_AUTHORIZED", "NOT_FOUND", "FAILED_PRECONDITION"]
    get_record = transactions["GetRecord"]
    assert get_record["tag"] == ["EVALUATE"]
    assert get_record["parameters"][0]["schema"]["title"] == "id"
    assert get_record["events"] == []
    listing = transactions["ListPatientRecords"]["returns"]
    assert listing["properties"]["items"] == {"type": "array", "items": {"$ref": "#/components/schemas/Record"}}
    record = metadata["components"]["schemas"]["Record"]
    assert record["properties"]["status"] == {"type": "string", "enum": ["active", "erased"]}
    assert "erased_at" in record["properties"]
    assert "erased_at" not in record["required"]
    listed = {t["name"] for c in metadata["contracts"].values() for t in c["transactions"]}
    described = {name.split(":")[-1] for name in router.describe() if not name.startswith("org.hyperledger.fabric:")}
    assert listed == described  # every function the router dispatches is in the metadata
