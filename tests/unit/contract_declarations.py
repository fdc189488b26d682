"""Holding the contracts to what they declare. Every call on a CheckedLedger is compared with the function's
metadata (what GetMetadata answers): a refusal's code must be one the function declares, an event it sets
one it declares, and a successful call's arguments and result must validate against its JSON Schemas.

The schemas use JSON Schema draft 4, as the fabric-contract-api metadata schema does; a parameter or result
whose schema is a string's is the text itself, any other is JSON text."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from careledger_chaincode.runtime import ClientIdentity, Outcome
from careledger_chaincode.runtime.testing import MemoryLedger
from careledger_protocol import INVALID_ARGUMENT
from jsonschema import Draft4Validator

Schema = dict[str, Any]
RUNTIME_REFUSALS = [INVALID_ARGUMENT]  # what the runtime adds to every function's refusals


def transactions(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each transaction of the metadata under every name it answers to."""
    found: dict[str, dict[str, Any]] = {}
    for contract_name, contract in metadata["contracts"].items():
        for tx in contract["transactions"]:
            found[f"{contract_name}:{tx['name']}"] = tx
            if contract_name == metadata["default"]:
                found[tx["name"]] = tx
    return found


def is_text(schema: Schema) -> bool:
    return schema.get("type") == "string"


def declares_nothing(tx: dict[str, Any]) -> bool:
    """A function whose @transaction says nothing of what it does: the metadata's defaults for all. The
    checks skip it (test_chaincode_api fails on it instead, until it declares)."""
    return (
        tx["refusals"] == RUNTIME_REFUSALS
        and not tx["events"]
        and tx.get("returns") == {"type": "string"}
        and all(p["schema"] == {"type": "string"} for p in tx["parameters"])
    )


class Declarations:
    """The declarations of one chaincode's functions, and the checks of a call against them."""

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata
        self.functions = transactions(metadata)
        self._validators: dict[str, Draft4Validator] = {}

    def validator(self, schema: Schema) -> Draft4Validator:
        """A validator of `schema`, whose `#/components/schemas/...` references resolve in the metadata."""
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            root = {"components": self.metadata["components"], "allOf": [schema]}
            Draft4Validator.check_schema(root)
            self._validators[key] = Draft4Validator(root)
        return self._validators[key]

    def problems(self, schema: Schema, value: Any) -> list[str]:
        errors = sorted(self.validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
        return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:300]}" for e in errors]

    def check(self, function: str, args: tuple[str, ...], outcome: Outcome, events: list[str]) -> None:
        tx = self.functions.get(function)
        if tx is None or declares_nothing(tx):  # UNKNOWN_FUNCTION, the system contract, or undeclared
            return
        if outcome.status == 400:
            code = outcome.message.partition(":")[0]
            assert code in tx["refusals"], (
                f"{function} refused with {code}, which it does not declare (refusals={tx['refusals']}): "
                f"{outcome.message}"
            )
        undeclared = [e for e in events if e not in tx["events"]]
        assert not undeclared, f"{function} set the event(s) {undeclared}, which it does not declare ({tx['events']})"
        if outcome.status != 200:
            return
        for parameter, arg in zip(tx["parameters"], args, strict=True):
            value = arg if is_text(parameter["schema"]) else json.loads(arg)
            wrong = self.problems(parameter["schema"], value)
            assert not wrong, f"{function} accepted {parameter['name']} against its declared schema: {wrong}"
        returns = tx.get("returns")
        if returns is None:
            assert outcome.payload == b"", f"{function} declares no result but answered {outcome.payload[:80]!r}"
            return
        result = outcome.payload.decode() if is_text(returns) else json.loads(outcome.payload)
        wrong = self.problems(returns, result)
        assert not wrong, f"{function} answered a result its declared schema does not describe: {wrong}"


_DECLARATIONS: dict[str, Declarations] = {}


def declarations(metadata: dict[str, Any]) -> Declarations:
    """One Declarations per distinct metadata (each World builds its own router)."""
    key = json.dumps(metadata, sort_keys=True)
    if key not in _DECLARATIONS:
        _DECLARATIONS[key] = Declarations(metadata)
    return _DECLARATIONS[key]


@dataclass
class CheckedLedger(MemoryLedger):
    """A MemoryLedger that checks every call against the function's declarations, and keeps which
    functions answered what (`answered`: function name -> statuses)."""

    answered: dict[str, set[int]] = field(default_factory=dict)

    def invoke(
        self,
        identity: ClientIdentity,
        function: str,
        *args: str,
        commit: bool = True,
        transient: Any = None,
        proposal_time: Any = None,
    ) -> Outcome:
        before = len(self.events)
        outcome = super().invoke(
            identity, function, *args, commit=commit, transient=transient, proposal_time=proposal_time
        )
        declarations(self.router.metadata).check(function, args, outcome, [e.name for e in self.events[before:]])
        self.answered.setdefault(function, set()).add(outcome.status)
        return outcome
