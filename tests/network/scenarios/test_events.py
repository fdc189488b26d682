"""chaincodeevents.feature (C1-C5) and blockevents.feature (B1-B5, each for blocks, filtered blocks and
blocks with private data). Events are read by a block reader (our network lets only block readers stream
events); transactions are submitted by a clinician of Hospital1."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fabric_gateway import ChaincodeEvent, Contract, InMemoryCheckpointer, Network
from fabric_protos.common import common_pb2

from .conftest import EVENT_READER, Scenarios, run_id

pytestmark = pytest.mark.network
WAIT = 30.0  # seconds an event may take to arrive before a test fails


@pytest.fixture
def events(scenarios: Scenarios) -> Iterator[Network]:
    gateway = scenarios.gateway(*EVENT_READER)
    yield gateway.network(scenarios.network.c.channel)
    gateway.close()


def _emit(contract: Callable[..., Contract], name: str, payload: str) -> int:
    """Submit an event; returns its block number."""
    submitted = contract("Org1", "basic").submit_async("event", [name, payload])
    return submitted.raise_for_status().block_number


def _next_named(stream: Any, name: str) -> ChaincodeEvent:
    for event in stream:
        if event.event_name == name:
            return event  # type: ignore[no-any-return]
    raise AssertionError(f"the stream ended before event {name}")


def test_c1_receive_a_chaincode_event(contract: Callable[..., Contract], events: Network) -> None:
    name = f"c1-{run_id()}"
    with events.chaincode_events("basic", timeout=WAIT) as stream:  # listening before the submit
        block = _emit(contract, name, "foo")
        event = _next_named(stream, name)
    assert (event.payload, event.block_number, event.chaincode_name) == (b"foo", block, "basic")


def test_c2_replay_from_a_block(contract: Callable[..., Contract], events: Network) -> None:
    name = f"c2-{run_id()}"
    block = _emit(contract, name, "replayed")
    with events.chaincode_events("basic", start_block=block, timeout=WAIT) as stream:
        assert _next_named(stream, name).payload == b"replayed"


def test_c3_listen_again_after_closing(contract: Callable[..., Contract], events: Network) -> None:
    first = f"c3a-{run_id()}"
    with events.chaincode_events("basic", timeout=WAIT) as stream:
        _emit(contract, first, "1")
        _next_named(stream, first)
    second = f"c3b-{run_id()}"
    with events.chaincode_events("basic", timeout=WAIT) as stream:
        _emit(contract, second, "2")
        assert _next_named(stream, second).payload == b"2"


def test_c4_closing_one_listener_leaves_another(contract: Callable[..., Contract], events: Network) -> None:
    name = f"c4-{run_id()}"
    closed = events.chaincode_events("basic", timeout=WAIT)
    with events.chaincode_events("basic", timeout=WAIT) as kept:
        closed.close()
        _emit(contract, name, "still here")
        assert _next_named(kept, name).payload == b"still here"
    assert list(closed) == []  # a closed stream ends at once, without error


def test_c5_resume_from_a_checkpoint(contract: Callable[..., Contract], events: Network) -> None:
    checkpointer, first, second = InMemoryCheckpointer(), f"c5a-{run_id()}", f"c5b-{run_id()}"
    with events.chaincode_events("basic", checkpoint=checkpointer, timeout=WAIT) as stream:
        _emit(contract, first, "1")
        checkpointer.checkpoint_chaincode_event(_next_named(stream, first))
    _emit(contract, second, "2")
    with events.chaincode_events("basic", checkpoint=checkpointer, timeout=WAIT) as stream:
        names = [e.event_name for e in _until(stream, lambda e: e.event_name == second)]
    assert first not in names  # handled before the checkpoint: not repeated
    assert names[-1] == second  # committed while nobody listened: not lost


def _until(stream: Any, last: Callable[[Any], bool]) -> list[Any]:
    seen = []
    for item in stream:
        seen.append(item)
        if last(item):
            return seen
    raise AssertionError("the stream ended first")


# -- block events --------------------------------------------------------------------------------------------
KINDS = ["block", "filtered_block", "block_and_private_data"]


def _stream(events: Network, kind: str, **options: Any) -> Any:
    method = {"block": "block_events", "filtered_block": "filtered_block_events"}.get(
        kind, "block_and_private_data_events"
    )
    return getattr(events, method)(timeout=WAIT, **options)


def _number_and_tx_ids(kind: str, item: Any) -> tuple[int, list[str]]:
    if kind == "filtered_block":
        return int(item.number), [t.txid for t in item.filtered_transactions]
    block = item.block if kind == "block_and_private_data" else item
    ids = []
    for raw in block.data.data:
        payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(raw).payload)
        ids.append(common_pb2.ChannelHeader.FromString(payload.header.channel_header).tx_id)
    return int(block.header.number), ids


def _submit(contract: Callable[..., Contract]) -> tuple[str, int]:
    submitted = contract("Org1", "basic").submit_async("echo", [f"b-{run_id()}"])
    return submitted.transaction_id, submitted.raise_for_status().block_number


def _block_with(stream: Any, kind: str, tx_id: str) -> int:
    for item in stream:
        number, ids = _number_and_tx_ids(kind, item)
        if tx_id in ids:
            return number
    raise AssertionError(f"no {kind} with transaction {tx_id}")


@pytest.mark.parametrize("kind", KINDS)
def test_b1_receive_block_events(contract: Callable[..., Contract], events: Network, kind: str) -> None:
    with _stream(events, kind) as stream:
        tx_id, block = _submit(contract)
        assert _block_with(stream, kind, tx_id) == block


@pytest.mark.parametrize("kind", KINDS)
def test_b2_replay_from_a_block(contract: Callable[..., Contract], events: Network, kind: str) -> None:
    tx_id, block = _submit(contract)
    with _stream(events, kind, start_block=block) as stream:
        number, ids = _number_and_tx_ids(kind, next(stream))
    assert (number, tx_id in ids) == (block, True)


@pytest.mark.parametrize("kind", KINDS)
def test_b3_listen_again_after_closing(contract: Callable[..., Contract], events: Network, kind: str) -> None:
    with _stream(events, kind) as stream:
        tx_id, _ = _submit(contract)
        _block_with(stream, kind, tx_id)
    with _stream(events, kind) as stream:
        tx_id, block = _submit(contract)
        assert _block_with(stream, kind, tx_id) == block


@pytest.mark.parametrize("kind", KINDS)
def test_b4_closing_one_listener_leaves_another(contract: Callable[..., Contract], events: Network, kind: str) -> None:
    closed = _stream(events, kind)
    with _stream(events, kind) as kept:
        closed.close()
        tx_id, block = _submit(contract)
        assert _block_with(kept, kind, tx_id) == block
    assert list(closed) == []


@pytest.mark.parametrize("kind", KINDS)
def test_b5_resume_from_a_checkpoint(contract: Callable[..., Contract], events: Network, kind: str) -> None:
    checkpointer = InMemoryCheckpointer()
    with _stream(events, kind, checkpoint=checkpointer) as stream:
        first, _ = _submit(contract)
        checkpointer.checkpoint_block(_block_with(stream, kind, first))
    second, second_block = _submit(contract)
    with _stream(events, kind, checkpoint=checkpointer) as stream:
        seen = _until(stream, lambda item: second in _number_and_tx_ids(kind, item)[1])
    numbers = [_number_and_tx_ids(kind, item)[0] for item in seen]
    assert numbers[0] == checkpointer.block_number  # resumed at the block after the checkpoint
    assert numbers[-1] == second_block
    assert not any(first in _number_and_tx_ids(kind, item)[1] for item in seen)


def test_a_waiting_listener_is_closed_from_another_thread(events: Network) -> None:
    stream = events.block_events(timeout=WAIT)
    received: list[Any] = []
    reader = threading.Thread(target=lambda: received.extend(stream))
    reader.start()
    stream.close()
    reader.join(timeout=10)
    assert not reader.is_alive()
