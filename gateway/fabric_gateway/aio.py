"""The same client for asyncio, on grpc.aio: Gateway → Network → Contract → Proposal → Transaction → Commit,
with the same names, options, bytes and digests; the calls that reach the peer are coroutines, and event
streams are async iterators.

    channel = aio.tls_channel("peer0.org1.example.com:7051", root_certificates=ca_pem)
    async with aio.Gateway.connect(identity, channel, sign=signers.for_private_key(key)) as gateway:
        contract = gateway.network("mychannel").contract("basic")
        await contract.submit_transaction("CreateAsset", "asset1")

Messages are built and signed by the synchronous classes (nothing there waits); only the calls differ.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, Self, TypeVar, Unpack

import grpc
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.peer import events_pb2_grpc

from . import _transaction as stages
from ._checkpoint import Checkpoint
from ._contract import Argument
from ._errors import CommitStatusError, EndorseError, EventsError, SubmitError
from ._errors_map import wrap_rpc_error
from ._events import ChaincodeEvent, chaincode_events_of, delivered
from ._gateway import Gateway as SyncGateway
from ._gateway import GatewayOptions, TLSOptions, channel_settings
from ._identity import Identity
from ._network import EventsStart
from ._transaction import Status, SubmittedTransaction
from ._transport import deadline

T = TypeVar("T")
S = TypeVar("S", stages.Proposal, stages.Transaction, stages.Commit)


def tls_channel(target: str, root_certificates: bytes, **tls: Unpack[TLSOptions]) -> grpc.aio.Channel:
    """A grpc.aio TLS channel to a gateway peer (see fabric_gateway.tls_channel)."""
    address, credentials, options = channel_settings(target, root_certificates, tls)
    return grpc.aio.secure_channel(address, credentials, options=options)


class AioTransport:
    """The Gateway and Deliver services on one grpc.aio channel: the same methods, awaited."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        gateway, deliver = gateway_pb2_grpc.GatewayStub(channel), events_pb2_grpc.DeliverStub(channel)
        self.Evaluate, self.Endorse, self.Submit = gateway.Evaluate, gateway.Endorse, gateway.Submit
        self.CommitStatus, self.ChaincodeEvents = gateway.CommitStatus, gateway.ChaincodeEvents
        self.Deliver, self.DeliverFiltered = deliver.Deliver, deliver.DeliverFiltered
        self.DeliverWithPrivateData = deliver.DeliverWithPrivateData


