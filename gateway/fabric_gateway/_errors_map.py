"""Where a failed gRPC call becomes the package's exception, with the gRPC status and what each peer said."""

from __future__ import annotations

from typing import TypeVar

import grpc
from fabric_protos.gateway import gateway_pb2
from google.rpc import status_pb2

from ._errors import GatewayError, PeerMessage

E = TypeVar("E", bound=GatewayError)


def peer_messages(exc: grpc.RpcError) -> tuple[PeerMessage, ...]:
    """The gateway's per-peer ErrorDetails, from the call's rich status (grpc-status-details-bin)."""
    found: list[PeerMessage] = []
    for key, value in getattr(exc, "trailing_metadata", lambda: ())() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status()
        status.ParseFromString(value)
        for any_detail in status.details:
            detail = gateway_pb2.ErrorDetail()
            if any_detail.Unpack(detail):
                found.append(PeerMessage(detail.address, detail.msp_id, detail.message))
    return tuple(found)


def wrap_rpc_error(kind: type[E], what: str, tx_id: str, exc: grpc.RpcError) -> E:
    code = exc.code().name if hasattr(exc, "code") else "UNKNOWN"
    text = exc.details() if hasattr(exc, "details") else str(exc)
    subject = f" for transaction {tx_id}" if tx_id else ""
    return kind(f"{what} failed{subject}: {code}: {text}", tx_id, code, peer_messages(exc))
