"""No endpoint of the network accepts plaintext: every port in the consortium definition refuses an
unencrypted request (no HTTP answer, no HTTP/2 frames), and a plaintext gRPC call to a peer fails."""

from __future__ import annotations

import socket

import grpc
import pytest
from careledger_network.consortium import Consortium
from careledger_network.network import Network
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc

pytestmark = pytest.mark.network


def _plaintext_answer(port: int) -> bytes:
    """What a port answers to a plaintext HTTP/1.1 request and an HTTP/2 preface (b"" when it hangs up,
    or when nothing listens there: the web apps run only when started)."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=3)
    except ConnectionRefusedError:
        return b""
    with sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        try:
            return sock.recv(256)
        except (TimeoutError, ConnectionResetError):
            return b""


def test_every_port_refuses_plaintext(network: Network, consortium: Consortium) -> None:
    ports = consortium.all_ports()
    assert len(ports) == 38  # with the researcher and auditor apps, and the two stores' replica servers
    served = []
    for port, what in sorted(ports.items()):
        answer = _plaintext_answer(port)
        # Go's TLS servers answer a plaintext request with 400 "Client sent an HTTP request to an HTTPS
        # server": that is a refusal. Any other HTTP answer would mean plaintext is served.
        is_http = answer.startswith(b"HTTP/") and b"HTTP request to an HTTPS server" not in answer
        is_http2_frame = len(answer) >= 9 and answer[3] in (0x04, 0x07)  # SETTINGS or GOAWAY
        if is_http or is_http2_frame:
            served.append(f"{port} ({what}): {answer[:40]!r}")
    assert served == [], "plaintext accepted by: " + "; ".join(served)


def test_a_plaintext_grpc_call_to_a_peer_fails(consortium: Consortium) -> None:
    peer = consortium.peers[0]
    with grpc.insecure_channel(peer.address) as channel:
        stub = gateway_pb2_grpc.GatewayStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.Evaluate(gateway_pb2.EvaluateRequest(channel_id="careledger"), timeout=3)
    assert info.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def test_the_check_catches_a_plaintext_server() -> None:
    """Control: a plaintext HTTP server on loopback is recognised as serving plaintext."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.handle_request, daemon=True).start()
    try:
        answer = _plaintext_answer(server.server_address[1])
    finally:
        server.server_close()
    assert answer.startswith(b"HTTP/1.0 200")
