"""An in-memory ledger for unit tests of contract logic, with Fabric's semantics where they matter:
reads see committed state only (never the transaction's own writes), a failed transaction writes
nothing, history is kept per key, one event per transaction is recorded, private data lives apart
from public state and can be purged, and `blocks` keeps what a block reader would see of each
committed transaction (arguments, public writes, only the hashes of private writes, the event).
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._contract import Outcome, Router
from ._identity import ClientIdentity
from ._interface import MAX_UNICODE, KeyModification, StubCommon, start_within
from ._stub import PeerError


@dataclass
class CommittedEvent:
    tx_id: str
    name: str
    payload: bytes


@dataclass
class BlockView:
    """What every channel member that reads blocks sees of one committed transaction."""

    tx_id: str
    args: list[bytes]
    public_writes: dict[str, bytes | None]
    private_write_hashes: dict[str, bytes]  # collection/key hash -> value hash (or b"" for a delete/purge)
    event: bytes

    def contains(self, needle: bytes) -> bool:
        parts = [*self.args, self.event, *(v or b"" for v in self.public_writes.values())]
        parts += [k.encode() for k in self.public_writes]
        return any(needle in p for p in parts)


@dataclass
class MemoryLedger:
    router: Router
    state: dict[str, bytes] = field(default_factory=dict)
    private: dict[str, dict[str, bytes]] = field(default_factory=dict)  # collection -> key -> value
    history: dict[str, list[KeyModification]] = field(default_factory=dict)
    events: list[CommittedEvent] = field(default_factory=list)
    blocks: list[BlockView] = field(default_factory=list)
    clock: datetime.datetime = field(default_factory=lambda: datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    # The endorsing peer's own clock, apart from the proposal's (client-chosen) timestamp.
    peer_clock_offset: datetime.timedelta = datetime.timedelta(0)
    _counter: Iterator[int] = field(default_factory=itertools.count)

    def advance(self, **delta: float) -> None:
        self.clock += datetime.timedelta(**delta)

    def invoke(
        self,
        identity: ClientIdentity,
        function: str,
        *args: str,
        commit: bool = True,
        transient: Mapping[str, bytes] | None = None,
        proposal_time: datetime.datetime | None = None,
    ) -> Outcome:
        """Run one transaction; its writes are committed only when it succeeds (and `commit`)."""
        self.advance(seconds=1)
        tx_id = hashlib.sha256(f"tx-{next(self._counter)}".encode()).hexdigest()
        encoded = [function.encode(), *(a.encode() for a in args)]
        stub = MemoryStub(self, identity, tx_id, encoded, dict(transient or {}), proposal_time or self.clock)
        outcome = self.router.dispatch(stub)
        if outcome.status < 400 and commit:
            self._commit(stub, tx_id, encoded)
        self.last_tx_id = tx_id
        return outcome

    def _commit(self, stub: MemoryStub, tx_id: str, args: list[bytes]) -> None:
        for key, value in stub.pending.items():
            modification = KeyModification(tx_id, value or b"", self.clock, value is None)
            self.history.setdefault(key, []).append(modification)
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value
        hashes = {}
        for (collection, key), value in stub.pending_private.items():
            store = self.private.setdefault(collection, {})
            if value is None:
                store.pop(key, None)
            else:
                store[key] = value
            hashes[_digest(f"{collection}/{key}".encode()).hex()] = _digest(value) if value else b""
        event = b""
        if stub.event is not None:
            self.events.append(CommittedEvent(tx_id, stub.event.event_name, bytes(stub.event.payload)))
            event = stub.event.event_name.encode() + b"\n" + bytes(stub.event.payload)
        self.blocks.append(BlockView(tx_id, args, dict(stub.pending), hashes, event))


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


class MemoryStub(StubCommon):
    """The Stub protocol (runtime/_interface.py) over a MemoryLedger instead of a peer."""

    def __init__(
        self,
        ledger: MemoryLedger,
        identity: ClientIdentity,
        tx_id: str,
        args: list[bytes],
        transient: dict[str, bytes],
        proposal_time: datetime.datetime,
    ) -> None:
        self._ledger = ledger
        self.tx_id = tx_id
        self.channel_id = "memory"
        self.args = args
        self.transient = transient
        self.timestamp = proposal_time
        self.creator = b""
        self._identity = identity
        self.pending: dict[str, bytes | None] = {}
        self.pending_private: dict[tuple[str, str], bytes | None] = {}
        self.ranged_private = False

    @property
    def identity(self) -> ClientIdentity:
        return self._identity

    def local_time(self) -> datetime.datetime:
        return self._ledger.clock + self._ledger.peer_clock_offset

    def get_private_data(self, collection: str, key: str) -> bytes | None:
        return self.get_state(key, collection)

    def get_state_validation_parameter(self, key: str, collection: str = "") -> bytes | None:
        return None  # the memory ledger keeps no key-level endorsement

    def set_state_validation_parameter(self, key: str, policy: bytes, collection: str = "") -> None:
        raise NotImplementedError("MemoryStub does not keep key-level endorsement policies")

    def _source(self, collection: str) -> dict[str, bytes]:
        return self._ledger.private.get(collection, {}) if collection else self._ledger.state

    def get_state(self, key: str, collection: str = "") -> bytes | None:
        return self._source(collection).get(key)

    def get_states(self, keys: list[str], collection: str = "") -> list[bytes | None]:
        source = self._source(collection)
        return [source.get(k) for k in keys]

    def put_state(self, key: str, value: bytes, collection: str = "") -> None:
        if not key:
            raise ValueError("key must not be empty")
        if collection:
            self.pending_private[collection, key] = bytes(value)
        else:
            self.pending[key] = bytes(value)

    def del_state(self, key: str, collection: str = "") -> None:
        if collection:
            self.pending_private[collection, key] = None
        else:
            self.pending[key] = None

    def purge_private_data(self, collection: str, key: str) -> None:
        # The memory ledger keeps no private history, so a purge and a delete leave the same state.
        self.pending_private[collection, key] = None

    def flush_writes(self) -> None:
        # As the peer does: a range query over private data cannot be validated at commit, so a
        # transaction that ran one may not write.
        if self.ranged_private and (self.pending or self.pending_private):
            raise PeerError("Transaction has already performed queries on pvt data. Writes are not allowed")

    def _range(self, start: str, end: str, collection: str = "") -> list[tuple[str, bytes]]:
        self.ranged_private = self.ranged_private or bool(collection)
        return sorted((k, v) for k, v in self._source(collection).items() if start <= k < end)

    def get_state_by_range(self, start_key: str, end_key: str, collection: str = "") -> Iterator[tuple[str, bytes]]:
        yield from self._range(start_key or "\x01", end_key or MAX_UNICODE, collection)

    def get_state_by_partial_composite_key(
        self, object_type: str, attributes: list[str], start_key: str = "", collection: str = ""
    ) -> Generator[tuple[str, bytes], None, None]:
        prefix = self.create_composite_key(object_type, attributes)
        yield from self._range(start_within(prefix, start_key), prefix + MAX_UNICODE, collection)

    def get_state_by_partial_composite_key_paginated(
        self, object_type: str, attributes: list[str], page_size: int, bookmark: str
    ) -> tuple[list[tuple[str, bytes]], str]:
        start = self.create_composite_key(object_type, attributes)
        rows = self._range(start_within(start, bookmark), start + MAX_UNICODE)
        page = rows[:page_size]
        return page, rows[page_size][0] if len(rows) > page_size else ""

    def get_history_for_key(self, key: str) -> Iterator[KeyModification]:
        yield from reversed(self._ledger.history.get(key, []))  # newest first, as the peer answers

    def invoke_chaincode(self, name: str, args: list[bytes], channel: str = "") -> Any:
        raise NotImplementedError("MemoryStub does not call other chaincodes")
