"""Contracts: classes whose marked methods are transaction functions, and the router that calls them.

A function is named "<contract>:<Function>" or, for the default (first) contract, just "<Function>".
Arguments arrive as strings; a function returns str, bytes, a JSON-able value or None. A refusal is a
ChaincodeError carrying a stable code; the peer sees status 400 (refusal) or 500 (our bug) and the
message "<CODE>: <text>", which clients map back to exceptions.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from careledger_protocol import (
    INTERNAL,
    INVALID_ARGUMENT,
    UNKNOWN_FUNCTION,
)

from ._identity import ClientIdentity
from ._interface import OutOfRange, Stub
from ._metadata import SYSTEM_CONTRACT, contract_metadata
from ._stub import PeerError

log = logging.getLogger("careledger.chaincode")

F = TypeVar("F", bound=Callable[..., Any])

# The stable refusal codes are the protocol's (careledger_protocol.codes), shared with the client.


class ChaincodeError(Exception):
    """A refusal the caller should see: a stable code and a message that says what to do."""

    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Context:
    stub: Stub

    @property
    def identity(self) -> ClientIdentity:
        return self.stub.identity


@dataclass(frozen=True)
class TransactionInfo:
    name: str
    read_only: bool
    parameters: tuple[str, ...]
    # What the metadata says of the function beyond its name (see transaction()).
    arguments: Mapping[str, Any] = field(default_factory=dict)
    returns: Any = str
    events: tuple[str, ...] = ()
    refusals: tuple[str, ...] = ()


def transaction(
    name: str | None = None,
    *,
    read_only: bool = False,
    arguments: Mapping[str, Any] | None = None,
    returns: Any = str,
    events: Iterable[str] = (),
    refusals: Iterable[str] = (),
) -> Callable[[F], F]:
    """Mark a method `def fn(self, ctx, *args: str)` as a transaction function, and say what it does:

    - arguments: parameter name -> what the string holds, a JSON Schema (mapping) or a type (see
      _schema); a parameter left out is any string. A schema other than a string's means JSON text.
    - returns: the result's type or schema; `str` (the default) for text, None for no payload.
    - events: the names of the chaincode events it may set (a read-only function sets none).
    - refusals: the codes it may refuse with (INVALID_ARGUMENT for a malformed call is added for all).
    """

    if isinstance(events, str) or isinstance(refusals, str):
        raise TypeError("events and refusals are collections of names, not one string")
    event_names = tuple(str(e) for e in events)  # str(): an enum member's value
    codes = tuple(str(c) for c in refusals)

    def mark(fn: F) -> F:
        params = tuple(inspect.signature(fn).parameters)[2:]
        unknown = sorted(set(arguments or {}) - set(params))
        if unknown:
            raise TypeError(f"{fn.__qualname__} declares arguments it does not take: {', '.join(unknown)}")
        if read_only and event_names:
            raise TypeError(f"{fn.__qualname__} is read-only: an evaluated transaction's events go nowhere")
        info = TransactionInfo(
            name or fn.__name__, read_only, params, dict(arguments or {}), returns, event_names, codes
        )
        fn.__careledger_tx__ = info  # type: ignore[attr-defined]
        return fn

    return mark


class Contract:
    name = ""

    def functions(self) -> dict[str, tuple[TransactionInfo, Callable[..., Any]]]:
        found: dict[str, tuple[TransactionInfo, Callable[..., Any]]] = {}
        for attr in dir(type(self)):
            member = getattr(type(self), attr)
            info = getattr(member, "__careledger_tx__", None)
            if isinstance(info, TransactionInfo):
                found[info.name] = (info, getattr(self, attr))
        return found


@dataclass(frozen=True)
class Outcome:
    status: int
    message: str
    payload: bytes


class _SystemContract(Contract):
    """What every chaincode answers besides its own contracts (as Fabric's contract APIs do)."""

    name = SYSTEM_CONTRACT

    def __init__(self, metadata: dict[str, Any]) -> None:
        self._metadata = metadata

    @transaction("GetMetadata", read_only=True, returns=dict[str, Any])
    def get_metadata(self, ctx: Context) -> dict[str, Any]:
        """The contracts, their transactions and parameters, in the fabric-contract-api metadata format."""
        return self._metadata


class Router:
    def __init__(self, contracts: list[Contract], title: str = "chaincode", version: str = "") -> None:
        if not contracts:
            raise ValueError("at least one contract is needed")
        self.metadata = contract_metadata(contracts, title, version)
        self._table: dict[str, tuple[TransactionInfo, Callable[..., Any]]] = {}
        for i, contract in enumerate([*contracts, _SystemContract(self.metadata)]):
            for fname, entry in contract.functions().items():
                self._table[f"{contract.name}:{fname}"] = entry
                if i == 0:
                    self._table[fname] = entry

    def describe(self) -> dict[str, dict[str, Any]]:
        return {
            name: {"read_only": info.read_only, "parameters": list(info.parameters)}
            for name, (info, _) in sorted(self._table.items())
        }

    def dispatch(self, stub: Stub) -> Outcome:
        name = stub.function
        entry = self._table.get(name)
        if entry is None:
            known = ", ".join(sorted(n for n in self._table if ":" not in n))
            return Outcome(400, f"{UNKNOWN_FUNCTION}: no function {name[:80]!r}; known: {known}", b"")
        info, fn = entry
        try:
            args = [a.decode("utf-8") for a in stub.parameters]
        except UnicodeDecodeError:
            return Outcome(400, f"{INVALID_ARGUMENT}: arguments must be UTF-8 text", b"")
        if len(args) != len(info.parameters):
            expected = ", ".join(info.parameters) or "none"
            return Outcome(
                400,
                f"{INVALID_ARGUMENT}: {name} takes {len(info.parameters)} arguments ({expected}), got {len(args)}",
                b"",
            )
        try:
            result = fn(Context(stub), *args)
            stub.flush_writes()
        except ChaincodeError as exc:
            _log_refusal(stub, name, exc.code, exc.message)
            return Outcome(exc.status, str(exc), b"")
        except OutOfRange:
            # Every bookmark and start key is checked against the range queried, so a crafted one can
            # never read another owner's keys.
            message = "bookmark is not from this list: pass back the bookmark of the previous page, or none"
            _log_refusal(stub, name, INVALID_ARGUMENT, message)
            return Outcome(400, f"{INVALID_ARGUMENT}: {message}", b"")
        except PeerError as exc:
            return Outcome(500, f"{INTERNAL}: ledger call failed: {exc}", b"")
        except Exception as exc:  # noqa: BLE001 - any bug must become an answer, never a silent peer timeout
            # Only the type and function name are logged: the message could contain patient-related input.
            log.error("transaction %s (%s) failed with %s", name, stub.tx_id[:12], type(exc).__name__)
            return Outcome(500, f"{INTERNAL}: {name} failed ({type(exc).__name__})", b"")
        return Outcome(200, "", _encode(result))


def _log_refusal(stub: Stub, name: str, code: str, message: str) -> None:
    """The audit line of a refusal: function, transaction, caller's organization, code and reason. Our
    refusal messages name ids and rules, never argument values such as free text or keys."""
    try:
        org = stub.identity.msp_id
    except Exception:  # noqa: BLE001 - an unparseable creator must not stop the refusal from being answered
        org = "an unidentified caller"
    log.info("refused %s (%s) for %s: %s: %s", name, stub.tx_id[:12], org, code, message)


def _encode(result: Any) -> bytes:
    if result is None:
        return b""
    if isinstance(result, bytes):
        return result
    if isinstance(result, str):
        return result.encode()
    return json.dumps(result, sort_keys=True, separators=(",", ":")).encode()
