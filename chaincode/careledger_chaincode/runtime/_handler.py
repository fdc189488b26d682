"""The chaincode side of the peer's stream (chaincode as a service).

Protocol: the peer dials us and opens Chaincode.Connect; we send REGISTER (our package id), the
peer answers REGISTERED then READY (with the batching features it supports), then TRANSACTION
messages. While a transaction runs it sends GET_STATE, PUT_STATE, ... tagged with its channel and
transaction id, and the peer answers each with RESPONSE or ERROR. It ends with COMPLETED carrying
the Response and the transaction's chaincode event.

Everything runs on one asyncio event loop (grpc.aio): the stream is read and written there, and each
transaction runs there too, in its own greenlet. Contracts stay plain synchronous code: a ledger call
queues its message and switches back to the loop; the peer's reply switches the transaction back in.
Measured against worker threads (a thread hand-off, a queue and a loop wake-up per message), this
cut the chaincode servers' CPU per transaction by about a third; the contract code was never the
cost. Only one transaction computes at a time, as under the GIL anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import greenlet
from fabric_protos.peer import chaincode_pb2, chaincode_shim_pb2, proposal_response_pb2

from ._contract import Router
from ._stub import ChaincodeStub, PeerError, PeerFeatures

log = logging.getLogger("careledger.chaincode")
Msg = chaincode_shim_pb2.ChaincodeMessage  # constructor and message-type constants
Message = Any  # the generated protobuf classes carry no static types

PEER_REPLY_TIMEOUT = 30.0  # the peer's own execute timeout is 30 s by default


class StreamHandler:
    def __init__(self, chaincode_id: str, router: Router, loop: asyncio.AbstractEventLoop) -> None:
        self._chaincode_id = chaincode_id
        self._router = router
        self._loop = loop
        self._outbox: asyncio.Queue[Message | None] = asyncio.Queue()
        self._running: dict[tuple[str, str], greenlet.greenlet] = {}
        self._closed = False
        self.features = PeerFeatures()

    async def serve(self, incoming: AsyncIterator[Message], write: Callable[[Message], Awaitable[None]]) -> None:
        """Run one Chaincode.Connect stream until the peer or the server ends it."""
        register = Msg(
            type=Msg.REGISTER, payload=chaincode_pb2.ChaincodeID(name=self._chaincode_id).SerializeToString()
        )
        self._outbox.put_nowait(register)
        writer = asyncio.create_task(self._write_all(write))
        try:
            async for msg in incoming:
                self._on_message(msg)
        except Exception as exc:  # noqa: BLE001 - a broken stream ends this handler; the peer reconnects
            log.warning("peer stream ended: %s", type(exc).__name__)
        finally:
            self._closed = True
            for transaction in list(self._running.values()):  # no peer will answer them: their calls fail
                transaction.switch(Msg(type=Msg.ERROR, payload=b"stream to the peer closed"))
            writer.cancel()

    async def _write_all(self, write: Callable[[Message], Awaitable[None]]) -> None:
        while True:
            msg = await self._outbox.get()
            if msg is None:
                return
            await write(msg)

    def _on_message(self, msg: Message) -> None:
        kind = msg.type
        if kind in (Msg.RESPONSE, Msg.ERROR):
            transaction = self._running.get((msg.channel_id, msg.txid))
            if transaction is None:
                log.warning("reply for unknown transaction %s dropped", msg.txid[:12])
            else:
                transaction.switch(msg)
        elif kind in (Msg.TRANSACTION, Msg.INIT):
            transaction = greenlet.greenlet(self._run_transaction)
            self._running[msg.channel_id, msg.txid] = transaction
            transaction.switch(msg)
        elif kind == Msg.READY:
            params = chaincode_pb2.ChaincodeAdditionalParams()
            if msg.payload:
                params.ParseFromString(msg.payload)
            self.features = PeerFeatures(
                write_batch=params.use_write_batch,
                max_write_batch=params.max_size_write_batch or 1000,
                get_multiple=params.use_get_multiple_keys,
                max_get_multiple=params.max_size_get_multiple_keys or 1000,
            )
            log.info(
                "peer ready (write batch: %s, get multiple: %s)",
                self.features.write_batch,
                self.features.get_multiple,
            )
        elif kind == Msg.KEEPALIVE:
            self._outbox.put_nowait(msg)
        elif kind == Msg.REGISTERED:
            log.info("registered with the peer as %s", self._chaincode_id.split(":")[0])
        else:
            log.warning("unexpected message %s from the peer", Msg.Type.Name(kind))

    # -- one transaction, in its own greenlet ------------------------------------------------------------
    def _run_transaction(self, msg: Message) -> None:
        key = (msg.channel_id, msg.txid)
        stream = greenlet.getcurrent().parent  # the loop: where a ledger call waits for its reply

        def call(kind: int, payload: bytes) -> bytes:
            if self._closed:
                raise PeerError("stream to the peer closed")
            self._outbox.put_nowait(Msg(type=kind, payload=payload, txid=msg.txid, channel_id=msg.channel_id))
            me = greenlet.getcurrent()
            late = Msg(type=Msg.ERROR, payload=f"no reply from the peer within {PEER_REPLY_TIMEOUT} s".encode())
            timer = self._loop.call_later(PEER_REPLY_TIMEOUT, me.switch, late)
            try:
                reply = stream.switch()
            finally:
                timer.cancel()
            if reply.type == Msg.ERROR:
                raise PeerError(reply.payload.decode(errors="replace"))
            if reply.type != Msg.RESPONSE:
                raise PeerError(f"unexpected {Msg.Type.Name(reply.type)} in reply to {Msg.Type.Name(kind)}")
            return bytes(reply.payload)

        event = None
        try:
            stub = ChaincodeStub(msg, call, self.features)
            outcome = self._router.dispatch(stub)  # answers every failure itself; it never raises
            response = proposal_response_pb2.Response(
                status=outcome.status, message=outcome.message, payload=outcome.payload
            )
            event = stub.event if outcome.status < 400 else None
        except Exception as exc:  # noqa: BLE001 - a malformed proposal still gets an answer
            response = proposal_response_pb2.Response(
                status=400, message=f"INVALID_ARGUMENT: bad proposal ({type(exc).__name__})"
            )
        finally:
            self._running.pop(key, None)
        done = Msg(type=Msg.COMPLETED, payload=response.SerializeToString(), txid=msg.txid, channel_id=msg.channel_id)
        if event is not None:
            done.chaincode_event.CopyFrom(event)
        self._outbox.put_nowait(done)
