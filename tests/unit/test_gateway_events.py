"""fabric_gateway's event streams and checkpointers against a fake peer: started at once, closeable, ending
cleanly when idle, failing loudly when refused, resuming from a checkpoint."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_gateway import (
    ChaincodeEvent,
    EventsError,
    FileCheckpointer,
    Gateway,
    Identity,
    InMemoryCheckpointer,
    signers,
)
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import chaincode_event_pb2, events_pb2

from .fake_gateway import FakeRpcError, FakeTransport
from .local_tls import certificate_pem


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def transport(key: ec.EllipticCurvePrivateKey) -> FakeTransport:
    return FakeTransport(key.public_key())


@pytest.fixture
def gateway(key: ec.EllipticCurvePrivateKey, transport: FakeTransport) -> Gateway:
    return Gateway(Identity("Org1MSP", certificate_pem(key)), transport, sign=signers.for_private_key(key))


def _events(block: int, *tx_ids: str) -> gateway_pb2.ChaincodeEventsResponse:
    events = [
        chaincode_event_pb2.ChaincodeEvent(tx_id=t, chaincode_id="cc", event_name="E", payload=t.encode())
        for t in tx_ids
    ]
    return gateway_pb2.ChaincodeEventsResponse(block_number=block, events=events)


def _sent_request(transport: FakeTransport) -> gateway_pb2.ChaincodeEventsRequest:
    return gateway_pb2.ChaincodeEventsRequest.FromString(transport.calls[-1][1].request)


def test_the_request_is_sent_when_the_stream_is_asked_for_not_on_first_read(
    gateway: Gateway, transport: FakeTransport
) -> None:
    transport.chaincode_events = [_events(5, "t1", "t2")]
    stream = gateway.network("ch1").chaincode_events("cc", timeout=0.2)
    assert [c[0] for c in transport.calls] == ["ChaincodeEvents"]  # before any next()
    assert _sent_request(transport).start_position.WhichOneof("Type") == "next_commit"
    assert list(stream) == [ChaincodeEvent(5, "t1", "cc", "E", b"t1"), ChaincodeEvent(5, "t2", "cc", "E", b"t2")]


def test_an_idle_stream_ends_without_error_at_its_deadline(gateway: Gateway) -> None:
    started = time.monotonic()
    assert list(gateway.network("ch1").chaincode_events("cc", timeout=0.2)) == []
    assert time.monotonic() - started >= 0.2


def test_close_ends_a_waiting_listener_and_leaves_others_running(gateway: Gateway, transport: FakeTransport) -> None:
    transport.chaincode_events = [_events(1, "t1")]
    network = gateway.network("ch1")
    waiting, other = network.chaincode_events("cc", timeout=30), network.chaincode_events("cc", timeout=0.3)
    got: list[ChaincodeEvent] = []
    reader = threading.Thread(target=lambda: got.extend(waiting))
    reader.start()
    time.sleep(0.1)
    waiting.close()
    reader.join(timeout=5)
    assert not reader.is_alive()
    assert [e.transaction_id for e in got] == ["t1"]
    assert [e.transaction_id for e in other] == ["t1"]  # the other stream ran to its own end


def test_a_refused_stream_raises_events_error(gateway: Gateway, transport: FakeTransport) -> None:
    transport.stream_error = FakeRpcError(grpc.StatusCode.PERMISSION_DENIED, "not a reader")
    with pytest.raises(EventsError, match="PERMISSION_DENIED"):
        list(gateway.network("ch1").chaincode_events("cc", timeout=1))


def test_a_checkpoint_wins_over_the_start_block(gateway: Gateway, transport: FakeTransport) -> None:
    checkpoint = InMemoryCheckpointer()
    network = gateway.network("ch1")
    network.chaincode_events("cc", start_block=3, checkpoint=checkpoint, timeout=0).close()
    assert _sent_request(transport).start_position.specified.number == 3  # an empty checkpoint: the start block
    checkpoint.checkpoint_chaincode_event(ChaincodeEvent(9, "tx9", "cc", "E", b""))
    network.chaincode_events("cc", start_block=3, checkpoint=checkpoint, timeout=0).close()
    request = _sent_request(transport)
    assert (request.start_position.specified.number, request.after_transaction_id) == (9, "tx9")


def test_an_events_request_signed_elsewhere(key: ec.EllipticCurvePrivateKey, transport: FakeTransport) -> None:
    gateway = Gateway(Identity("Org1MSP", certificate_pem(key)), transport)  # no signer here
    unsigned = gateway.network("ch1").new_chaincode_events_request("cc", start_block=2)
    request = gateway.new_signed_chaincode_events_request(unsigned.bytes, signers.ecdsa(key)(unsigned.digest))
    transport.chaincode_events = [_events(2, "t")]
    assert [e.block_number for e in request.get_events(timeout=0.1)] == [2]


@pytest.mark.parametrize(
    ("method", "kind", "rpc"),
    [
        ("block_events", "block", "Deliver"),
        ("filtered_block_events", "filtered_block", "DeliverFiltered"),
        ("block_and_private_data_events", "block_and_private_data", "DeliverWithPrivateData"),
    ],
)
def test_block_streams_use_their_deliver_method(
    gateway: Gateway, transport: FakeTransport, method: str, kind: str, rpc: str
) -> None:
    response = events_pb2.DeliverResponse()
    getattr(response, kind).SetInParent()
    transport.deliveries = [response, events_pb2.DeliverResponse(status=common_pb2.SUCCESS)]
    got = list(getattr(gateway.network("ch1"), method)(start_block=4, timeout=1))
    assert len(got) == 1
    name, envelope, _ = transport.calls[-1]
    assert name == rpc
    seek = ab_pb2.SeekInfo.FromString(common_pb2.Payload.FromString(envelope.payload).data)
    assert seek.start.specified.number == 4
    assert seek.behavior == ab_pb2.SeekInfo.BLOCK_UNTIL_READY


def test_a_block_stream_refused_by_the_peer_says_its_status(gateway: Gateway, transport: FakeTransport) -> None:
    transport.deliveries = [events_pb2.DeliverResponse(status=common_pb2.FORBIDDEN)]
    with pytest.raises(EventsError, match="FORBIDDEN"):
        list(gateway.network("ch1").block_events(start_block=0, timeout=1))


def test_block_checkpoints_resume_at_the_next_block(gateway: Gateway, transport: FakeTransport) -> None:
    checkpoint = InMemoryCheckpointer()
    checkpoint.checkpoint_block(41)
    gateway.network("ch1").block_events(checkpoint=checkpoint, timeout=0).close()
    envelope = transport.calls[-1][1]
    seek = ab_pb2.SeekInfo.FromString(common_pb2.Payload.FromString(envelope.payload).data)
    assert seek.start.specified.number == 42


def test_a_file_checkpointer_survives_a_restart_and_refuses_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "events.json"
    first = FileCheckpointer(path)
    assert (first.block_number, first.transaction_id) == (None, "")
    first.checkpoint_transaction(12, "tx-a")
    again = FileCheckpointer(path)
    assert (again.block_number, again.transaction_id) == (12, "tx-a")
    assert list(path.parent.iterdir()) == [path]  # no temporary files left behind
    path.write_text("{half")
    with pytest.raises(ValueError, match="not a checkpoint file"):
        FileCheckpointer(path)
