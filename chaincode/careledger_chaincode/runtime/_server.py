"""The chaincode gRPC server the peer dials (Chaincode.Connect), with mutual TLS."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

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
    def __init__(self, chaincode_id: str, router: Router, workers: ThreadPoolExecutor) -> None:
        self._chaincode_id = chaincode_id
        self._router = router
        self._workers = workers

    def Connect(
        self, request_iterator: Iterator[chaincode_shim_pb2.ChaincodeMessage], context: grpc.ServicerContext
    ) -> Iterator[chaincode_shim_pb2.ChaincodeMessage]:
        handler = StreamHandler(self._chaincode_id, self._router, self._workers)
        context.add_callback(handler.close)  # unblocks the generator when the RPC ends from our side
        yield from handler.run(request_iterator)


class ChaincodeServer:
    def __init__(
        self, chaincode_id: str, address: str, router: Router, tls: TLSFiles | None, workers: int = 32
    ) -> None:
        self.address = address
        self._workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cc-tx")
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
        ]
        # Each peer connection holds one server thread for its stream; transactions run on `_workers`.
        self._server = grpc.server(ThreadPoolExecutor(max_workers=16, thread_name_prefix="cc-stream"), options=options)
        chaincode_shim_pb2_grpc.add_ChaincodeServicer_to_server(
            _Servicer(chaincode_id, router, self._workers), self._server
        )
        if tls is None:
            port = self._server.add_insecure_port(address)
        else:
            credentials = grpc.ssl_server_credentials(
                [(tls.key.read_bytes(), tls.cert.read_bytes())],
                root_certificates=tls.client_ca.read_bytes(),
                require_client_auth=True,
            )
            port = self._server.add_secure_port(address, credentials)
        if port == 0:
            raise OSError(f"cannot listen on {address}")

    def start(self) -> None:
        self._server.start()

    def wait(self) -> None:
        self._server.wait_for_termination()

    def stop(self, grace: float = 0.5) -> None:
        self._server.stop(grace).wait()
        self._workers.shutdown(wait=False, cancel_futures=True)
