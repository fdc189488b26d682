"""Where a failed gRPC call becomes the package's exception: the one place a chaincode's refusal (its
"chaincode response <status>, <CODE>: <reason>" as the peers report it) is recognised, into the
ChaincodeRefusal subclass of its code (careledger.errors)."""

from __future__ import annotations

import re

import grpc
from fabric_protos.gateway import gateway_pb2
from google.rpc import status_pb2

from ..errors import REFUSALS, EndorseError, GatewayError, PeerMessage

# How a peer reports a chaincode's answer: "chaincode response <status>, <CODE>: <reason>".
_CHAINCODE_ANSWER = re.compile(r"chaincode response \d{3}, ([A-Z][A-Z_]{3,}): (.*)", re.DOTALL)


def _chaincode_answer(details: tuple[PeerMessage, ...], text: str) -> tuple[str, str] | None:
    """(code, reason) of the chaincode's refusal in what the peers said, or None."""
    for message in (*(d.message for d in details), text):
        match = _CHAINCODE_ANSWER.search(message)
        if match:
            return match.group(1), match.group(2).strip()
    return None


def _details(exc: grpc.RpcError) -> tuple[PeerMessage, ...]:
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


def wrap_rpc_error(kind: type[GatewayError], what: str, tx_id: str, exc: grpc.RpcError) -> GatewayError:
    code = exc.code().name if hasattr(exc, "code") else "UNKNOWN"
    text = exc.details() if hasattr(exc, "details") else str(exc)
    details = _details(exc)
    message = f"{what} failed for transaction {tx_id}: {code}: {text}"
    answer = _chaincode_answer(details, text or "") if kind is EndorseError else None
    if answer is not None and answer[0] in REFUSALS:  # the one place a refusal's code is read
        return REFUSALS[answer[0]](message, answer[1], transaction_id=tx_id, grpc_status=code, details=details)
    return kind(message, tx_id, code, details)
