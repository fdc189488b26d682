"""The chaincode gRPC server the peer dials (Chaincode.Connect), with mutual TLS.

The server runs on an asyncio event loop in its own thread (see _handler); its public methods
are synchronous, so the process's main thread keeps signal handling.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import grpc
from fabric_protos.peer import chaincode_shim_pb2, chaincode_shim_pb2_grpc

from ._contract import Router
from ._handler import StreamHandler

MAX_MESSAGE = 100 * 1024 * 1024


@dataclass(frozen=True)
class TLSFiles:
    cert: Path
    key: Path
    client_ca: Path  # peers must present a client certificate issued by this CA


class _Servicer(chaincode_shim_pb2_grpc.ChaincodeServicer):  # type: ignore[misc]
    def __init__(self, chaincode_id: str, router: Router) -> None:
        self._chaincode_id = chaincode_id
        self._router = router

    async def Connect(
        self,
        request_iterator: AsyncIterator[chaincode_shim_pb2.ChaincodeMessage],
        context: grpc.aio.ServicerContext,
    ) -> None:
        handler = StreamHandler(self._chaincode_id, self._router, asyncio.get_running_loop())
        await handler.serve(request_iterator, context.write)


class ChaincodeServer:
    def __init__(self, chaincode_id: str, address: str, router: Router, tls: TLSFiles | None) -> None:
        self.address = address
        self._servicer = _Servicer(chaincode_id, router)
        self._tls = tls
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="cc-grpc", daemon=True)
        self._server: grpc.aio.Server | None = None
        self._stopped = threading.Event()

    async def _start(self) -> None:
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
        ]
        server = grpc.aio.server(options=options)
        chaincode_shim_pb2_grpc.add_ChaincodeServicer_to_server(self._servicer, server)
        if self._tls is None:
            port = server.add_insecure_port(self.address)
        else:
            credentials = grpc.ssl_server_credentials(
                [(self._tls.key.read_bytes(), self._tls.cert.read_bytes())],
                root_certificates=self._tls.client_ca.read_bytes(),
                require_client_auth=True,
            )
            port = server.add_secure_port(self.address, credentials)
        if port == 0:
            raise OSError(f"cannot listen on {self.address}")
        await server.start()
        self._server = server

    def start(self) -> None:
        """Listen; raises OSError when the address cannot be bound."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result()

    def wait(self) -> None:
        """Block until stop() has finished."""
        self._stopped.wait()

    def stop_on_signals(self, *signals: signal.Signals) -> None:
        """Stop when one of `signals` (default SIGTERM, SIGINT) arrives. The handler only starts a thread that
        stops: it runs on the main thread, which may be inside wait() holding the event's lock at that moment,
        and stopping in place (which sets that event) would then wait for itself forever."""

        def handler(signum: int, frame: FrameType | None) -> None:
            threading.Thread(target=self.stop, name="chaincode-server-stop").start()

        for chosen in signals or (signal.SIGTERM, signal.SIGINT):
            signal.signal(chosen, handler)

    def stop(self, grace: float = 0.5) -> None:
        """Stop serving (open streams get `grace` seconds), then the loop."""
        if self._stopped.is_set():
            return
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.stop(grace), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._stopped.set()
