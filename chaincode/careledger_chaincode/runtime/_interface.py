"""What a contract sees of one transaction: the Stub protocol. The peer's stream implements it
(ChaincodeStub, _stub.py) and so does the in-memory ledger (testing.py); contracts are written, and
tested, against this interface only."""

from __future__ import annotations

import datetime
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from fabric_protos.peer import chaincode_event_pb2

from ._identity import ClientIdentity

_COMPOSITE_NS = "\x00"
MIN_UNICODE = "\x00"
MAX_UNICODE = "\U0010ffff"


@dataclass(frozen=True)
class KeyModification:
    tx_id: str
    value: bytes
    timestamp: datetime.datetime
    is_delete: bool


class OutOfRange(ValueError):
    """A start key or bookmark outside the range queried. The peer takes a bookmark as the range's start
    key as it is, so a bookmark below the prefix would read other owners' keys: it is refused here."""


def create_composite_key(object_type: str, attributes: list[str]) -> str:
    for part in (object_type, *attributes):
        if MIN_UNICODE in part or MAX_UNICODE in part:
            raise ValueError("composite key parts must not contain U+0000 or U+10FFFF")
    return _COMPOSITE_NS + object_type + MIN_UNICODE + "".join(a + MIN_UNICODE for a in attributes)


def split_composite_key(key: str) -> tuple[str, list[str]]:
    parts = key[1:].split(MIN_UNICODE)
    return parts[0], parts[1:-1]


def start_within(prefix: str, start_key: str) -> str:
    """`start_key` when it lies under `prefix` (the prefix itself when empty); OutOfRange otherwise."""
    if not start_key:
        return prefix
    if not start_key.startswith(prefix):
        raise OutOfRange("the start key or bookmark does not lie under the queried prefix")
    return start_key


class Stub(Protocol):
    tx_id: str
    channel_id: str
    timestamp: datetime.datetime
    transient: dict[str, bytes]

    @property
    def function(self) -> str: ...
    @property
    def parameters(self) -> list[bytes]: ...
    @property
    def identity(self) -> ClientIdentity: ...
    @property
    def event(self) -> Any: ...
    def local_time(self) -> datetime.datetime: ...

    def get_state(self, key: str, collection: str = "") -> bytes | None: ...
    def get_states(self, keys: list[str], collection: str = "") -> list[bytes | None]: ...
    def put_state(self, key: str, value: bytes, collection: str = "") -> None: ...
    def del_state(self, key: str, collection: str = "") -> None: ...
    def purge_private_data(self, collection: str, key: str) -> None: ...
    def get_private_data(self, collection: str, key: str) -> bytes | None: ...
    def get_state_by_range(self, start_key: str, end_key: str, collection: str = "") -> Iterator[tuple[str, bytes]]: ...
    def get_state_by_partial_composite_key(
        self, object_type: str, attributes: list[str], start_key: str = "", collection: str = ""
    ) -> Generator[tuple[str, bytes], None, None]: ...
    def get_state_by_partial_composite_key_paginated(
        self, object_type: str, attributes: list[str], page_size: int, bookmark: str
    ) -> tuple[list[tuple[str, bytes]], str]: ...
    def get_history_for_key(self, key: str) -> Iterator[KeyModification]: ...
    def get_state_validation_parameter(self, key: str, collection: str = "") -> bytes | None: ...
    def set_state_validation_parameter(self, key: str, policy: bytes, collection: str = "") -> None: ...
    def set_event(self, name: str, payload: bytes) -> None: ...
    def invoke_chaincode(self, name: str, args: list[bytes], channel: str = "") -> Any: ...
    def create_composite_key(self, object_type: str, attributes: list[str]) -> str: ...
    def split_composite_key(self, key: str) -> tuple[str, list[str]]: ...
    def flush_writes(self) -> None: ...


class StubCommon:
    """What every Stub does alike: the function and parameters from the arguments, the transaction's one
    event, composite keys. The peer's stub and the in-memory one build on it."""

    args: list[bytes]
    _event: chaincode_event_pb2.ChaincodeEvent | None = None

    create_composite_key = staticmethod(create_composite_key)
    split_composite_key = staticmethod(split_composite_key)

    @property
    def function(self) -> str:
        return self.args[0].decode("utf-8", errors="replace") if self.args else ""

    @property
    def parameters(self) -> list[bytes]:
        return self.args[1:]

    def set_event(self, name: str, payload: bytes) -> None:
        """Fabric carries one event per transaction: a later call replaces an earlier one."""
        if not name:
            raise ValueError("event name must not be empty")
        self._event = chaincode_event_pb2.ChaincodeEvent(event_name=name, payload=payload)

    @property
    def event(self) -> chaincode_event_pb2.ChaincodeEvent | None:
        return self._event
