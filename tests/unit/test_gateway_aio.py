"""fabric_gateway.aio: the same stages as coroutines, over a fake peer that checks every signature."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_gateway import EndorseError, Identity, aio, signers
from fabric_gateway._gateway import Gateway as SyncGateway
from fabric_protos.gateway import gateway_pb2
from fabric_protos.peer import chaincode_event_pb2

from .fake_gateway import FakeRpcError, FakeStream, FakeTransport
from .local_tls import certificate_pem


class AsyncStream:
    """A grpc.aio stream call over a FakeStream: read() until EOF, cancel()."""

    def __init__(self, stream: FakeStream) -> None:
        self._stream, self._items = stream, iter(stream)

    async def read(self) -> Any:
        try:
            return next(self._items)
        except StopIteration:
            return grpc.aio.EOF

    def cancel(self) -> None:
        self._stream.cancel()


class AioFake:
    """The fake peer's methods, awaitable as grpc.aio stubs' are."""

    def __init__(self, fake: FakeTransport) -> None:
        self.fake = fake

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.fake, name)

        if name in ("ChaincodeEvents", "Deliver", "DeliverFiltered", "DeliverWithPrivateData"):
            return lambda request, timeout=None: AsyncStream(method(request, timeout=timeout))

        async def call(request: Any, timeout: float | None = None) -> Any:
            return method(request, timeout=timeout)

        return call


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def fake(key: ec.EllipticCurvePrivateKey) -> FakeTransport:
    return FakeTransport(key.public_key())


def _gateway(key: ec.EllipticCurvePrivateKey, fake: FakeTransport, signed: bool = True) -> aio.Gateway:
    sign = signers.for_private_key(key) if signed else None
    return aio.Gateway(SyncGateway(Identity("Org1MSP", certificate_pem(key)), AioFake(fake), sign=sign))


def test_submit_and_evaluate_are_coroutines_with_the_same_stages(
    key: ec.EllipticCurvePrivateKey, fake: FakeTransport
) -> None:
    contract = _gateway(key, fake).network("ch1").contract("cc")

    async def run() -> tuple[bytes, bytes]:
        return await contract.submit_transaction("Put", "k", "v"), await contract.evaluate_transaction("Get", "k")

    assert asyncio.run(run()) == (b"result", b"value")
    assert [c[0] for c in fake.calls] == ["Endorse", "Submit", "CommitStatus", "Evaluate"]
    assert [c[2] for c in fake.calls] == [30.0, 10.0, 60.0, 10.0]


def test_offline_signing_through_bytes(key: ec.EllipticCurvePrivateKey, fake: FakeTransport) -> None:
    gateway, sign = _gateway(key, fake, signed=False), signers.ecdsa(key)

    async def run() -> bool:
        unsigned = gateway.network("ch1").contract("cc").new_proposal("Put", ["k"])
        transaction = await gateway.new_signed_proposal(unsigned.bytes, sign(unsigned.digest)).endorse()
        commit = await gateway.new_signed_transaction(transaction.bytes, sign(transaction.digest)).submit()
        status = await gateway.new_signed_commit(commit.bytes, sign(commit.digest)).status()
        return status.successful

    assert asyncio.run(run())


def test_a_refused_endorsement_raises_the_stage_error(key: ec.EllipticCurvePrivateKey, fake: FakeTransport) -> None:
    fake.endorse_error = FakeRpcError(grpc.StatusCode.ABORTED, "failed", [("p:1", "Org1MSP", "no")])
    contract = _gateway(key, fake).network("ch1").contract("cc")
    with pytest.raises(EndorseError) as failed:
        asyncio.run(contract.submit("Put", ["k"]))
    assert failed.value.details[0].message == "no"


def test_events_are_async_iterators(key: ec.EllipticCurvePrivateKey, fake: FakeTransport) -> None:
    event = chaincode_event_pb2.ChaincodeEvent(tx_id="t1", chaincode_id="cc", event_name="E", payload=b"p")
    fake.chaincode_events = [gateway_pb2.ChaincodeEventsResponse(block_number=3, events=[event])]
    network = _gateway(key, fake).network("ch1")

    async def run() -> list[str]:
        async with network.chaincode_events("cc", timeout=0.2) as stream:
            return [e.transaction_id async for e in stream]

    assert asyncio.run(run()) == ["t1"]
