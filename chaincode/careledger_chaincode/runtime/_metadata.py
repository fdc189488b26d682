"""What a chaincode offers, in the fabric-contract-api metadata format (the format Fabric's Node and Java
contract APIs answer `org.hyperledger.fabric:GetMetadata` with), made from the contracts themselves: their
names and documentation, each transaction's name, parameters, whether it writes, and its documentation.

Every argument and result travels as a string (JSON where a document is meant), so every schema is a
string; what the strings hold is said in the descriptions."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._contract import Contract, TransactionInfo

SCHEMA = "https://hyperledger.github.io/fabric-chaincode-node/main/api/contract-schema.json"
SYSTEM_CONTRACT = "org.hyperledger.fabric"


def _doc(thing: Any) -> str:
    text = inspect.getdoc(thing)
    return " ".join(text.split()) if text else ""


def _transaction(info: TransactionInfo, method: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": info.name,
        # Both conventions of the official contract APIs: Java's SUBMIT/EVALUATE and Node's submitTx.
        "tag": ["EVALUATE"] if info.read_only else ["SUBMIT", "submitTx"],
        "parameters": [{"name": p, "schema": {"type": "string"}} for p in info.parameters],
        "returns": {"type": "string"},
    }
    description = _doc(method)
    if description:
        entry["description"] = description
    return entry


def contract_metadata(contracts: list[Contract], title: str, version: str) -> dict[str, Any]:
    """The metadata of these contracts (the first is the default, callable without its name)."""
    described: dict[str, Any] = {}
    for contract in contracts:
        functions = contract.functions()
        described[contract.name] = {
            "name": contract.name,
            "info": {"title": contract.name, "version": version, "description": _doc(type(contract))},
            "transactions": [_transaction(info, method) for _, (info, method) in sorted(functions.items())],
        }
    return {
        "$schema": SCHEMA,
        "info": {"title": title, "version": version},
        "contracts": described,
        "components": {"schemas": {}},
        "default": contracts[0].name if contracts else "",
    }