class EventStream(Generic[T]):
    """An async iterator over one server stream's events; `close()` (or `async with`) stops it."""

    def __init__(self, call: Any, unpack: Callable[[Any], Iterator[T]], what: str) -> None:
        self._call, self._unpack, self._what = call, unpack, what
        self._pending: list[T] = []
        self._closed = False

    def __aiter__(self) -> EventStream[T]:
        return self

    async def __anext__(self) -> T:
        while not self._pending:
            try:
                response = await self._call.read()
            except grpc.RpcError as exc:
                if self._closed or exc.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise StopAsyncIteration from None
                raise wrap_rpc_error(EventsError, self._what, "", exc) from exc
            if response is grpc.aio.EOF:
                raise StopAsyncIteration
            self._pending.extend(self._unpack(response))
        return self._pending.pop(0)

    def close(self) -> None:
        self._closed = True
        self._call.cancel()

    async def __aenter__(self) -> EventStream[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class _Stage(Generic[S]):
    """An asyncio stage over its synchronous twin, which builds, holds and signs the message."""

    def __init__(self, sync: S) -> None:
        self.sync: S = sync

    @property
    def transaction_id(self) -> str:
        return self.sync.transaction_id

    @property
    def bytes(self) -> builtins.bytes:
        return self.sync.bytes

    @property
    def digest(self) -> builtins.bytes:
        return self.sync.digest

    def with_signature(self, signature: builtins.bytes) -> Self:
        self.sync.with_signature(signature)
        return self


class Proposal(_Stage[stages.Proposal]):
    async def evaluate(self, timeout: float | None = None) -> builtins.bytes:
        p, gateway = self.sync, self.sync.network.gateway
        request = gateway_pb2.EvaluateRequest(**p._addressed(), target_organizations=p.endorsing_organizations)
        response = await self._ask("evaluate", gateway.transport.Evaluate, request, timeout, gateway.deadlines.evaluate)
        return builtins.bytes(response.result.payload)

    async def endorse(self, timeout: float | None = None) -> Transaction:
        p, gateway = self.sync, self.sync.network.gateway
        request = gateway_pb2.EndorseRequest(**p._addressed(), endorsing_organizations=p.endorsing_organizations)
        response = await self._ask("endorse", gateway.transport.Endorse, request, timeout, gateway.deadlines.endorse)
        return Transaction(stages.Transaction(p.network, p.transaction_id, response.prepared_transaction))

    async def _ask(self, stage: str, rpc: Any, request: Any, timeout: float | None, default: float) -> Any:
        try:
            return await rpc(request, timeout=deadline(timeout, default))
        except grpc.RpcError as exc:
            error = wrap_rpc_error(EndorseError, stage, self.sync.transaction_id, exc)
            raise self.sync.network.gateway.refine(error) from exc


class Transaction(_Stage[stages.Transaction]):
    @property
    def result(self) -> builtins.bytes:
        return self.sync.result

    async def submit(self, timeout: float | None = None) -> Commit:
        t, gateway = self.sync, self.sync.network.gateway
        try:
            await gateway.transport.Submit(t._submit_request(), timeout=deadline(timeout, gateway.deadlines.submit))
        except grpc.RpcError as exc:
            raise wrap_rpc_error(SubmitError, "submit", t.transaction_id, exc) from exc
        return Commit(t._submitted())


class Commit(_Stage[stages.Commit]):
    @property
    def result(self) -> builtins.bytes:
        """The endorsed result (empty for a commit rebuilt from bytes)."""
        return self.sync.result if isinstance(self.sync, SubmittedTransaction) else b""

    async def status(self, timeout: float | None = None) -> Status:
        c, gateway = self.sync, self.sync.network.gateway
        try:
            response = await gateway.transport.CommitStatus(
                c._signed_request(), timeout=deadline(timeout, gateway.deadlines.commit_status)
            )
        except grpc.RpcError as exc:
            raise wrap_rpc_error(CommitStatusError, "commit status", c.transaction_id, exc) from exc
        return stages.status_of(c, response)

    async def raise_for_status(self, timeout: float | None = None) -> Status:
        return stages.raise_if_invalid(await self.status(timeout))


class Contract:
    def __init__(self, network: Network, chaincode: str, contract: str = "") -> None:
        self.network, self.chaincode, self.contract = network, chaincode, contract
        self._sync = network.gateway.sync.network(network.name).contract(chaincode, contract)

    def new_proposal(
        self,
        name: str,
        args: Sequence[Argument] = (),
        *,
        transient: dict[str, builtins.bytes] | None = None,
        endorsing_organizations: Sequence[str] = (),
    ) -> Proposal:
        return Proposal(
            self._sync.new_proposal(name, args, transient=transient, endorsing_organizations=endorsing_organizations)
        )

    async def evaluate(
        self,
        name: str,
        args: Sequence[Argument] = (),
        *,
        transient: dict[str, builtins.bytes] | None = None,
        endorsing_organizations: Sequence[str] = (),
        timeout: float | None = None,
    ) -> builtins.bytes:
        proposal = self.new_proposal(name, args, transient=transient, endorsing_organizations=endorsing_organizations)
        return await proposal.evaluate(timeout)

    async def submit_async(
        self,
        name: str,
        args: Sequence[Argument] = (),
        *,
        transient: dict[str, builtins.bytes] | None = None,
        endorsing_organizations: Sequence[str] = (),
    ) -> Commit:
        proposal = self.new_proposal(name, args, transient=transient, endorsing_organizations=endorsing_organizations)
        return await (await proposal.endorse()).submit()

    async def submit(
        self,
        name: str,
        args: Sequence[Argument] = (),
        *,
        transient: dict[str, builtins.bytes] | None = None,
        endorsing_organizations: Sequence[str] = (),
    ) -> builtins.bytes:
        commit = await self.submit_async(
            name, args, transient=transient, endorsing_organizations=endorsing_organizations
        )
        await commit.raise_for_status()
        return commit.result

    async def evaluate_transaction(
        self, name: str, *args: Argument, transient: dict[str, builtins.bytes] | None = None
    ) -> builtins.bytes:
        return await self.evaluate(name, args, transient=transient)

    async def submit_transaction(
        self, name: str, *args: Argument, transient: dict[str, builtins.bytes] | None = None
    ) -> builtins.bytes:
        return await self.submit(name, args, transient=transient)


class Network:
    def __init__(self, gateway: Gateway, name: str) -> None:
        self.gateway, self.name = gateway, name
        self._sync = gateway.sync.network(name)

    def contract(self, chaincode: str, contract: str = "") -> Contract:
        return Contract(self, chaincode, contract)

    def chaincode_events(
        self, chaincode: str, *, timeout: float | None = None, **start: Unpack[EventsStart]
    ) -> EventStream[ChaincodeEvent]:
        """The chaincode's events as an async iterator, requested now (see Network.chaincode_events)."""
        request = self._sync.new_chaincode_events_request(chaincode, **start)
        call = self.gateway.sync.transport.ChaincodeEvents(request._signed_request(), timeout=timeout)
        return EventStream(call, chaincode_events_of(chaincode), "chaincode events")

    def block_events(
        self,
        *,
        kind: str = "block",
        start_block: int | None = None,
        checkpoint: Checkpoint | None = None,
        timeout: float | None = None,
    ) -> EventStream[Any]:
        """Blocks (kind "block"), filtered blocks or blocks with private data, as an async iterator."""
        request = self._sync.new_block_events_request(kind=kind, start_block=start_block, checkpoint=checkpoint)
        call = request._rpc()(iter([request._envelope()]), timeout=timeout)
        return EventStream(call, delivered(kind), f"{kind} events")


class Gateway:
    """The asyncio gateway: options as fabric_gateway.Gateway; `sync` builds and signs the messages."""

    def __init__(self, sync: SyncGateway, channel: grpc.aio.Channel | None = None) -> None:
        self.sync, self._channel = sync, channel

    @classmethod
    def connect(cls, identity: Identity, channel: grpc.aio.Channel, **options: Unpack[GatewayOptions]) -> Gateway:
        return cls(SyncGateway(identity, AioTransport(channel), **options), channel)

    def network(self, name: str) -> Network:
        return Network(self, name)

    def new_signed_proposal(self, data: builtins.bytes, signature: builtins.bytes) -> Proposal:
        return Proposal(self.sync.new_signed_proposal(data, signature))

    def new_signed_transaction(self, data: builtins.bytes, signature: builtins.bytes) -> Transaction:
        return Transaction(self.sync.new_signed_transaction(data, signature))

    def new_signed_commit(self, data: builtins.bytes, signature: builtins.bytes) -> Commit:
        return Commit(self.sync.new_signed_commit(data, signature))

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


__all__ = ["AioTransport", "Commit", "Contract", "EventStream", "Gateway", "Network", "Proposal", "Transaction"]
