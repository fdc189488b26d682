"""An in-memory ledger for unit tests of contract logic, with Fabric's semantics where they matter:
reads see committed state only (never the transaction's own writes), a failed transaction writes
nothing, history is kept per key, and one event per transaction is recorded.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from ._contract import Outcome, Router
from ._identity import ClientIdentity
from ._stub import _MAX_UNICODE, ChaincodeStub, KeyModification, _start_within


@dataclass
class CommittedEvent:
    tx_id: str
    name: str
    payload: bytes


@dataclass
class MemoryLedger:
    router: Router
    state: dict[str, bytes] = field(default_factory=dict)
    history: dict[str, list[KeyModification]] = field(default_factory=dict)
    events: list[CommittedEvent] = field(default_factory=list)
    clock: datetime.datetime = field(default_factory=lambda: datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    _counter: Iterator[int] = field(default_factory=itertools.count)

    def advance(self, **delta: float) -> None:
        self.clock += datetime.timedelta(**delta)

    def invoke(self, identity: ClientIdentity, function: str, *args: str, commit: bool = True) -> Outcome:
        """Run one transaction; its writes are committed only when it succeeds (and `commit`)."""
        self.advance(seconds=1)
        tx_id = hashlib.sha256(f"tx-{next(self._counter)}".encode()).hexdigest()
        stub = MemoryStub(self, identity, tx_id, [function.encode(), *(a.encode() for a in args)])
        outcome = self.router.dispatch(stub)
        if outcome.status < 400 and commit:
            for key, value in stub.pending.items():
                modification = KeyModification(tx_id, value or b"", self.clock, value is None)
                self.history.setdefault(key, []).append(modification)
                if value is None:
                    self.state.pop(key, None)
                else:
                    self.state[key] = value
            if stub.event is not None:
                self.events.append(CommittedEvent(tx_id, stub.event.event_name, bytes(stub.event.payload)))
        self.last_tx_id = tx_id
        return outcome


class MemoryStub(ChaincodeStub):
    """A ChaincodeStub whose ledger calls go to a MemoryLedger instead of a peer."""

    def __init__(self, ledger: MemoryLedger, identity: ClientIdentity, tx_id: str, args: list[bytes]) -> None:
        self._ledger = ledger
        self.tx_id = tx_id
        self.channel_id = "memory"
        self.args = args
        self.transient = {}
        self.timestamp = ledger.clock
        self.creator = b""
        self._identity = identity
        self._event = None
        self._writes = []
        self.pending: dict[str, bytes | None] = {}

    def get_state(self, key: str, collection: str = "") -> bytes | None:
        return self._ledger.state.get(key)

    def get_states(self, keys: list[str], collection: str = "") -> list[bytes | None]:
        return [self._ledger.state.get(k) for k in keys]

    def put_state(self, key: str, value: bytes, collection: str = "") -> None:
        if not key:
            raise ValueError("key must not be empty")
        self.pending[key] = bytes(value)

    def del_state(self, key: str, collection: str = "") -> None:
        self.pending[key] = None

    def flush_writes(self) -> None:
        pass

    def _range(self, start: str, end: str) -> list[tuple[str, bytes]]:
        return sorted((k, v) for k, v in self._ledger.state.items() if start <= k < end)

    def get_state_by_range(self, start_key: str, end_key: str, collection: str = "") -> Iterator[tuple[str, bytes]]:
        yield from self._range(start_key or "\x01", end_key or _MAX_UNICODE)

    def get_state_by_partial_composite_key(
        self, object_type: str, attributes: list[str], start_key: str = ""
    ) -> Generator[tuple[str, bytes], None, None]:
        prefix = self.create_composite_key(object_type, attributes)
        yield from self._range(_start_within(prefix, start_key), prefix + _MAX_UNICODE)

    def get_state_by_partial_composite_key_paginated(
        self, object_type: str, attributes: list[str], page_size: int, bookmark: str
    ) -> tuple[list[tuple[str, bytes]], str]:
        start = self.create_composite_key(object_type, attributes)
        rows = self._range(bookmark or start, start + _MAX_UNICODE)
        page = rows[:page_size]
        return page, rows[page_size][0] if len(rows) > page_size else ""

    def get_history_for_key(self, key: str) -> Iterator[KeyModification]:
        yield from reversed(self._ledger.history.get(key, []))  # newest first, as the peer answers

    def invoke_chaincode(self, name: str, args: list[bytes], channel: str = "") -> Any:
        raise NotImplementedError("MemoryStub does not call other chaincodes")
