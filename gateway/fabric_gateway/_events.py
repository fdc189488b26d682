"""Event streams: chaincode events from the Gateway service, blocks from the Deliver service.

A stream is started when it is asked for (the request is signed and sent at once, so nothing committed
after that is missed), iterates its events, and ends when closed, when its idle deadline passes, or
with an EventsError when the peer fails it. `with network.chaincode_events(...) as events:` closes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import grpc
from fabric_protos.common import common_pb2

from ._errors import EventsError
from ._errors_map import wrap_rpc_error

T = TypeVar("T")


@dataclass(frozen=True)
class ChaincodeEvent:
    block_number: int
    transaction_id: str
    chaincode_name: str
    event_name: str
    payload: bytes = field(repr=False)


class EventStream(Generic[T]):
    """A closeable iterator over one server stream's events."""

    def __init__(self, call: Any, unpack: Callable[[Any], Iterator[T]], what: str, timeout: float | None) -> None:
        self._call, self._unpack, self._what = call, unpack, what
        self._ends_at = None if timeout is None else time.monotonic() + timeout
        self._closed = False
        self._events = self._read()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        return next(self._events)

    def close(self) -> None:
        """Stop listening: a waiting iteration ends (without error); other streams go on."""
        self._closed = True
        self._call.cancel()

    def __enter__(self) -> EventStream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> Iterator[T]:
        try:
            for response in self._call:
                yield from self._unpack(response)
        except grpc.RpcError as exc:
            if self._ended(exc.code()):
                return
            raise wrap_rpc_error(EventsError, self._what, "", exc) from exc

    def _ended(self, code: grpc.StatusCode) -> bool:
        """A stream closed by us, or idle past its deadline, ends; grpc reports the latter as DEADLINE_EXCEEDED
        or, when the deadline and the stream's reset cross, as CANCELLED."""
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return True
        expired = self._ends_at is not None and time.monotonic() >= self._ends_at - 0.05
        return code == grpc.StatusCode.CANCELLED and (self._closed or expired)


def chaincode_events_of(chaincode: str) -> Callable[[Any], Iterator[ChaincodeEvent]]:
    def unpack(response: Any) -> Iterator[ChaincodeEvent]:
        for event in response.events:
            yield ChaincodeEvent(
                int(response.block_number),
                event.tx_id,
                event.chaincode_id or chaincode,
                event.event_name,
                bytes(event.payload),
            )

    return unpack


def delivered(kind: str) -> Callable[[Any], Iterator[Any]]:
    """The unpacker of Deliver responses carrying `kind` (block, filtered_block, block_and_private_data);
    a status response ends the stream (SUCCESS) or fails it."""

    def unpack(response: Any) -> Iterator[Any]:
        which = response.WhichOneof("Type")
        if which == kind:
            yield getattr(response, kind)
        elif which == "status" and response.status != common_pb2.SUCCESS:
            status = common_pb2.Status.Name(response.status)
            raise EventsError(f"the peer ended the {kind} stream: {status}", grpc_status=status)

    return unpack
