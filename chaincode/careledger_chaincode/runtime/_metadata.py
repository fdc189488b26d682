"""What a chaincode offers, in the fabric-contract-api metadata format (the format Fabric's Node and Java
contract APIs answer `org.hyperledger.fabric:GetMetadata` with), made from the contracts themselves: their
names and documentation, each transaction's name, whether it writes, its documentation, the JSON Schema of
each parameter and of its result, and the named documents those refer to (`components.schemas`).

Arguments and results travel as strings: a parameter or result whose schema is a string's is the text
itself, any other is JSON text (as the official contract APIs serialize them). Two members the format
leaves open are added to each transaction: `events`, the chaincode events it may set, and `refusals`,
the codes it may refuse with (see _contract.transaction)."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from careledger_protocol import INVALID_ARGUMENT, REFUSAL_CODES

from ._schema import Components

if TYPE_CHECKING:
    from ._contract import Contract, TransactionInfo

SCHEMA = "https://hyperledger.github.io/fabric-chaincode-node/main/api/contract-schema.json"
SYSTEM_CONTRACT = "org.hyperledger.fabric"
# The runtime itself refuses a call with the wrong number of arguments, or arguments that are not UTF-8.
RUNTIME_REFUSALS = (INVALID_ARGUMENT,)


def _doc(thing: Any) -> str:
    text = inspect.getdoc(thing)
    return " ".join(text.split()) if text else ""


def _refusals(declared: tuple[str, ...]) -> list[str]:
    """The declared codes and the runtime's, in the protocol's order (others after, as declared)."""
    codes = list(dict.fromkeys([*RUNTIME_REFUSALS, *declared]))
    known = [c for c in REFUSAL_CODES if c in codes]
    return known + [c for c in codes if c not in known]


def _transaction(info: TransactionInfo, method: Any, components: Components) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": info.name,
        # Both conventions of the official contract APIs: Java's SUBMIT/EVALUATE and Node's submitTx.
        "tag": ["EVALUATE"] if info.read_only else ["SUBMIT", "submitTx"],
        "parameters": [{"name": p, "schema": components.schema(info.arguments.get(p, str))} for p in info.parameters],
    }
    if info.returns is not None:  # None: the function answers no payload
        entry["returns"] = components.schema(info.returns)
    description = _doc(method)
    if description:
        entry["description"] = description
    entry["events"] = list(info.events)
    entry["refusals"] = _refusals(info.refusals)
    return entry


def contract_metadata(contracts: list[Contract], title: str, version: str) -> dict[str, Any]:
    """The metadata of these contracts (the first is the default, callable without its name)."""
    components = Components()
    described: dict[str, Any] = {}
    for contract in contracts:
        functions = contract.functions()
        described[contract.name] = {
            "name": contract.name,
            "info": {"title": contract.name, "version": version, "description": _doc(type(contract))},
            "transactions": [_transaction(info, method, components) for _, (info, method) in sorted(functions.items())],
        }
    return {
        "$schema": SCHEMA,
        "info": {"title": title, "version": version},
        "contracts": described,
        "components": {"schemas": dict(sorted(components.schemas.items()))},
        "default": contracts[0].name if contracts else "",
    }
