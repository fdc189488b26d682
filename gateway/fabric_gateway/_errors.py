"""The exception tree of fabric_gateway.

GatewayError                 anything that went wrong talking to a Fabric Gateway; carries the transaction id
├── EndorseError             the proposal was not endorsed, or the evaluation failed
├── SubmitError              the orderer did not accept the endorsed transaction
├── CommitStatusError        the commit status could not be obtained
├── CommitError              the transaction was committed, but invalid (carries the validation code)
└── EventsError              an event stream (chaincode or block events) failed

Every GatewayError but CommitError carries the gRPC status name and what each peer said (`details`).
"""

from __future__ import annotations

from typing import NamedTuple, TypedDict


class PeerMessage(NamedTuple):
    """What one peer said about a failed request (the gateway's ErrorDetail)."""

    address: str
    msp_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.address} ({self.msp_id}): {self.message}"


class GatewayContext(TypedDict, total=False):
    """What a GatewayError tells beside its message (the arguments of GatewayError after the message)."""

    transaction_id: str
    grpc_status: str
    details: tuple[PeerMessage, ...]


class GatewayError(Exception):
    def __init__(
        self, message: str, transaction_id: str = "", grpc_status: str = "", details: tuple[PeerMessage, ...] = ()
    ) -> None:
        super().__init__(message + "".join(f"\n  {d}" for d in details))
        self.transaction_id = transaction_id
        self.grpc_status = grpc_status  # a grpc.StatusCode name, e.g. "ABORTED"; "" when no call failed
        self.details = details


class EndorseError(GatewayError):
    pass


class SubmitError(GatewayError):
    pass


class CommitStatusError(GatewayError):
    pass


class EventsError(GatewayError):
    pass


class CommitError(GatewayError):
    """The transaction is in a block but was marked invalid: `validation_code` is its TxValidationCode name."""

    def __init__(self, message: str, transaction_id: str, validation_code: str, block_number: int) -> None:
        super().__init__(message, transaction_id)
        self.validation_code = validation_code
        self.block_number = block_number
